/**
 * The PROXY protocol (HAProxy's spec, versions 1 and 2): a load balancer in front of the gateway
 * (a CLB with PROXY protocol on, Envoy, HAProxy) starts every connection with a header carrying
 * the original client address. With `proxyProtocol: true` on a listener the gateway reads that
 * header before anything else, takes the source address from it (for `sticky` and logs), and
 * does not forward it to the backend.
 *
 * - v1: one text line, at most 107 bytes: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (TCP6
 *   likewise; `PROXY UNKNOWN ...\r\n`: the connection's own peer address is used).
 * - v2: a 12-byte signature, version/command, family/protocol, a 16-bit length, the addresses
 *   (IPv4: 12 bytes, IPv6: 36), then optional TLVs (skipped). The LOCAL command (the load
 *   balancer's own health checks) and the UNSPEC/UNIX families use the connection's own peer.
 *
 * The header may arrive split across reads: `parseProxyHeader` says `incomplete` until it has
 * all of it. Anything that cannot be the start of a header is `invalid` as soon as one byte
 * shows it. Headers are bounded by `PROXY_HEADER_MAX_BYTES`, and by a time limit kept by the
 * gateway (`PROXY_HEADER_TIMEOUT_MS`).
 */
import { isIPv4, isIPv6, SocketAddress } from "node:net";

/** Longest header accepted (v2 with TLVs); v1 is at most 107 bytes by the spec. */
export const PROXY_HEADER_MAX_BYTES = 4096;
/** Longest v1 header, CRLF included. */
export const PROXY_V1_MAX_BYTES = 107;
/** Time a client has to send its whole header. */
export const PROXY_HEADER_TIMEOUT_MS = 3_000;

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V2_FIXED_BYTES = 16;

/** The client address a header carries. */
export interface ProxySource {
  address: string;
  port: number;
}

/** What `parseProxyHeader` found in the bytes received so far. */
export type ProxyParse =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  /**
   * A whole header of `length` bytes (what follows belongs to the client's stream). `source`
   * undefined: LOCAL or UNKNOWN, use the connection's own peer address.
   */
  | { kind: "header"; version: 1 | 2; length: number; source: ProxySource | undefined };

const INCOMPLETE: ProxyParse = { kind: "incomplete" };

/** Whether `data` is a prefix of `expected` (or the other way round). */
function startsLike(data: Buffer, expected: Buffer): boolean {
  const length = Math.min(data.length, expected.length);
  return data.subarray(0, length).equals(expected.subarray(0, length));
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(data: Buffer): ProxyParse {
  const end = data.indexOf("\r\n", 0, "latin1");
  if (end === -1) {
    if (data.length >= PROXY_V1_MAX_BYTES)
      return { kind: "invalid", reason: `v1 header without CRLF in ${PROXY_V1_MAX_BYTES} bytes` };
    return INCOMPLETE;
  }
  const length = end + 2;
  if (length > PROXY_V1_MAX_BYTES)
    return { kind: "invalid", reason: `v1 header longer than ${PROXY_V1_MAX_BYTES} bytes` };
  const parts = data.toString("latin1", 0, end).split(" ");
  const protocol = parts[1];
  if (protocol === "UNKNOWN") return { kind: "header", version: 1, length, source: undefined };
  if (parts.length !== 6 || (protocol !== "TCP4" && protocol !== "TCP6"))
    return { kind: "invalid", reason: "v1 header is not PROXY TCP4|TCP6 src dst sport dport" };
  const [, , source, destination, sourcePort, destinationPort] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const isAddress = protocol === "TCP4" ? isIPv4 : isIPv6;
  if (!isAddress(source) || !isAddress(destination))
    return { kind: "invalid", reason: `v1 header has an address that is not ${protocol}` };
  for (const port of [sourcePort, destinationPort])
    if (!PORT.test(port) || Number(port) > 65535)
      return { kind: "invalid", reason: "v1 header has a port outside 0-65535" };
  return {
    kind: "header",
    version: 1,
    length,
    source: { address: source, port: Number(sourcePort) },
  };
}

function ipv6At(data: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(data.readUInt16BE(offset + 2 * i).toString(16));
  // Canonical text (zeros compressed), so one client always hashes the same.
  return new SocketAddress({ address: groups.join(":"), family: "ipv6" }).address;
}

function parseV2(data: Buffer): ProxyParse {
  if (data.length < V2_FIXED_BYTES) return INCOMPLETE;
  const versionCommand = data[12] as number;
  if (versionCommand >> 4 !== 2)
    return { kind: "invalid", reason: `v2 header with version ${versionCommand >> 4}` };
  const command = versionCommand & 0x0f;
  if (command > 1) return { kind: "invalid", reason: `v2 header with command ${command}` };
  const familyProtocol = data[13] as number;
  const length = V2_FIXED_BYTES + data.readUInt16BE(14);
  if (length > PROXY_HEADER_MAX_BYTES)
    return {
      kind: "invalid",
      reason: `v2 header of ${length} bytes (at most ${PROXY_HEADER_MAX_BYTES})`,
    };
  if (data.length < length) return INCOMPLETE;
  // LOCAL: the balancer speaking for itself (health checks); the addresses are to be ignored.
  if (command === 0) return { kind: "header", version: 2, length, source: undefined };
  const family = familyProtocol >> 4;
  const addressBytes = length - V2_FIXED_BYTES;
  if (family === 1) {
    if (addressBytes < 12) return { kind: "invalid", reason: "v2 IPv4 header too short" };
    const address = `${data[16]}.${data[17]}.${data[18]}.${data[19]}`;
    return { kind: "header", version: 2, length, source: { address, port: data.readUInt16BE(24) } };
  }
  if (family === 2) {
    if (addressBytes < 36) return { kind: "invalid", reason: "v2 IPv6 header too short" };
    const source = { address: ipv6At(data, 16), port: data.readUInt16BE(48) };
    return { kind: "header", version: 2, length, source };
  }
  // UNSPEC or a UNIX socket: no IP address to use.
  return { kind: "header", version: 2, length, source: undefined };
}

/** Parse the PROXY header at the start of `data` (everything received from the client so far). */
export function parseProxyHeader(data: Buffer): ProxyParse {
  if (data.length === 0) return INCOMPLETE;
  if (data[0] === 0x50) {
    if (!startsLike(data, V1_PREFIX))
      return { kind: "invalid", reason: "no PROXY protocol header" };
    return data.length < V1_PREFIX.length ? INCOMPLETE : parseV1(data);
  }
  if (data[0] === 0x0d) {
    if (!startsLike(data, V2_SIGNATURE))
      return { kind: "invalid", reason: "no PROXY protocol header" };
    return data.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(data);
  }
  return { kind: "invalid", reason: "no PROXY protocol header" };
}

/**
 * Accumulates a client's first bytes until its PROXY header is complete. Small: one Buffer
 * concatenation per read, and headers are usually read in one piece.
 */
export class ProxyHeaderBuffer {
  private received: Buffer | undefined;

  /** Add bytes read (copied: the caller's buffer may be reused) and parse what is there. */
  push(chunk: Buffer): ProxyParse {
    this.received = this.received ? Buffer.concat([this.received, chunk]) : Buffer.from(chunk);
    return parseProxyHeader(this.received);
  }

  /** The bytes after a header of `length` bytes: the start of the client's stream. */
  rest(length: number): Buffer | undefined {
    const received = this.received;
    this.received = undefined;
    return received && received.length > length ? received.subarray(length) : undefined;
  }
}

/**
 * A v2 header for `source` → `destination` (both IPv4 or both IPv6), or the LOCAL command when
 * they are undefined: the inverse of `parseProxyHeader`, for clients and tests that speak for a
 * load balancer.
 */
export function proxyV2Header(
  source: ProxySource | undefined,
  destination: ProxySource | undefined,
): Buffer {
  if (!source || !destination) {
    const local = Buffer.alloc(V2_FIXED_BYTES);
    V2_SIGNATURE.copy(local);
    local[12] = 0x20;
    return local;
  }
  const ipv6 = isIPv6(source.address);
  const addressBytes = ipv6 ? 36 : 12;
  const header = Buffer.alloc(V2_FIXED_BYTES + addressBytes);
  V2_SIGNATURE.copy(header);
  header[12] = 0x21; // version 2, PROXY
  header[13] = ipv6 ? 0x21 : 0x11; // INET6 or INET, STREAM
  header.writeUInt16BE(addressBytes, 14);
  const write = (address: string, offset: number): void => {
    if (!ipv6) {
      address.split(".").forEach((octet, i) => {
        header[offset + i] = Number(octet);
      });
      return;
    }
    // Expand `::` to the eight groups.
    const [head = "", tail] = address.split("::");
    const left = head ? head.split(":") : [];
    const right = tail ? tail.split(":") : [];
    const groups = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
    groups.forEach((group, i) => {
      header.writeUInt16BE(Number.parseInt(group as string, 16), offset + 2 * i);
    });
  };
  const size = ipv6 ? 16 : 4;
  write(source.address, 16);
  write(destination.address, 16 + size);
  header.writeUInt16BE(source.port, 16 + 2 * size);
  header.writeUInt16BE(destination.port, 18 + 2 * size);
  return header;
}
