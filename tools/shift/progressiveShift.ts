/**
 * The shift itself: observe the starting weight, then for each step set the weight, wait until
 * it is in force, observe real connections for the interval and judge the gates; on a failed gate
 * set the weight back to the last good step (or 0) the same way. Ctrl-C (the signal) stops
 * between steps and leaves the weight where it is.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { EXIT_CODES } from "../../contract/exitCodes";
import { UserError } from "../../contract/userError";
import type { Version } from "../../contract/versions";
import { percentile } from "../../dataplane/verify/verifyStats";
import {
  type GatewaySnapshot,
  type MetricsSource,
  type RouteFigures,
  routeDelta,
  SCRAPE_STALENESS_MS,
} from "./gatewayScrape";
import { type InForceResult, waitInForce } from "./inForce";
import { observeWindow, type WindowCounts } from "./probeWindow";
import { type GateResult, judgeWindow } from "./shiftGates";
import { formatDuration, type ShiftPlan } from "./shiftPlan";
import type { WeightTarget } from "./weightTarget";

/** A window's figures as reported (latencies summarised, not listed). */
export interface WindowSummary
  extends Pick<
    WindowCounts,
    "attempted" | "answered" | "failed" | "failures" | "unexpectedReply" | "durationMs"
  > {
  latencyMs: Record<Version, { p50: number | null; p99: number | null }>;
  /** The gateway's per-version counters over the window, with `--metrics`. */
  gateway?: Record<Version, RouteFigures>;
}

/** One line of the step log. */
export interface StepRecord {
  kind: "baseline" | "step" | "rollback";
  /** 1-based step number (steps only). */
  step?: number;
  weight: number;
  previousWeight?: number;
  /** How long setting the weight took (a write, or pulumi up), and why it failed. */
  apply?: { ms: number; error?: string };
  inForce?: InForceResult;
  window?: WindowSummary;
  gates: GateResult[];
  verdict: "pass" | "inconclusive" | "fail" | "stopped";
  /** Why the step failed when no gate says it (apply error, not in force, not conclusive). */
  reason?: string;
}

/** How a shift ended. */
export interface ShiftOutcome {
  result: "promoted" | "rolled back" | "rollback failed" | "not started" | "stopped";
  exitCode: number;
  /** The weight the target holds at the end. */
  finalWeight: number;
  /** The last step whose every gate passed (the starting weight if none). */
  lastGoodWeight: number;
  /** What failed: the record and a one-line reason with the figures. */
  failure?: { record: StepRecord; reason: string };
  rollback?: { to: number; record: StepRecord };
  records: StepRecord[];
  startedAt: string;
  durationMs: number;
}

/** What the run reports while it goes. */
export interface ShiftObserver {
  /** A step (or baseline, or rollback) is judged. */
  onRecord?(record: StepRecord, plan: ShiftPlan): void;
  /** Live status while waiting or observing (a terminal redraws it). */
  onStatus?(text: string): void;
  /** Output of the tool that applies a change (pulumi up). */
  onToolOutput?(text: string): void;
  /** A plain notice (Ctrl-C seen, rollback starting). */
  onNotice?(text: string): void;
}

/** What the run needs. */
export interface ShiftDependencies {
  target: WeightTarget;
  metrics?: MetricsSource;
  signal?: AbortSignal;
  observer?: ShiftObserver;
}

function summarise(counts: WindowCounts, gateway?: Record<Version, RouteFigures>): WindowSummary {
  const round = (value: number | undefined) =>
    value === undefined ? null : Math.round(value * 1000) / 1000;
  const latency = (values: number[]) => ({
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
  });
  return {
    attempted: counts.attempted,
    answered: counts.answered,
    failed: counts.failed,
    failures: counts.failures,
    ...(counts.unexpectedReply === undefined ? {} : { unexpectedReply: counts.unexpectedReply }),
    latencyMs: { v1: latency(counts.latenciesMs.v1), v2: latency(counts.latenciesMs.v2) },
    durationMs: Math.round(counts.durationMs),
    ...(gateway ? { gateway } : {}),
  };
}

const gateVerdict = (gates: GateResult[]): StepRecord["verdict"] => {
  if (gates.some((gate) => gate.verdict === "fail")) return "fail";
  if (gates.some((gate) => gate.verdict === "inconclusive")) return "inconclusive";
  return "pass";
};

/** The failed gates of a record, as one line: "errors: ...; latency: ...". */
export function failureReason(record: StepRecord): string {
  if (record.reason) return record.reason;
  return record.gates
    .filter((gate) => gate.verdict === "fail")
    .map((gate) => `${gate.gate}: ${gate.summary}`)
    .join("; ");
}

/** Run `plan` against the target. Resolves with the outcome; rejects only on a bug. */
export async function runShift(plan: ShiftPlan, deps: ShiftDependencies): Promise<ShiftOutcome> {
  const { target, metrics, signal, observer } = deps;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const records: StepRecord[] = [];
  const probe = plan.probe;
  let current = plan.startWeight;
  let lastGood = plan.startWeight;
  let baseline: { weight: number; probe: WindowCounts } | undefined;

  const finish = (
    result: ShiftOutcome["result"],
    extra: Partial<ShiftOutcome> = {},
  ): ShiftOutcome => ({
    result,
    exitCode:
      result === "promoted"
        ? EXIT_CODES.ok
        : result === "stopped"
          ? EXIT_CODES.interrupted
          : EXIT_CODES.failure,
    finalWeight: current,
    lastGoodWeight: lastGood,
    records,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    ...extra,
  });
  const record = (entry: StepRecord): StepRecord => {
    records.push(entry);
    observer?.onRecord?.(entry, plan);
    return entry;
  };
  const label = (step?: number) =>
    step === undefined ? "baseline" : `step ${step}/${plan.steps.length}`;

  /** Scrape, or a failure reason. */
  const scrape = async (): Promise<GatewaySnapshot | string | undefined> => {
    if (!metrics) return undefined;
    try {
      return await metrics.scrape();
    } catch (error) {
      return (error as Error).message;
    }
  };

  /** One observation window with its gates; a string when it could not be observed. */
  const observe = async (
    weight: number,
    durationMs: number,
    step: number | undefined,
    previousWeight: number | undefined,
  ): Promise<{ gates: GateResult[]; window: WindowSummary; counts: WindowCounts } | string> => {
    const before = await scrape();
    if (typeof before === "string") return before;
    let lastStatus = 0;
    const counts = await observeWindow(probe, {
      durationMs,
      ...(signal ? { signal } : {}),
      onProgress: (so, elapsedMs) => {
        const now = performance.now();
        if (!observer?.onStatus || now - lastStatus < 250) return;
        lastStatus = now;
        observer.onStatus(
          `${label(step)} weight ${weight}: ${formatDuration(elapsedMs)} of ${formatDuration(durationMs)}, ${so.attempted} connections (${so.answered.v2} v2), ${so.failed} failed`,
        );
      },
    });
    // The gateway's answer may be that old: waiting as long first, it counts the last connections.
    if (metrics) await sleep(SCRAPE_STALENESS_MS);
    const after = await scrape();
    if (typeof after === "string") return after;
    const gateway =
      before && after
        ? {
            v1: routeDelta(before.routes.v1, after.routes.v1),
            v2: routeDelta(before.routes.v2, after.routes.v2),
          }
        : undefined;
    const gates = judgeWindow(
      {
        weight,
        ...(previousWeight === undefined ? {} : { previousWeight }),
        probe: counts,
        ...(gateway ? { gateway } : {}),
        ...(baseline ? { baseline } : {}),
      },
      plan.policy,
    );
    return { gates, window: summarise(counts, gateway), counts };
  };

  /** Set the weight, then wait until it is in force. */
  const apply = async (
    weight: number,
    previousWeight: number,
  ): Promise<{ apply: StepRecord["apply"]; inForce?: InForceResult }> => {
    const before = await scrape();
    observer?.onStatus?.(`setting weight ${weight}: ${target.describeChange(weight)}`);
    const applyStarted = performance.now();
    try {
      await target.setWeight(weight, (text) => observer?.onToolOutput?.(text));
    } catch (error) {
      if (!(error instanceof UserError) && !(error as NodeJS.ErrnoException).code) throw error;
      return {
        apply: {
          ms: Math.round(performance.now() - applyStarted),
          error: (error as Error).message,
        },
      };
    }
    current = weight;
    const applied = { ms: Math.round(performance.now() - applyStarted) };
    observer?.onStatus?.(`weight ${weight} applied; waiting until it is in force`);
    const inForce = await waitInForce({
      weight,
      previousWeight,
      probe,
      ...(metrics ? { metrics } : {}),
      ...(before && typeof before !== "string" ? { before } : {}),
      timeoutMs: plan.applyTimeoutMs,
      ...(signal ? { signal } : {}),
    }).catch(
      (error: Error): InForceResult => ({
        inForce: false,
        afterMs: 0,
        how: metrics ? "metrics" : "verify",
        detail: error.message,
      }),
    );
    return { apply: applied, inForce };
  };

  const rollback = async (failed: StepRecord): Promise<ShiftOutcome> => {
    const to = plan.rollbackTo === 0 ? 0 : lastGood;
    const reason = failureReason(failed);
    observer?.onNotice?.(`rolling back to weight ${to}: ${reason}`);
    const from = current;
    const { apply: applied, inForce } = await apply(to, from);
    const entry: StepRecord = {
      kind: "rollback",
      weight: to,
      previousWeight: from,
      ...(applied ? { apply: applied } : {}),
      ...(inForce ? { inForce } : {}),
      gates: [],
      verdict: applied?.error ? "fail" : inForce?.inForce ? "pass" : "inconclusive",
      ...(applied?.error ? { reason: `the rollback could not be applied: ${applied.error}` } : {}),
    };
    record(entry);
    return finish(applied?.error ? "rollback failed" : "rolled back", {
      failure: { record: failed, reason },
      rollback: { to, record: entry },
    });
  };

  const stopped = (what: string): ShiftOutcome => {
    observer?.onNotice?.(
      `stopped by Ctrl-C ${what}: the target holds weight ${current}; nothing was rolled back`,
    );
    return finish("stopped");
  };

  if (plan.baselineMs > 0) {
    const observed = await observe(current, plan.baselineMs, undefined, undefined);
    if (signal?.aborted) return stopped("during the baseline");
    if (typeof observed === "string") {
      const entry = record({
        kind: "baseline",
        weight: current,
        gates: [],
        verdict: "fail",
        reason: observed,
      });
      return finish("not started", { failure: { record: entry, reason: observed } });
    }
    const entry = record({
      kind: "baseline",
      weight: current,
      window: observed.window,
      gates: observed.gates,
      verdict: gateVerdict(observed.gates),
    });
    if (entry.verdict === "fail")
      return finish("not started", { failure: { record: entry, reason: failureReason(entry) } });
    baseline = { weight: current, probe: observed.counts };
  }

  for (const [index, weight] of plan.steps.entries()) {
    const step = index + 1;
    const previousWeight = current;
    if (signal?.aborted) return stopped(`before step ${step}`);
    const { apply: applied, inForce } = await apply(weight, previousWeight);
    const base = {
      kind: "step" as const,
      step,
      weight,
      previousWeight,
      ...(applied ? { apply: applied } : {}),
      ...(inForce ? { inForce } : {}),
    };
    if (applied?.error) {
      const entry = record({
        ...base,
        gates: [],
        verdict: "fail",
        reason: `setting the weight failed: ${applied.error}`,
      });
      return rollback(entry);
    }
    if (signal?.aborted)
      return stopped(`after setting weight ${weight} (step ${step}, not observed)`);
    if (!inForce?.inForce) {
      const entry = record({
        ...base,
        gates: [
          {
            gate: "took effect",
            verdict: "fail",
            summary: `not in force within ${formatDuration(plan.applyTimeoutMs)}: ${inForce?.detail}`,
            tests: [],
          },
        ],
        verdict: "fail",
      });
      return rollback(entry);
    }
    const observed = await observe(weight, plan.intervalMs, step, previousWeight);
    if (signal?.aborted)
      return stopped(`while observing step ${step} (weight ${weight}, applied, not judged)`);
    if (typeof observed === "string") {
      const entry = record({ ...base, gates: [], verdict: "fail", reason: observed });
      return rollback(entry);
    }
    const verdict = gateVerdict(observed.gates);
    const last = step === plan.steps.length;
    const entry = record({
      ...base,
      window: observed.window,
      gates: observed.gates,
      verdict: verdict === "inconclusive" && last ? "fail" : verdict,
      ...(verdict === "inconclusive" && last
        ? {
            reason: `the last step must pass with enough connections to promote, and ${observed.gates
              .filter((gate) => gate.verdict === "inconclusive")
              .map((gate) => `${gate.gate}: ${gate.summary}`)
              .join("; ")}`,
          }
        : {}),
    });
    if (entry.verdict === "fail") return rollback(entry);
    if (entry.verdict === "pass") lastGood = weight;
  }
  return finish("promoted");
}
