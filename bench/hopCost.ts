/**
 * The cost of the extra hop that `splitter: gateway` adds. In that mode the mesh's ingress Envoy
 * forwards every connection on a fixed route to the gateway's Service, and the gateway picks the
 * version; without it Envoy picks the version itself. Modelled on loopback, with HAProxy standing
 * in for the ingress Envoy (no Envoy here):
 *
 *   via gateway:  client → HAProxy (one fixed upstream: the gateway) → gateway (80/20) → echo
 *   one hop:      client → HAProxy (80/20 over the same echo backends)              → echo
 *
 * Not modelled: pod-to-pod network latency and kube-proxy between Envoy and the gateway (in a
 * cluster the extra hop also crosses the node network, unless the gateway runs on the same
 * node), Envoy's own cost, sidecars. Both setups get the same address pairs: the front HAProxy
 * reaches the gateway from 4 source addresses (`source` per server line).
 */
import { type LoadgenResult, runLoadgen } from "./loadgen";
import {
  haproxyConfig,
  haproxyTcpConfig,
  type PeerContext,
  type RunningPeer,
  startGateway,
  startHaproxy,
} from "./peers";
import { treeUsage } from "./procStats";
import { median, roundOrder, type Spread, spread } from "./report";

/** Source addresses of the front HAProxy towards the gateway (one server line each). */
export const FRONT_SOURCES: readonly string[] = [
  "127.0.3.1",
  "127.0.3.2",
  "127.0.3.3",
  "127.0.3.4",
];

/** Phase lengths of the hop measurement. */
export interface HopPlan {
  rounds: number;
  rateSec: number;
  conn50Sec: number;
}

export const HOP_PLAN: HopPlan = { rounds: 4, rateSec: 3, conn50Sec: 3 };
export const QUICK_HOP_PLAN: HopPlan = { rounds: 1, rateSec: 1, conn50Sec: 1 };

/** HAProxy as the ingress proxy with one fixed upstream: the gateway (`source` per line). */
export function frontConfig(port: number, gateway: string, maxconn: number): string {
  const servers = FRONT_SOURCES.map(
    (source, i) => `  server gateway-${i + 1} ${gateway} source ${source} weight 1`,
  ).join("\n");
  return haproxyTcpConfig(port, maxconn, { frontend: "ingress", backend: "gateway" }, servers);
}

/** One setup, one round. */
export interface HopSample {
  setup: "via-gateway" | "one-hop";
  round: number;
  p50At1000: number;
  p99At1000: number;
  p50At3000: number;
  p99At3000: number;
  connRate50: number;
  /** CPU per connection over the 50-concurrent phase, µs: front HAProxy, gateway, both. */
  frontCpuUs: number;
  gatewayCpuUs?: number;
  proxiesCpuUs: number;
  errors: number;
}

async function measureSetup(
  setup: HopSample["setup"],
  round: number,
  ctx: PeerContext,
  plan: HopPlan,
): Promise<HopSample> {
  const maxconn = 5000;
  const gateway = setup === "via-gateway" ? await startGateway(ctx) : undefined;
  let front: RunningPeer | undefined;
  try {
    front = await startHaproxy(ctx, (port) =>
      gateway
        ? frontConfig(port, gateway.targets[0] as string, maxconn)
        : haproxyConfig(port, ctx.backends, maxconn),
    );
    const targets = front.targets;
    const label = `hop ${setup} round ${round + 1}`;
    const run = (what: string, args: Parameters<typeof runLoadgen>[0]) =>
      runLoadgen({ ...args, allowErrors: true }, `${label} ${what}`);
    await run("warm-up", { mode: "conn", targets, concurrency: 50, durationSec: 0.5 });
    const cpu = (pid: number | undefined) => (pid ? treeUsage(pid).cpuSeconds : 0);
    const frontBefore = cpu(front.pid);
    const gatewayBefore = cpu(gateway?.pid);
    const conn50 = await run("c=50", {
      mode: "conn",
      targets,
      concurrency: 50,
      durationSec: plan.conn50Sec,
    });
    const frontUs = ((cpu(front.pid) - frontBefore) * 1e6) / conn50.ok;
    const gatewayUs = gateway ? ((cpu(gateway.pid) - gatewayBefore) * 1e6) / conn50.ok : undefined;
    const rate = (perSecond: number): Promise<LoadgenResult> =>
      run(`rate ${perSecond}/s`, {
        mode: "rate",
        targets,
        rate: perSecond,
        durationSec: plan.rateSec,
      });
    const at1000 = await rate(1000);
    const at3000 = await rate(3000);
    return {
      setup,
      round,
      p50At1000: at1000.latencyUs.p50,
      p99At1000: at1000.latencyUs.p99,
      p50At3000: at3000.latencyUs.p50,
      p99At3000: at3000.latencyUs.p99,
      connRate50: conn50.connPerSec,
      frontCpuUs: frontUs,
      gatewayCpuUs: gatewayUs,
      proxiesCpuUs: frontUs + (gatewayUs ?? 0),
      errors: conn50.errors + at1000.errors + at3000.errors,
    };
  } finally {
    await front?.stop();
    await gateway?.stop();
  }
}

/** What the extra hop adds: per-round differences (via gateway − one hop), median (min–max). */
export interface HopCost {
  rounds: number;
  addedP50At1000Us?: Spread;
  addedP99At1000Us?: Spread;
  addedP50At3000Us?: Spread;
  addedP99At3000Us?: Spread;
  /** The gateway's own CPU per connection in the chain. */
  gatewayCpuUs?: Spread;
  /** Both proxies' CPU per connection minus the one-hop HAProxy's. */
  addedCpuUs?: Spread;
  /** New connections/s at 50 concurrent, via gateway / one hop. */
  connRate50Ratio?: Spread;
  viaGateway: { p50At1000?: number; p99At1000?: number; connRate50?: number };
  oneHop: { p50At1000?: number; p99At1000?: number; connRate50?: number };
  errors: number;
}

/** Summarise per-round pairs of samples (pure). */
export function summarizeHop(samples: readonly HopSample[]): HopCost {
  const rounds = [...new Set(samples.map((s) => s.round))];
  const pairs = rounds
    .map((round) => ({
      via: samples.find((s) => s.round === round && s.setup === "via-gateway"),
      one: samples.find((s) => s.round === round && s.setup === "one-hop"),
    }))
    .filter((p): p is { via: HopSample; one: HopSample } => !!p.via && !!p.one);
  const diff = (key: keyof HopSample) =>
    spread(pairs.map(({ via, one }) => (via[key] as number) - (one[key] as number)));
  const of = (setup: HopSample["setup"], key: keyof HopSample) =>
    median(samples.filter((s) => s.setup === setup).map((s) => s[key] as number));
  return {
    rounds: pairs.length,
    addedP50At1000Us: diff("p50At1000"),
    addedP99At1000Us: diff("p99At1000"),
    addedP50At3000Us: diff("p50At3000"),
    addedP99At3000Us: diff("p99At3000"),
    gatewayCpuUs: spread(pairs.map(({ via }) => via.gatewayCpuUs)),
    addedCpuUs: diff("proxiesCpuUs"),
    connRate50Ratio: spread(pairs.map(({ via, one }) => via.connRate50 / one.connRate50)),
    viaGateway: {
      p50At1000: of("via-gateway", "p50At1000"),
      p99At1000: of("via-gateway", "p99At1000"),
      connRate50: of("via-gateway", "connRate50"),
    },
    oneHop: {
      p50At1000: of("one-hop", "p50At1000"),
      p99At1000: of("one-hop", "p99At1000"),
      connRate50: of("one-hop", "connRate50"),
    },
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
  };
}

/** Measure both setups `plan.rounds` times, alternating which goes first. */
export async function measureHopCost(
  ctx: (label: string) => PeerContext,
  plan: HopPlan,
  log: (line: string) => void,
): Promise<{ samples: HopSample[]; cost: HopCost }> {
  const samples: HopSample[] = [];
  const setups: HopSample["setup"][] = ["via-gateway", "one-hop"];
  for (let round = 0; round < plan.rounds; round++) {
    for (const setup of roundOrder(setups, round)) {
      const sample = await measureSetup(setup, round, ctx(setup), plan);
      log(
        `  hop ${setup.padEnd(11)} round ${round + 1}: p50/p99 @1000 ${sample.p50At1000.toFixed(0)}/${sample.p99At1000.toFixed(0)} µs, ` +
          `c50 ${sample.connRate50.toFixed(0)}/s, proxies ${sample.proxiesCpuUs.toFixed(1)} µs/conn`,
      );
      samples.push(sample);
    }
  }
  return { samples, cost: summarizeHop(samples) };
}
