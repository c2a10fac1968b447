/**
 * `npm run verify`: measure how a TCP address splits new connections between two tcp-echo
 * versions. Each connection sends one line and classifies the reply by its prefix
 * (`one <line>` is v1, `two <line>` is v2), as the ASM tutorial does by hand with `nc`.
 *
 * This module is the probe; `verifyArgs.ts` parses the command line, `verifyReport.ts` judges
 * and formats, `verifyCli.ts` runs them, and `verifyMain.ts` wires that to the process.
 */

import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { DEFAULT_PREFIXES, type VersionPrefixes } from "../../contract/versions";

/** A reply longer than this is not tcp-echo's; stop buffering instead of growing forever. */
const MAX_REPLY_BYTES = 64 * 1024;

/** Options of `runVerify`. */
export interface VerifyOptions {
  /** Address under test (the gateway, the CLB). */
  host: string;
  port: number;
  /** New connections to open in total. */
  connections: number;
  /** Connections open at the same time. */
  concurrency: number;
  /** Per connection: connect, send and full reply within this long, else it counts as failed. */
  timeoutMs: number;
  /** @default DEFAULT_PREFIXES */
  prefixes?: VersionPrefixes;
  /** Called after each connection finishes (progress display). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Where a failed probe stopped: `connect`, before the TCP connection was established (refused,
 * unreachable, no SYN-ACK in time: the address itself, before any version is chosen), or
 * `reply`, once connected, while waiting for the answer (reset, closed, too slow, wrong reply:
 * what a version does).
 */
export type ProbePhase = "connect" | "reply";

/** What one connection ended with. */
export type ProbeOutcome =
  | { kind: "v1" | "v2"; latencyMs: number }
  | {
      kind: "error";
      phase: ProbePhase;
      /**
       * `ECONNREFUSED`, `ECONNRESET`, ... (the error code), `connect timeout`, `reply timeout`,
       * `closed before reply`, `unexpected reply`.
       */
      reason: string;
      detail?: string;
    };

/** Everything verify measured, before judging it. */
export interface VerifyResult {
  host: string;
  port: number;
  prefixes: VersionPrefixes;
  /** Connections attempted. */
  attempted: number;
  /** Connections answered by each version. */
  counts: { v1: number; v2: number };
  /** Failed connections. */
  failed: number;
  /**
   * Failed connections by reason (`ECONNREFUSED`, `connect timeout`, `reply timeout`,
   * `closed before reply`, `unexpected reply`, ...).
   */
  errors: Record<string, number>;
  /** The first unexpected reply seen, to show what answered instead of tcp-echo. */
  unexpectedReply?: string;
  /** Connect-to-reply latency of each answered connection, in completion order. */
  latenciesMs: number[];
  /** Wall time of the whole run. */
  durationMs: number;
}

/**
 * Open `connections` new connections, at most `concurrency` at once, and count which version
 * answered each. Never rejects for network trouble: failures are counted by reason.
 */
export async function runVerify(options: VerifyOptions): Promise<VerifyResult> {
  const prefixes = options.prefixes ?? DEFAULT_PREFIXES;
  const result: VerifyResult = {
    host: options.host,
    port: options.port,
    prefixes,
    attempted: options.connections,
    counts: { v1: 0, v2: 0 },
    failed: 0,
    errors: {},
    latenciesMs: [],
    durationMs: 0,
  };
  const started = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < options.connections) {
      const sequence = ++next;
      const outcome = await probeOnce(options, prefixes, sequence);
      if (outcome.kind === "error") {
        result.failed++;
        result.errors[outcome.reason] = (result.errors[outcome.reason] ?? 0) + 1;
        if (outcome.reason === UNEXPECTED_REPLY && result.unexpectedReply === undefined)
          result.unexpectedReply = outcome.detail;
      } else {
        result.counts[outcome.kind]++;
        result.latenciesMs.push(outcome.latencyMs);
      }
      options.onProgress?.(++done, options.connections);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, options.connections));
  await Promise.all(Array.from({ length: workers }, worker));
  result.durationMs = performance.now() - started;
  return result;
}

const UNEXPECTED_REPLY = "unexpected reply";

/**
 * One connection: send `verify <n> <time>\n`, read one line back. The reply must be exactly
 * `<prefix> <line>`: a reply that echoes something else is not a tcp-echo answer to this probe.
 * A failure says its phase: before the connection was established, or waiting for the reply
 * (`timeoutMs` covers both: a timeout is `connect timeout` or `reply timeout`).
 */
export function probeOnce(
  target: Pick<VerifyOptions, "host" | "port" | "timeoutMs">,
  prefixes: VersionPrefixes,
  sequence: number,
): Promise<ProbeOutcome> {
  const line = `verify ${sequence} ${new Date().toISOString()}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let phase: ProbePhase = "connect";
    const fail = (reason: string, detail?: string) =>
      finish({ kind: "error", phase, reason, ...(detail === undefined ? {} : { detail }) });
    const finish = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The reply has been read in full, so closing sends a FIN, not a reset.
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => fail(`${phase} timeout`), target.timeoutMs);
    socket.on("connect", () => {
      phase = "reply";
      socket.write(`${line}\n`);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const end = chunk.indexOf(0x0a);
      if (end === -1) {
        if (size > MAX_REPLY_BYTES) fail(UNEXPECTED_REPLY, "(reply line over 64 KiB)");
        return;
      }
      const reply = Buffer.concat(chunks).toString("utf8");
      const text = reply.slice(0, reply.indexOf("\n"));
      const latencyMs = performance.now() - started;
      if (text === `${prefixes.v1} ${line}`) finish({ kind: "v1", latencyMs });
      else if (text === `${prefixes.v2} ${line}`) finish({ kind: "v2", latencyMs });
      else fail(UNEXPECTED_REPLY, text.slice(0, 200));
    });
    socket.on("end", () => fail("closed before reply"));
    socket.on("close", () => fail("closed before reply"));
    socket.on("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
  });
}
