/**
 * The plan of a shift: its steps, what each changes, how much traffic each window will see, and
 * the significance every test is judged at. The run's false-alarm budget (`--false-alarm`, the
 * chance that a healthy v2 is rolled back) is split evenly over every test the plan can run
 * (Bonferroni): whatever the number of steps, a healthy shift is rolled back by chance at most
 * that often.
 */
import { joinHostPort } from "../../contract/hostPort";
import { UserError } from "../../contract/userError";
import type { VersionPrefixes } from "../../contract/versions";
import { USAGE_ERROR_CODE } from "../../dataplane/shared/commandFlags";
import { VERIFY_ROUND } from "./inForce";
import type { GatePolicy } from "./shiftGates";

/** Everything a shift will do, decided before it starts. */
export interface ShiftPlan {
  target: string;
  startWeight: number;
  steps: number[];
  /** What each step changes, in the target's words. */
  changes: string[];
  intervalMs: number;
  baselineMs: number;
  rollbackTo: "last" | 0;
  applyTimeoutMs: number;
  probe: {
    host: string;
    port: number;
    rate: number;
    concurrency: number;
    timeoutMs: number;
    prefixes: VersionPrefixes;
  };
  metricsUrl?: string;
  /** Run-wide chance of rolling back a healthy v2 (0..1). */
  falseAlarm: number;
  /** Tests the plan can run, over all windows. */
  tests: number;
  policy: GatePolicy;
}

/** Tests a window at `weight` can run (the most it may run; see shiftGates.ts). */
export function testsInWindow(weight: number, isBaseline: boolean, metrics: boolean): number {
  const split = weight > 0 && weight < 100;
  const tookEffect = 1;
  const errors = isBaseline ? 1 : 2;
  const latency = split ? 2 : 0;
  const gateway = metrics ? (split ? 3 : 1) : 0;
  return tookEffect + errors + latency + gateway;
}

/** Inputs of `buildPlan`. */
export interface PlanInputs extends Omit<ShiftPlan, "tests" | "policy" | "changes"> {
  describeChange(weight: number): string;
  minSamples: number;
  maxErrorRate: number;
  maxLatencyIncreaseMs: number;
}

/**
 * Build and check the plan. Throws `UserError` `E_USAGE` when the steps do not go above the
 * starting weight, or when the windows are too short for the gates to pass (the last step must
 * end conclusive, so it needs `minSamples` connections per version).
 */
export function buildPlan(inputs: PlanInputs): ShiftPlan {
  const { steps, startWeight } = inputs;
  if ((steps[0] as number) <= startWeight)
    throw new UserError(
      USAGE_ERROR_CODE,
      `the target is at weight ${startWeight} already: --steps must start above it (got ${steps.join(",")})`,
    );
  const metrics = inputs.metricsUrl !== undefined;
  const perWindow = (inputs.probe.rate * inputs.intervalMs) / 1000;
  const last = steps.at(-1) as number;
  const lastV2 = (perWindow * last) / 100;
  const lastV1 = perWindow - lastV2;
  const fix = "raise --interval or --rate, or lower --min-samples";
  if (lastV2 < inputs.minSamples || (last < 100 && lastV1 < inputs.minSamples))
    throw new UserError(
      USAGE_ERROR_CODE,
      `the last step (weight ${last}) would see about ${Math.round(lastV2)} connections to v2${last < 100 ? ` and ${Math.round(lastV1)} to v1` : ""} (${inputs.probe.rate}/s for ${inputs.intervalMs / 1000} s); its gates need ${inputs.minSamples} per version to pass: ${fix}`,
    );
  const baselineCount = (inputs.probe.rate * inputs.baselineMs) / 1000;
  if (inputs.baselineMs > 0 && baselineCount < inputs.minSamples)
    throw new UserError(
      USAGE_ERROR_CODE,
      `the baseline would see about ${Math.round(baselineCount)} connections; the errors gate compares with it and needs ${inputs.minSamples}: raise --baseline or --rate, or skip it with --baseline 0`,
    );
  let tests = inputs.baselineMs > 0 ? testsInWindow(startWeight, true, metrics) : 0;
  for (const weight of steps) tests += testsInWindow(weight, false, metrics);
  const { describeChange, minSamples, maxErrorRate, maxLatencyIncreaseMs, ...rest } = inputs;
  return {
    ...rest,
    changes: steps.map((weight) => describeChange(weight)),
    tests,
    policy: {
      alpha: inputs.falseAlarm / tests,
      minSamples,
      maxErrorRate,
      maxLatencyIncreaseMs,
    },
  };
}

/** `500 ms`, `1.5 s`, `5 min`, `2 min 31 s`. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000) {
    const minutes = Math.floor(ms / 60_000);
    const seconds = Math.round((ms % 60_000) / 1000);
    return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
  }
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Math.round(ms)} ms`;
}

/** How each gate decides, one line each: the plan and the report show it. */
export function gateRules(plan: ShiftPlan): string[] {
  const { policy } = plan;
  const alpha = policy.alpha.toExponential(1);
  const rules = [
    `every test is judged at α = ${alpha} (${(plan.falseAlarm * 100).toFixed(2).replace(/\.?0+$/, "")}% false-alarm budget over ${plan.tests} tests); a gate passes only with ${policy.minSamples}+ connections per compared version`,
    "took effect: v2's share of the connections that reached a version vs the weight, exact binomial (verify's test); conclusive when the same data reject the previous weight",
    `errors (connect failures and timeouts, resets, closed without reply, reply timeouts, wrong replies): v2 vs v1, one-sided Fisher, and v2 above a ${(policy.maxErrorRate * 100).toFixed(2).replace(/\.?0+$/, "")}% ceiling, exact binomial${plan.metricsUrl ? "; failures attributed to a version with the gateway's counters" : "; without --metrics failures carry no version: the window is compared with the baseline window"}`,
    `latency: v2's p50 and p99 vs v1's in the same window, each allowed +${policy.maxLatencyIncreaseMs} ms: pooled-quantile test, one-sided Fisher (n/a at weight 100)`,
  ];
  if (plan.metricsUrl)
    rules.push(
      "gateway (/metrics, all traffic): per version, connections the gateway could not serve, v2 vs v1 and under the ceiling; connection durations when it exports them",
    );
  return rules;
}

/** The `--dry-run` text: every step, what it changes, what it observes, how it is judged. */
export function formatPlan(plan: ShiftPlan): string {
  const perWindow = Math.round((plan.probe.rate * plan.intervalMs) / 1000);
  const lines = [
    `shift plan (dry run: nothing is changed)`,
    `  target     ${plan.target}, now at weight ${plan.startWeight}`,
    `  probe      ${joinHostPort(plan.probe.host, plan.probe.port)}, ${plan.probe.rate} new connections/s, at most ${plan.probe.concurrency} open, ${formatDuration(plan.probe.timeoutMs)} timeout, prefixes "${plan.probe.prefixes.v1}"/"${plan.probe.prefixes.v2}"`,
    `  in force   ${plan.metricsUrl ? `the gateway's weights on ${plan.metricsUrl}` : `verify rounds of ${VERIFY_ROUND} connections`}, at most ${formatDuration(plan.applyTimeoutMs)} after each change`,
  ];
  if (plan.baselineMs > 0)
    lines.push(
      `  baseline   observe weight ${plan.startWeight} for ${formatDuration(plan.baselineMs)} (about ${Math.round((plan.probe.rate * plan.baselineMs) / 1000)} connections)`,
    );
  plan.steps.forEach((weight, i) => {
    lines.push(
      `  step ${i + 1}/${plan.steps.length}   ${plan.changes[i]}; observe ${formatDuration(plan.intervalMs)} (about ${perWindow} connections, ${Math.round((perWindow * weight) / 100)} to v2)`,
    );
  });
  lines.push(
    `  rollback   on a failed gate, to ${plan.rollbackTo === 0 ? "weight 0" : "the last good step (a step whose every gate passed)"}, applied the same way`,
    "  gates",
    ...gateRules(plan).map((rule) => `    - ${rule}`),
  );
  return `${lines.join("\n")}\n`;
}
