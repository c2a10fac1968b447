/**
 * The tests `npm run shift` gates on, where no library does it: one-sided Fisher exact test of
 * two proportions, the exact binomial upper tail, and a two-sample quantile test (Mood's median
 * test generalised to any quantile, with an allowed shift). Pure functions on counts and samples,
 * exact for every sample size, so no switch between an approximation and an exact test is needed.
 * The two-sided binomial test of the v2 share is verify's (`binomialTestPValue`).
 */
import { percentile } from "../../dataplane/verify/verifyStats";

/** log(k!) for k = 0..n, grown on demand and kept (tables of a few hundred thousand doubles). */
let logFactorialTable = new Float64Array([0, 0]);

function logFactorial(k: number): number {
  if (k >= logFactorialTable.length) {
    const size = Math.max(k + 1, logFactorialTable.length * 2);
    const table = new Float64Array(size);
    table.set(logFactorialTable);
    for (let i = logFactorialTable.length; i < size; i++)
      table[i] = (table[i - 1] as number) + Math.log(i);
    logFactorialTable = table;
  }
  return logFactorialTable[k] as number;
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** log(sum(exp(terms))), without overflow or underflow. */
function logSumExp(terms: readonly number[]): number {
  let largest = Number.NEGATIVE_INFINITY;
  for (const term of terms) if (term > largest) largest = term;
  if (largest === Number.NEGATIVE_INFINITY) return largest;
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - largest);
  return largest + Math.log(sum);
}

function checkCount(name: string, value: number, max = Number.POSITIVE_INFINITY): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new RangeError(`${name} must be a whole number from 0 to ${max}, got ${value}`);
}

/** A 2×2 table: `a` of `n` in the group under test, `c` of `m` in the reference group. */
export interface TwoProportions {
  /** Events (failures, slow connections) in the group under test (v2) and its size. */
  a: number;
  n: number;
  /** Events in the reference group (v1) and its size. */
  c: number;
  m: number;
}

/**
 * One-sided Fisher exact test: the probability, if both groups had the same rate, that the group
 * under test would get `a` or more of the `a + c` events (hypergeometric upper tail). Small when
 * the group under test is worse. Exact for any counts: the margins are fixed by the data, and
 * under the null hypothesis every split of the events between the groups is equally likely.
 */
export function fisherGreaterPValue({ a, n, c, m }: TwoProportions): number {
  checkCount("n", n);
  checkCount("m", m);
  checkCount("a", a, n);
  checkCount("c", c, m);
  const events = a + c;
  const total = n + m;
  if (events === 0 || n === 0 || m === 0) return 1;
  const logDenominator = logChoose(total, n);
  const terms: number[] = [];
  for (let x = a; x <= Math.min(events, n); x++)
    terms.push(logChoose(events, x) + logChoose(total - events, n - x) - logDenominator);
  return Math.min(1, Math.exp(logSumExp(terms)));
}

/**
 * Exact binomial upper tail: P(X >= k) for X ~ Binomial(n, p). The chance of `k` or more events
 * in `n` trials if the true rate were `p`: small when the rate is above `p`.
 */
export function binomialGreaterPValue(k: number, n: number, p: number): number {
  checkCount("n", n);
  checkCount("k", k, n);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be from 0 to 1, got ${p}`);
  if (k === 0) return 1;
  if (p === 0) return 0;
  if (p === 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const terms: number[] = [];
  for (let x = k; x <= n; x++) terms.push(logChoose(n, x) + x * logP + (n - x) * logQ);
  return Math.min(1, Math.exp(logSumExp(terms)));
}

/** What `quantileShiftTest` measured. */
export interface QuantileShiftResult {
  /** The quantile (0..100) compared. */
  q: number;
  /** Observed q-th percentiles of each sample (nearest rank), undefined without samples. */
  reference: number | undefined;
  tested: number | undefined;
  /** The threshold: the q-th percentile of the pooled samples, the tested one shifted down. */
  threshold: number | undefined;
  /** Samples above the threshold: tested (after the shift) and reference. */
  testedAbove: number;
  referenceAbove: number;
  /** One-sided Fisher p-value that the tested sample exceeds the threshold more often. */
  pValue: number;
}

/**
 * Is the tested sample's q-th percentile more than `allowedIncrease` above the reference's?
 * Shift the tested sample down by `allowedIncrease`, pool it with the reference, take the pooled
 * q-th percentile as a threshold, and count each sample's values above it; then
 * `fisherGreaterPValue` on those counts. The threshold is a symmetric function of the pooled
 * values, so if the shifted tested values and the reference values are exchangeable (the same
 * distribution, connections interleaved in time) every assignment of the exceedances to the two
 * groups is equally likely, and the test is exact: its false-alarm rate is at most the
 * significance it is judged at, whatever the latency distribution looks like. If the tested
 * sample is no more than `allowedIncrease` slower, the shifted sample is stochastically smaller
 * and false alarms are rarer still.
 */
export function quantileShiftTest(
  reference: readonly number[],
  tested: readonly number[],
  q: number,
  allowedIncrease: number,
): QuantileShiftResult {
  const shifted = tested.map((value) => value - allowedIncrease);
  const threshold = percentile([...reference, ...shifted], q);
  const above = (values: readonly number[]) =>
    threshold === undefined ? 0 : values.filter((value) => value > threshold).length;
  const testedAbove = above(shifted);
  const referenceAbove = above(reference);
  return {
    q,
    reference: percentile(reference, q),
    tested: percentile(tested, q),
    threshold,
    testedAbove,
    referenceAbove,
    pValue: fisherGreaterPValue({
      a: testedAbove,
      n: tested.length,
      c: referenceAbove,
      m: reference.length,
    }),
  };
}
