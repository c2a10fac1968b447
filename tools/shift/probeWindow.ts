/**
 * The observation of one step: new tcp-echo connections at a steady rate for a while, each
 * classified by the version that answered (verify's probe), or by how it failed, with its
 * latency. Open loop: connections start on a schedule, not when the previous one ends, so a slow
 * version does not slow the sampling down (at most `concurrency` are open at once).
 */
import { performance } from "node:perf_hooks";
import type { Version, VersionPrefixes } from "../../contract/versions";
import { type ProbeOutcome, probeOnce } from "../../dataplane/verify/verify";

/**
 * How a probe connection failed, by what a client sees. The first two happen before the TCP
 * connection to the address is established, so before any version is chosen (the address
 * refused, is unreachable, or did not answer in time); the rest once connected.
 */
export const FAILURE_CLASSES = [
  "connect failure",
  "connect timeout",
  "reset",
  "closed without reply",
  "reply timeout",
  "unexpected reply",
  "other",
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** A failed probe (verify's outcome: its phase and reason) to its class. */
export function failureClass(
  outcome: Pick<Extract<ProbeOutcome, { kind: "error" }>, "phase" | "reason">,
): FailureClass {
  const { phase, reason } = outcome;
  if (phase === "connect")
    return reason === "connect timeout" || reason === "ETIMEDOUT"
      ? "connect timeout"
      : "connect failure";
  if (reason === "ECONNRESET" || reason === "EPIPE") return "reset";
  if (reason === "closed before reply") return "closed without reply";
  if (reason === "reply timeout" || reason === "ETIMEDOUT") return "reply timeout";
  if (reason === "unexpected reply") return "unexpected reply";
  return "other";
}

/** Where and how to probe. */
export interface ProbeTarget {
  host: string;
  port: number;
  prefixes: VersionPrefixes;
  /** Per connection: connect, send and full reply within this long. */
  timeoutMs: number;
  /** New connections per second. */
  rate: number;
  /** Connections open at once, at most. */
  concurrency: number;
}

/** Everything one observation window saw. */
export interface WindowCounts {
  /** Connections started. */
  attempted: number;
  /** Connections answered by each version. */
  answered: Record<Version, number>;
  /** Connections that failed, in all and by class. */
  failed: number;
  failures: Partial<Record<FailureClass, number>>;
  /** The first reply that was not tcp-echo's answer, to show what answered instead. */
  unexpectedReply?: string;
  /** Connect-to-reply latency of every answered connection, by version (ms). */
  latenciesMs: Record<Version, number[]>;
  durationMs: number;
}

/** An empty window. */
export function emptyWindow(): WindowCounts {
  return {
    attempted: 0,
    answered: { v1: 0, v2: 0 },
    failed: 0,
    failures: {},
    latenciesMs: { v1: [], v2: [] },
    durationMs: 0,
  };
}

/** Options of `observeWindow`. */
export interface ObserveOptions {
  durationMs: number;
  /** Stops starting connections (Ctrl-C); the open ones finish. */
  signal?: AbortSignal;
  /** Called after each connection ends, with the counts so far (a live status line). */
  onProgress?: (counts: WindowCounts, elapsedMs: number) => void;
}

/**
 * Probe `target` for `durationMs`: start a connection every `1 / rate` seconds while fewer than
 * `concurrency` are open (a connection that cannot start on time starts as soon as one ends),
 * then wait for the open ones. Never rejects for network trouble: failures are counted.
 */
export async function observeWindow(
  target: ProbeTarget,
  options: ObserveOptions,
): Promise<WindowCounts> {
  const counts = emptyWindow();
  const started = performance.now();
  const end = started + options.durationMs;
  const intervalMs = 1000 / target.rate;
  let open = 0;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  options.signal?.addEventListener("abort", wakeUp, { once: true });
  const inFlight = new Set<Promise<void>>();

  const launch = (sequence: number) => {
    open++;
    const done = probeOnce(target, target.prefixes, sequence).then((outcome) => {
      if (outcome.kind === "error") {
        counts.failed++;
        const kind = failureClass(outcome);
        counts.failures[kind] = (counts.failures[kind] ?? 0) + 1;
        if (kind === "unexpected reply" && counts.unexpectedReply === undefined)
          counts.unexpectedReply = outcome.detail;
      } else {
        counts.answered[outcome.kind]++;
        counts.latenciesMs[outcome.kind].push(outcome.latencyMs);
      }
      open--;
      inFlight.delete(done);
      options.onProgress?.(counts, performance.now() - started);
      wakeUp();
    });
    inFlight.add(done);
  };

  for (;;) {
    if (options.signal?.aborted) break;
    const now = performance.now();
    if (now >= end) break;
    const due = Math.floor((now - started) / intervalMs) + 1;
    if (counts.attempted < due && open < target.concurrency) {
      launch(++counts.attempted);
      continue;
    }
    // Sleep until the next connection is due, one ends, the window closes, or Ctrl-C.
    const nextDue = counts.attempted < due ? end : started + counts.attempted * intervalMs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(wakeUp, Math.max(0, Math.min(nextDue, end) - now));
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  await Promise.all(inFlight);
  options.signal?.removeEventListener("abort", wakeUp);
  counts.durationMs = performance.now() - started;
  return counts;
}
