/**
 * Loopback addresses of the benchmark and the port space they give (issue 13 §6).
 *
 * Linux picks a connect()'s source port for the whole 4-tuple and tries even ports first; odd
 * ones only once every even port is taken. On loopback with `tcp_tw_reuse=2` a port in
 * TIME_WAIT is taken again once it is `tcp_tw_reuse_delay` (1 s) old, so an even port is nearly
 * always found: one (source address, destination address:port) pair carries about
 * 14,116 new connections/s with the default range 32768–60999 (28,232 ports, half of them even).
 * Measured here: one load generator against one C echo, no proxy at all, stopped at 14,068/s
 * with 14,080 even and 198 odd ports in TIME_WAIT; four source addresses reached 25,000/s.
 *
 * Before, the client→proxy leg was a single pair, so the gateway, HAProxy and nginx all stopped at
 * 14,076/s, and direct (80 % of its connections to one backend) at 14,076 / 0.8 = 17,600/s.
 * Now the load generator spreads over several source addresses (bind before connect,
 * IP_BIND_ADDRESS_NO_PORT) and each backend listens on several addresses, which every peer's
 * configuration lists (the proxies connect from 127.0.0.1, one pair per backend address).
 * Sysctls stay as they are: CI cannot change them.
 */
import { readFileSync } from "node:fs";

/** Where every proxy listens (and what the half-close and reload probes connect to). */
export const LISTEN_HOST = "127.0.0.1";

/** Source addresses of the load generator: connections are spread evenly per target. */
export const SOURCE_HOSTS: readonly string[] = ["127.0.2.1", "127.0.2.2", "127.0.2.3", "127.0.2.4"];

/**
 * Addresses every echo backend listens on; each proxy gets all of them as endpoints of a version
 * (4 per version), so its backend side has 4 pairs per version.
 */
export const BACKEND_HOSTS: readonly string[] = [
  "127.0.1.1",
  "127.0.1.2",
  "127.0.1.3",
  "127.0.1.4",
];

/** The kernel settings that bound new connections per address pair. */
export interface PortSpace {
  /** `net.ipv4.ip_local_port_range`. */
  from: number;
  to: number;
  /** `net.ipv4.tcp_tw_reuse` (2: loopback only). */
  twReuse: number;
  /** `net.ipv4.tcp_tw_reuse_delay` in ms (1000 where the kernel has no such setting). */
  reuseDelayMs: number;
}

/** The port range of `ip_local_port_range` (`"32768\t60999"`). */
export function parsePortRange(text: string): { from: number; to: number } {
  const [from, to] = text.trim().split(/\s+/).map(Number);
  if (from === undefined || to === undefined || !(from > 0) || !(to >= from))
    throw new Error(`not a port range: ${JSON.stringify(text)}`);
  return { from, to };
}

/**
 * New connections per second one (source, destination) pair can carry when connect() finds an
 * even port in TIME_WAIT old enough to reuse: the even ports of the range per reuse delay.
 * Without TIME_WAIT reuse it is the whole range per 60 s.
 */
export function pairConnectionsPerSecond(space: PortSpace): number {
  const ports = space.to - space.from + 1;
  if (space.twReuse === 0) return ports / 60;
  const even = Math.floor(space.to / 2) - Math.floor((space.from - 1) / 2);
  return even / (space.reuseDelayMs / 1000);
}

function readNumber(path: string, fallback: number): number {
  try {
    const value = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

/** This machine's port space (Linux /proc; defaults where a file is missing). */
export function readPortSpace(): PortSpace {
  let range = { from: 32768, to: 60999 };
  try {
    range = parsePortRange(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8"));
  } catch {
    // keep the kernel default
  }
  return {
    ...range,
    twReuse: readNumber("/proc/sys/net/ipv4/tcp_tw_reuse", 2),
    reuseDelayMs: readNumber("/proc/sys/net/ipv4/tcp_tw_reuse_delay", 1000),
  };
}

/** How a peer's connections spread over address pairs. */
export interface PairLayout {
  /** Load generator source addresses. */
  sources: number;
  /** Addresses per backend (each version has its own port on every address). */
  backendHosts: number;
  /** Share of connections of the busiest version (0.8 for 80/20). */
  busiestShare: number;
  /** Direct: the load generator connects to the backends itself. */
  direct: boolean;
}

/**
 * Rate of the busiest address pair at `rate` new connections/s. Proxied: the client→proxy
 * pairs (one per source) and the proxy→backend pairs (one per backend address of the busiest
 * version, from 127.0.0.1). Direct: one pair per source and backend address of that version.
 */
export function busiestPairRate(rate: number, layout: PairLayout): number {
  const toBusiestVersion = rate * layout.busiestShare;
  if (layout.direct) return toBusiestVersion / (layout.sources * layout.backendHosts);
  return Math.max(rate / layout.sources, toBusiestVersion / layout.backendHosts);
}
