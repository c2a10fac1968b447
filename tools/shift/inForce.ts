/**
 * Is a new weight in force? Applying it (a written file, a finished `pulumi up`) is not the same
 * as traffic following it: a gateway watching another file, a rejected route file, a mesh that
 * has not pushed the route yet all look applied. Two ways to see it:
 * - the gateway's `/metrics` (`--metrics`): the weights it has loaded, polled until they are the
 *   new ones; a reload failure counted meanwhile means it rejected the change;
 * - verify: rounds of new connections until the v2 share is consistent with the new weight and,
 *   where a round can tell them apart, inconsistent with the old one.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { runVerify } from "../../dataplane/verify/verify";
import { binomialTestPValue, SIGNIFICANCE } from "../../dataplane/verify/verifyStats";
import type { GatewaySnapshot, MetricsSource } from "./gatewayScrape";
import type { ProbeTarget } from "./probeWindow";
import { formatP, percent } from "./shiftGates";

/** What the wait found. */
export interface InForceResult {
  inForce: boolean;
  /** From the end of the apply to the first confirmation (or to giving up). */
  afterMs: number;
  how: "metrics" | "verify";
  /** The figures behind the answer, for the report. */
  detail: string;
}

/** Options of `waitInForce`. */
export interface InForceOptions {
  weight: number;
  previousWeight: number;
  probe: ProbeTarget;
  metrics?: MetricsSource;
  /** Scrape taken before the change (reload counters to compare with). */
  before?: GatewaySnapshot;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Connections per verify round. */
export const VERIFY_ROUND = 100;
const POLL_MS = 100;

const weightsText = (snapshot: GatewaySnapshot) =>
  `v1=${snapshot.weights.v1 ?? "-"} v2=${snapshot.weights.v2 ?? "-"}`;

/** Wait until `weight` is in force, at most `timeoutMs`. Never rejects for a probe failure. */
export async function waitInForce(options: InForceOptions): Promise<InForceResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const { weight } = options;
  if (options.metrics) {
    let last: GatewaySnapshot | undefined;
    for (;;) {
      last = await options.metrics.scrape();
      if (last.weights.v1 === 100 - weight && last.weights.v2 === weight)
        return {
          inForce: true,
          afterMs: elapsed(),
          how: "metrics",
          detail: `the gateway reports ${weightsText(last)}`,
        };
      if (options.before && last.reloadFailures > options.before.reloadFailures)
        return {
          inForce: false,
          afterMs: elapsed(),
          how: "metrics",
          detail: `the gateway rejected the change (tcp_gateway_reload_failures_total ${options.before.reloadFailures} → ${last.reloadFailures}; see its log) and still reports ${weightsText(last)}`,
        };
      if (elapsed() >= options.timeoutMs || options.signal?.aborted) break;
      await sleep(POLL_MS, undefined, { signal: options.signal }).catch(() => {});
    }
    const reloads = options.before ? ` (reloads ${options.before.reloads} → ${last.reloads})` : "";
    return {
      inForce: false,
      afterMs: elapsed(),
      how: "metrics",
      detail: `after ${(elapsed() / 1000).toFixed(1)} s the gateway at ${options.metrics.url} still reports ${weightsText(last)}${reloads}, not v1=${100 - weight} v2=${weight}: the target was written but the gateway did not load it (does it watch this file? are the route names right?)`,
    };
  }

  // Each round's tests at verify's own significance.
  const alpha = SIGNIFICANCE;
  const { previousWeight } = options;
  // Can a round tell the weights apart at all? If the new weight's expected count is consistent
  // with the old weight too, only consistency with the new one can be asked for.
  const expected = Math.round((VERIFY_ROUND * weight) / 100);
  const distinguishable =
    previousWeight !== weight &&
    binomialTestPValue(expected, VERIFY_ROUND, previousWeight / 100) < alpha;
  let detail = "no round finished";
  for (;;) {
    const round = await runVerify({
      host: options.probe.host,
      port: options.probe.port,
      connections: VERIFY_ROUND,
      concurrency: Math.min(options.probe.concurrency, 16),
      timeoutMs: options.probe.timeoutMs,
      prefixes: options.probe.prefixes,
    });
    const n = round.counts.v1 + round.counts.v2;
    if (n > 0) {
      const pNew = binomialTestPValue(round.counts.v2, n, weight / 100);
      const pOld = binomialTestPValue(round.counts.v2, n, previousWeight / 100);
      detail = `the last verify round saw v2 ${percent(round.counts.v2 / n)} (${round.counts.v2} of ${n}; exact binomial ${formatP(pNew)} against ${weight}%, ${formatP(pOld)} against the previous ${previousWeight}%)`;
      if (pNew >= alpha && (!distinguishable || pOld < alpha))
        return {
          inForce: true,
          afterMs: elapsed(),
          how: "verify",
          detail: distinguishable
            ? detail
            : `${detail}; ${VERIFY_ROUND} connections cannot tell ${weight}% from ${previousWeight}%, the observation will`,
        };
    } else detail = `the last verify round had no answer (${round.failed} failed)`;
    if (elapsed() >= options.timeoutMs || options.signal?.aborted) break;
  }
  return {
    inForce: false,
    afterMs: elapsed(),
    how: "verify",
    detail: `after ${(elapsed() / 1000).toFixed(1)} s the traffic does not follow weight ${weight}%: ${detail}`,
  };
}
