/**
 * The gates of `npm run shift`: pure judgements of one observation window. Every gate is a set of
 * exact tests, each judged at the same significance `alpha` (the run's false-alarm budget split
 * over every test of the plan, see `shiftPlan.ts`). A gate:
 * - fails when one of its tests is significant (p < alpha), at any sample size: the false-alarm
 *   rate of a test does not depend on how many connections it saw;
 * - passes when no test is significant and every group it compared had at least `minSamples`
 *   connections (enough to see the faults it is for);
 * - is inconclusive when no test is significant but a group was smaller than that: the step may
 *   go on, but it does not count as a good step to roll back to, and the last step must not end so;
 * - is n/a when there is nothing to compare (no v1 traffic at weight 100).
 */
import type { Version } from "../../contract/versions";
import { binomialTestPValue, percentile } from "../../dataplane/verify/verifyStats";
import type { RouteFigures } from "./gatewayScrape";
import { FAILURE_CLASSES, type WindowCounts } from "./probeWindow";
import { binomialGreaterPValue, fisherGreaterPValue, quantileShiftTest } from "./shiftStats";

/** The gates, in the order they are judged and shown. */
export const GATE_NAMES = ["took effect", "errors", "latency", "gateway"] as const;
export type GateName = (typeof GATE_NAMES)[number];
export type GateVerdict = "pass" | "fail" | "inconclusive" | "n/a";

/** One statistical test of a gate. */
export interface GateTest {
  /** What was tested, e.g. `v2 vs v1 failure rate (one-sided Fisher)`. */
  name: string;
  pValue: number;
  /** Significance it was judged at. */
  alpha: number;
  failed: boolean;
}

/** A gate's judgement of one window. */
export interface GateResult {
  gate: GateName;
  verdict: GateVerdict;
  /** One sentence with the figures: what the report shows. */
  summary: string;
  tests: GateTest[];
}

/** Thresholds of every gate. */
export interface GatePolicy {
  /** Significance of each test. */
  alpha: number;
  /** Connections per compared group before a gate can pass. */
  minSamples: number;
  /** Error ceiling (0..1). */
  maxErrorRate: number;
  /** How much slower v2's p50 and p99 may be than v1's (ms). */
  maxLatencyIncreaseMs: number;
}

/** What one window observed, with what it is compared against. */
export interface WindowEvidence {
  /** v2 weight in force during the window. */
  weight: number;
  /** The weight before this step; undefined for the baseline window. */
  previousWeight?: number;
  probe: WindowCounts;
  /** The gateway's per-version counters over the window (two scrapes), with `--metrics`. */
  gateway?: Record<Version, RouteFigures>;
  /** The baseline window, for comparing failures that cannot be attributed to a version. */
  baseline?: { weight: number; probe: WindowCounts };
}

/** Which version each failed probe connection had been routed to, when that can be known. */
export type Attribution =
  | {
      attributed: true;
      /** Probe connections the gateway routed to each version (answered + failed). */
      routed: Record<Version, number>;
      failed: Record<Version, number>;
      /** Failures that never reached a version (e.g. refused by the gateway itself). */
      beforeRouting: number;
    }
  | { attributed: false; reason: string };

/**
 * The client sees a reset but not which version reset it; the gateway counts the connections it
 * routed to each version. When the probe is the only traffic through the gateway during the
 * window, routed minus answered is exactly each version's failures. Other traffic (or a
 * `/metrics` of one replica out of several) shows as counts that do not add up, and then nothing
 * is attributed.
 */
export function attributeFailures(evidence: WindowEvidence): Attribution {
  const { probe, gateway } = evidence;
  if (!gateway) return { attributed: false, reason: "no --metrics" };
  const routed = { v1: gateway.v1.connections, v2: gateway.v2.connections };
  const failed = { v1: routed.v1 - probe.answered.v1, v2: routed.v2 - probe.answered.v2 };
  if (failed.v1 < 0 || failed.v2 < 0)
    return {
      attributed: false,
      reason: `the gateway routed fewer connections than were answered (v1 ${routed.v1} < ${probe.answered.v1} or v2 ${routed.v2} < ${probe.answered.v2}): its /metrics is one replica of several, or another gateway`,
    };
  if (failed.v1 + failed.v2 > probe.failed)
    return {
      attributed: false,
      reason: `other traffic went through the gateway (it routed ${routed.v1 + routed.v2} connections, this probe opened ${probe.attempted})`,
    };
  return { attributed: true, routed, failed, beforeRouting: probe.failed - failed.v1 - failed.v2 };
}

export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;
const ratio = (count: number, total: number): string =>
  `${count} of ${total} (${total === 0 ? "-" : percent(count / total)})`;
export function formatP(p: number): string {
  if (p === 0) return "p < 1e-300";
  return p >= 0.001 ? `p = ${p.toFixed(3)}` : `p = ${p.toExponential(1)}`;
}
const formatAlpha = (alpha: number): string =>
  alpha >= 0.001 ? alpha.toFixed(4).replace(/0+$/, "") : alpha.toExponential(1);
export const ms = (value: number | undefined): string =>
  value === undefined ? "-" : `${value.toFixed(1)} ms`;

function test(name: string, pValue: number, alpha: number): GateTest {
  return { name, pValue, alpha, failed: pValue < alpha };
}

function significance(t: GateTest): string {
  return `${formatP(t.pValue)} ${t.failed ? "<" : ">="} α ${formatAlpha(t.alpha)}`;
}

/** The failure classes a client saw, e.g. `connect timeout 2, reset 12, reply timeout 1`. */
export function failureList(probe: WindowCounts): string {
  return FAILURE_CLASSES.filter((kind) => (probe.failures[kind] ?? 0) > 0)
    .map((kind) => `${kind} ${probe.failures[kind]}`)
    .join(", ");
}

/**
 * The split took effect: the v2 share of the connections that reached a version is consistent
 * with the weight (verify's exact two-sided binomial test). Conclusive when the same data would
 * reject the previous weight, i.e. they can tell the new weight from the old one.
 */
export function tookEffectGate(
  evidence: WindowEvidence,
  attribution: Attribution,
  policy: GatePolicy,
): GateResult {
  const { weight, previousWeight, probe } = evidence;
  const counts = attribution.attributed ? attribution.routed : probe.answered;
  const n = counts.v1 + counts.v2;
  const what = attribution.attributed ? "reached" : "answered by";
  if (n === 0)
    return {
      gate: "took effect",
      verdict: "fail",
      summary: `no connection was answered by either version (${probe.failed} of ${probe.attempted} failed${probe.failed ? `: ${failureList(probe)}` : ""})`,
      tests: [],
    };
  const t = test(
    `v2 share vs weight ${weight}% (exact binomial)`,
    binomialTestPValue(counts.v2, n, weight / 100),
    policy.alpha,
  );
  const share = `v2 share ${percent(counts.v2 / n)} (${counts.v2} of ${n} connections ${what} a version)`;
  if (t.failed) {
    const hints: string[] = [];
    if (
      previousWeight !== undefined &&
      binomialTestPValue(counts.v2, n, previousWeight / 100) >= policy.alpha
    )
      hints.push(
        `it is what the previous weight ${previousWeight}% gives: the new weight was applied to the target but is not what the traffic sees`,
      );
    if ((counts.v2 === 0 || counts.v2 === n) && weight > 0 && weight < 100)
      hints.push(
        "every connection took one version: with a sticky balance one client address always gets one version",
      );
    return {
      gate: "took effect",
      verdict: "fail",
      summary: `${share} is inconsistent with weight ${weight}% (exact binomial ${significance(t)})${hints.length ? `; ${hints.join("; ")}` : ""}`,
      tests: [t],
    };
  }
  const distinguishable =
    previousWeight === undefined ||
    previousWeight === weight ||
    binomialTestPValue(counts.v2, n, previousWeight / 100) < policy.alpha;
  return {
    gate: "took effect",
    verdict: distinguishable ? "pass" : "inconclusive",
    summary: distinguishable
      ? `${share}, consistent with ${weight}% (exact binomial ${formatP(t.pValue)})`
      : `${share} is consistent with ${weight}% but also with the previous ${previousWeight}%: too few connections to tell them apart`,
    tests: [t],
  };
}

/** Failures compared (Fisher) and held under the ceiling (binomial), for the errors and gateway gates. */
function failureTests(
  groups: Partial<Record<Version, { failed: number; total: number }>>,
  weight: number,
  policy: GatePolicy,
): { tests: GateTest[]; small: boolean; parts: string[] } {
  const tests: GateTest[] = [];
  const parts: string[] = [];
  let small = false;
  const { v1, v2 } = groups;
  if (v1 && v2 && v1.total > 0 && v2.total > 0) {
    tests.push(
      test(
        "v2 vs v1 failure rate (one-sided Fisher)",
        fisherGreaterPValue({ a: v2.failed, n: v2.total, c: v1.failed, m: v1.total }),
        policy.alpha,
      ),
    );
    small ||= v1.total < policy.minSamples || v2.total < policy.minSamples;
  }
  // The ceiling applies to the version taking the new traffic: v2, or v1 at weight 0.
  const capped = weight > 0 ? v2 : v1;
  const version = weight > 0 ? "v2" : "v1";
  if (capped && capped.total > 0) {
    tests.push(
      test(
        `${version} above the ${percent(policy.maxErrorRate)} ceiling (exact binomial)`,
        binomialGreaterPValue(capped.failed, capped.total, policy.maxErrorRate),
        policy.alpha,
      ),
    );
    small ||= capped.total < policy.minSamples;
  }
  if (v2 && v2.total > 0) parts.push(`v2 failed ${ratio(v2.failed, v2.total)}`);
  if (v1 && v1.total > 0)
    parts.push(`${parts.length ? "v1" : "v1 failed"} ${ratio(v1.failed, v1.total)}`);
  return { tests, small, parts };
}

function verdictOf(tests: GateTest[], small: boolean): GateVerdict {
  if (tests.some((t) => t.failed)) return "fail";
  if (tests.length === 0) return "n/a";
  return small ? "inconclusive" : "pass";
}

/**
 * Errors seen by clients: connect failures and timeouts (before the connection was established),
 * resets, connections closed without a reply, reply timeouts, wrong replies. Attributed to versions through the gateway's counters when possible
 * (v2 vs v1, and v2 under the ceiling); otherwise the window's failure rate is compared with the
 * baseline window's, and held under the ceiling.
 */
export function errorsGate(
  evidence: WindowEvidence,
  attribution: Attribution,
  policy: GatePolicy,
): GateResult {
  const { probe, weight } = evidence;
  const classes = failureList(probe);
  const seen = classes ? `; failures seen: ${classes}` : "";
  if (attribution.attributed) {
    const groups = {
      v1: { failed: attribution.failed.v1, total: attribution.routed.v1 },
      v2: { failed: attribution.failed.v2, total: attribution.routed.v2 },
    };
    const { tests, small, parts } = failureTests(groups, weight, policy);
    const verdict = verdictOf(tests, small);
    const before = attribution.beforeRouting
      ? `; ${attribution.beforeRouting} failed before routing`
      : "";
    return {
      gate: "errors",
      verdict,
      summary: `${parts.join(" vs ")}${before}${seen}${describeVerdict(verdict, tests, policy)}`,
      tests,
    };
  }
  const tests: GateTest[] = [];
  let small = probe.attempted < policy.minSamples;
  const parts = [`${ratio(probe.failed, probe.attempted)} connections failed`];
  const { baseline } = evidence;
  if (baseline && weight > baseline.weight && baseline.probe.attempted > 0) {
    tests.push(
      test(
        `failure rate vs the baseline at ${baseline.weight}% (one-sided Fisher)`,
        fisherGreaterPValue({
          a: probe.failed,
          n: probe.attempted,
          c: baseline.probe.failed,
          m: baseline.probe.attempted,
        }),
        policy.alpha,
      ),
    );
    small ||= probe.answered.v2 < policy.minSamples || baseline.probe.attempted < policy.minSamples;
    const rate = probe.failed / probe.attempted;
    const baseRate = baseline.probe.failed / baseline.probe.attempted;
    const estimate = Math.min(
      1,
      Math.max(0, baseRate + (rate - baseRate) / ((weight - baseline.weight) / 100)),
    );
    parts.push(
      `baseline ${ratio(baseline.probe.failed, baseline.probe.attempted)}; v2's own rate estimated at ${percent(estimate)}`,
    );
  }
  tests.push(
    test(
      `failure rate above the ${percent(policy.maxErrorRate)} ceiling (exact binomial)`,
      binomialGreaterPValue(probe.failed, probe.attempted, policy.maxErrorRate),
      policy.alpha,
    ),
  );
  const verdict = verdictOf(tests, small);
  return {
    gate: "errors",
    verdict,
    summary: `${parts.join(" vs ")} (failures not attributed to a version: ${attribution.reason})${seen}${describeVerdict(verdict, tests, policy)}`,
    tests,
  };
}

function describeVerdict(verdict: GateVerdict, tests: GateTest[], policy: GatePolicy): string {
  if (verdict === "fail")
    return `; ${tests
      .filter((t) => t.failed)
      .map((t) => `${t.name}: ${significance(t)}`)
      .join("; ")}`;
  if (verdict === "inconclusive")
    return `; fewer than ${policy.minSamples} connections in a compared group: not enough to pass`;
  return "";
}

/**
 * Latency: v2's p50 and p99 against v1's in the same window, each by `quantileShiftTest` with
 * the allowed increase. Fails when the test is significant and the observed percentile is more
 * than the allowed increase above v1's. n/a without traffic on both versions.
 */
export function latencyGate(evidence: WindowEvidence, policy: GatePolicy): GateResult {
  const { v1, v2 } = evidence.probe.latenciesMs;
  if (v1.length === 0 || v2.length === 0)
    return {
      gate: "latency",
      verdict: "n/a",
      summary:
        v1.length === 0 && v2.length > 0
          ? `no v1 connections in this window to compare with (v2 p50 ${ms(percentile(v2, 50))}, p99 ${ms(percentile(v2, 99))})`
          : "no v2 connections in this window",
      tests: [],
    };
  const allowed = policy.maxLatencyIncreaseMs;
  const results = [50, 99].map((q) => quantileShiftTest(v1, v2, q, allowed));
  const tests = results.map((result) => {
    const t = test(
      `v2 p${result.q} more than ${allowed} ms above v1's (quantile test, one-sided Fisher)`,
      result.pValue,
      policy.alpha,
    );
    t.failed &&= (result.tested as number) - (result.reference as number) > allowed;
    return t;
  });
  const small = v1.length < policy.minSamples || v2.length < policy.minSamples;
  const verdict = verdictOf(tests, small);
  const figures = results
    .map((r) => `p${r.q} v1 ${ms(r.reference)} / v2 ${ms(r.tested)}`)
    .join(", ");
  let detail = "";
  if (verdict === "fail")
    results.forEach((r, i) => {
      const t = tests[i] as GateTest;
      if (!t.failed) return;
      detail += `; v2's p${r.q} is ${((r.tested as number) - (r.reference as number)).toFixed(1)} ms above v1's (allowed ${allowed} ms): ${r.testedAbove} of ${v2.length} v2 connections above the pooled p${r.q} (v2 shifted by ${allowed} ms) vs ${r.referenceAbove} of ${v1.length} v1 (${significance(t)})`;
    });
  else if (verdict === "inconclusive")
    detail = `; fewer than ${policy.minSamples} connections of a version: not enough to pass`;
  return {
    gate: "latency",
    verdict,
    summary: `${figures} (allowed +${allowed} ms; ${v1.length} v1, ${v2.length} v2 connections)${detail}`,
    tests,
  };
}

/**
 * p99 of connection durations by histogram bucket: v1's p99 bucket bound U, then v2's
 * connections above the first bound at or past U + the allowed increase against v1's above U
 * (one-sided Fisher). Approximate where the latency gate is exact (buckets, not samples): the
 * bound is chosen on v1's data, so it is coarse, and it errs toward v1 looking a little better.
 */
function durationTest(
  v1: { le: number; count: number }[],
  v2: { le: number; count: number }[],
  policy: GatePolicy,
): { test: GateTest; summary: string } | undefined {
  const total1 = v1.at(-1)?.count ?? 0;
  const total2 = v2.at(-1)?.count ?? 0;
  if (total1 === 0 || total2 === 0) return undefined;
  const bounds = v1.map((bucket) => bucket.le);
  const below = (buckets: typeof v1, le: number) =>
    buckets.find((bucket) => bucket.le === le)?.count ?? 0;
  const p99 = (buckets: typeof v1, total: number) =>
    bounds.find((le) => below(buckets, le) >= 0.99 * total) ?? Number.POSITIVE_INFINITY;
  const reference = p99(v1, total1);
  const threshold =
    bounds.find((le) => le >= reference + policy.maxLatencyIncreaseMs / 1000) ??
    Number.POSITIVE_INFINITY;
  const a = total2 - below(v2, threshold);
  const c = total1 - below(v1, reference);
  const t = test(
    `v2 connection durations past v1's p99 + ${policy.maxLatencyIncreaseMs} ms (histogram buckets, one-sided Fisher)`,
    threshold === Number.POSITIVE_INFINITY
      ? 1
      : fisherGreaterPValue({ a, n: total2, c, m: total1 }),
    policy.alpha,
  );
  return {
    test: t,
    summary: `durations p99 v1 <= ${reference} s, v2 <= ${p99(v2, total2)} s; v2 ${a} of ${total2} above ${threshold} s vs v1 ${c} of ${total1} above ${reference} s`,
  };
}

/**
 * The gateway's view of all its traffic (not only the probe's), with `--metrics`: per version,
 * connections that failed at the gateway (every backend connect attempt failed; resets when the
 * gateway exports them) compared v2 vs v1 and held under the ceiling, and connection durations
 * when it exports a histogram.
 */
export function gatewayGate(evidence: WindowEvidence, policy: GatePolicy): GateResult | undefined {
  const { gateway, weight } = evidence;
  if (!gateway) return undefined;
  const failedOf = (figures: RouteFigures) => figures.backendUnavailable + (figures.resets ?? 0);
  const groups = {
    v1: { failed: failedOf(gateway.v1), total: gateway.v1.connections },
    v2: { failed: failedOf(gateway.v2), total: gateway.v2.connections },
  };
  const present = {
    ...(groups.v1.total > 0 ? { v1: groups.v1 } : {}),
    ...(groups.v2.total > 0 ? { v2: groups.v2 } : {}),
  };
  const { tests, small, parts } = failureTests(present, weight, policy);
  const extra: string[] = [
    `connect failures v1 ${gateway.v1.connectFailures}, v2 ${gateway.v2.connectFailures}`,
  ];
  // Only while both versions take new connections, as the plan budgets it (testsInWindow): at
  // weight 100 the window still sees v1's older connections close, but nothing to compare.
  const split = weight > 0 && weight < 100;
  if (split && gateway.v1.durationBuckets && gateway.v2.durationBuckets) {
    const duration = durationTest(gateway.v1.durationBuckets, gateway.v2.durationBuckets, policy);
    if (duration) {
      tests.push(duration.test);
      extra.push(duration.summary);
    }
  }
  const verdict = verdictOf(tests, small);
  const what = gateway.v1.resets === undefined ? "unavailable" : "unavailable or reset";
  return {
    gate: "gateway",
    verdict,
    summary: `${parts.join(" vs ")} (${what}, all traffic); ${extra.join("; ")}${describeVerdict(verdict, tests, policy)}`,
    tests,
  };
}

/** Every gate of a window, in `GATE_NAMES` order. */
export function judgeWindow(evidence: WindowEvidence, policy: GatePolicy): GateResult[] {
  const attribution = attributeFailures(evidence);
  const gates = [
    tookEffectGate(evidence, attribution, policy),
    errorsGate(evidence, attribution, policy),
    latencyGate(evidence, policy),
  ];
  const gateway = gatewayGate(evidence, policy);
  if (gateway) gates.push(gateway);
  return gates;
}
