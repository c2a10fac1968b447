/**
 * Statistics for `npm run verify`: is the observed v2 share consistent with the weight that was
 * set? Pure functions, no I/O, so the decision can be tested on known counts.
 */

/** z for a two-sided 95% interval (the 97.5% quantile of the standard normal). */
import { EXIT_CODES } from "../../contract/exitCodes";

const Z_95 = 1.959963984540054;

/** A proportion's confidence interval, both ends within [0, 1]. */
export interface Interval {
  low: number;
  high: number;
}

/**
 * Wilson score 95% interval for `successes` out of `trials`. Unlike the normal ("Wald") interval
 * it stays inside [0, 1] and does not collapse to a point at 0% or 100%, which is exactly where a
 * shift starts and ends. `trials = 0` gives the uninformative [0, 1].
 */
export function wilsonInterval(successes: number, trials: number, z = Z_95): Interval {
  checkCounts(successes, trials);
  if (trials === 0) return { low: 0, high: 1 };
  const share = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const center = (share + z2 / (2 * trials)) / denominator;
  const half =
    (z / denominator) * Math.sqrt((share * (1 - share)) / trials + z2 / (4 * trials * trials));
  // The exact ends are 0 and 1 at 0% and 100%; rounding would otherwise leave 1e-17 off.
  return {
    low: successes === 0 ? 0 : Math.max(0, center - half),
    high: successes === trials ? 1 : Math.min(1, center + half),
  };
}

/** log(k!) for k = 0..n, by summing logs: exact to rounding for the n verify uses. */
function logFactorials(n: number): Float64Array {
  const table = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) table[k] = (table[k - 1] as number) + Math.log(k);
  return table;
}

/**
 * Exact two-sided binomial test: the probability, if each trial hits with probability `p`, of an
 * outcome no more likely than `successes` out of `trials` (the "minlike" method of R's
 * `binom.test` and SciPy's `binomtest`). Probabilities are summed in log space so thousands of
 * trials neither overflow the binomial coefficients nor underflow the tails.
 */
export function binomialTestPValue(successes: number, trials: number, p: number): number {
  checkCounts(successes, trials);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be from 0 to 1, got ${p}`);
  if (trials === 0) return 1;
  // Degenerate nulls: every trial hits (p = 1) or none does (p = 0); anything else is impossible.
  if (p === 0) return successes === 0 ? 1 : 0;
  if (p === 1) return successes === trials ? 1 : 0;

  const logFact = logFactorials(trials);
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const logPmf = (k: number) =>
    (logFact[trials] as number) -
    (logFact[k] as number) -
    (logFact[trials - k] as number) +
    k * logP +
    (trials - k) * logQ;

  // Same relative tolerance as R and SciPy, so ties (e.g. symmetric outcomes) count as as-likely.
  const threshold = logPmf(successes) + Math.log1p(1e-7);
  const terms: number[] = [];
  let largest = Number.NEGATIVE_INFINITY;
  for (let k = 0; k <= trials; k++) {
    const term = logPmf(k);
    if (term <= threshold) {
      terms.push(term);
      if (term > largest) largest = term;
    }
  }
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - largest);
  return Math.min(1, Math.exp(largest + Math.log(sum)));
}

/**
 * The `q`-th percentile (0..100) by nearest rank: always a latency that was actually observed.
 * `undefined` for no samples.
 */
export function percentile(samples: readonly number[], q: number): number | undefined {
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile must be from 0 to 100, got ${q}`);
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return sorted[rank - 1];
}

/** What verify concludes; the exit code of `npm run verify` follows from it. */
export type Verdict = "consistent" | "inconsistent" | "failures" | "measured";

/** Exit codes of `npm run verify`, one per verdict (usage errors: `EXIT_CODES.usage`). */
export const VERDICT_EXIT_CODES: Record<Verdict, number> = {
  consistent: EXIT_CODES.ok,
  measured: EXIT_CODES.ok,
  inconsistent: EXIT_CODES.failure,
  failures: EXIT_CODES.connectionFailures,
};

/** Reject the expected share below this p-value (one false alarm in a thousand runs). */
export const SIGNIFICANCE = 0.001;
/** Above this share of failed connections the counts say nothing about the weights. */
export const MAX_FAILURE_SHARE = 0.01;

/** Inputs of `judgeShare`. */
export interface ShareCounts {
  /** Connections answered by v1 / v2. */
  v1: number;
  v2: number;
  /** Connections attempted, including failed ones. */
  attempted: number;
  /** Connections that failed (no reply, timeout, unrecognised reply). */
  failed: number;
  /** Expected v2 percentage (0..100), if the user gave one. */
  expectV2?: number;
}

/** The observed v2 share, its interval and, with an expectation, the test's verdict. */
export interface ShareJudgement {
  /** v2 / (v1 + v2); `undefined` when no connection was classified. */
  share: number | undefined;
  interval: Interval;
  /** Exact binomial p-value against `expectV2`; only with an expectation and data. */
  pValue: number | undefined;
  verdict: Verdict;
}

/**
 * Judge the counts. Failures are checked first: when more than 1% of connections failed, the
 * classified ones may be a biased sample (e.g. one version down), so no share verdict is given.
 */
export function judgeShare(counts: ShareCounts): ShareJudgement {
  const trials = counts.v1 + counts.v2;
  const share = trials === 0 ? undefined : counts.v2 / trials;
  const interval = wilsonInterval(counts.v2, trials);
  const tooManyFailures =
    counts.attempted === 0 || trials === 0 || counts.failed / counts.attempted > MAX_FAILURE_SHARE;
  if (counts.expectV2 === undefined) {
    return {
      share,
      interval,
      pValue: undefined,
      verdict: tooManyFailures ? "failures" : "measured",
    };
  }
  const pValue =
    trials === 0 ? undefined : binomialTestPValue(counts.v2, trials, counts.expectV2 / 100);
  if (tooManyFailures) return { share, interval, pValue, verdict: "failures" };
  return {
    share,
    interval,
    pValue,
    verdict: (pValue as number) < SIGNIFICANCE ? "inconsistent" : "consistent",
  };
}

function checkCounts(successes: number, trials: number): void {
  if (!Number.isInteger(trials) || trials < 0)
    throw new RangeError(`trials must be a whole number, got ${trials}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > trials)
    throw new RangeError(`successes must be a whole number from 0 to ${trials}, got ${successes}`);
}
