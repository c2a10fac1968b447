/** What `npm run shift` prints: a line per step, the result, the Markdown report and the JSON. */
import { joinHostPort } from "../../contract/hostPort";
import type { ShiftOutcome, StepRecord } from "./progressiveShift";
import { GATE_NAMES, percent } from "./shiftGates";
import { formatDuration, gateRules, type ShiftPlan } from "./shiftPlan";

const recordLabel = (record: StepRecord, plan: ShiftPlan): string =>
  record.kind === "step" ? `step ${record.step}/${plan.steps.length}` : record.kind;

function shareText(record: StepRecord): string {
  const window = record.window;
  if (!window) return "-";
  const answered = window.answered.v1 + window.answered.v2;
  return answered === 0 ? "-" : percent(window.answered.v2 / answered);
}

function latencyText(record: StepRecord, q: "p50" | "p99"): string {
  const window = record.window;
  if (!window) return "-";
  const v1 = window.latencyMs.v1[q];
  const v2 = window.latencyMs.v2[q];
  const show = (value: number | null) => (value === null ? "-" : value.toFixed(1));
  return `${show(v1)} / ${show(v2)} ms`;
}

function inForceText(record: StepRecord): string {
  if (record.apply?.error) return "not applied";
  if (!record.inForce) return "-";
  const seconds = formatDuration(record.inForce.afterMs);
  return record.inForce.inForce
    ? `${seconds} (${record.inForce.how})`
    : `no (${record.inForce.how})`;
}

const VERDICT_WORDS: Record<StepRecord["verdict"], string> = {
  pass: "pass",
  inconclusive: "pass, not conclusive",
  fail: "FAIL",
  stopped: "stopped",
};

/** One progress line per judged step; failed and inconclusive gates follow, indented. */
export function formatRecordLine(record: StepRecord, plan: ShiftPlan): string {
  const head = `${recordLabel(record, plan).padEnd(10)} weight ${String(record.weight).padEnd(4)}`;
  if (record.kind === "rollback") {
    const state = record.apply?.error
      ? `FAILED: ${record.apply.error}`
      : record.inForce?.inForce
        ? `in force after ${formatDuration(record.inForce.afterMs)} (${record.inForce.detail})`
        : `applied, NOT confirmed in force: ${record.inForce?.detail}`;
    return `${head} ${state}\n`;
  }
  const window = record.window;
  const parts = [head];
  if (record.kind === "step") parts.push(`in force ${inForceText(record)}`);
  if (window)
    parts.push(
      `${window.attempted} conn, v2 ${shareText(record)}, failed ${window.failed}, p99 v1/v2 ${latencyText(record, "p99")}`,
    );
  parts.push(VERDICT_WORDS[record.verdict]);
  const lines = [parts.join("  ")];
  if (record.reason) lines.push(`    ${record.reason}`);
  for (const gate of record.gates)
    if (gate.verdict === "fail" || gate.verdict === "inconclusive")
      lines.push(`    ${gate.gate} ${gate.verdict}: ${gate.summary}`);
  return `${lines.join("\n")}\n`;
}

/** The last line: what happened and where the weight is. */
export function formatOutcome(outcome: ShiftOutcome, plan: ShiftPlan): string {
  const took = formatDuration(outcome.durationMs);
  switch (outcome.result) {
    case "promoted":
      return `promoted: weight ${outcome.finalWeight} in force, every step passed (${took}, exit ${outcome.exitCode})\n`;
    case "rolled back":
    case "rollback failed": {
      const failed = outcome.failure?.record as StepRecord;
      const gates = failed.gates.filter((gate) => gate.verdict === "fail").map((gate) => gate.gate);
      const why =
        gates.length > 0
          ? `failed the ${gates.join(" and ")} gate${gates.length > 1 ? "s" : ""}`
          : `failed: ${outcome.failure?.reason}`;
      const back =
        outcome.result === "rolled back"
          ? `ROLLED BACK to weight ${outcome.rollback?.to}`
          : `ROLLBACK FAILED: the target holds weight ${outcome.finalWeight}, fix it by hand`;
      return `${back}: ${recordLabel(failed, plan)} (weight ${failed.weight}) ${why} (${took}, exit ${outcome.exitCode})\n`;
    }
    case "not started":
      return `not started, nothing was changed: ${outcome.failure?.reason} (exit ${outcome.exitCode})\n`;
    case "stopped":
      return `stopped by Ctrl-C: the target holds weight ${outcome.finalWeight}; nothing was rolled back (exit ${outcome.exitCode})\n`;
  }
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function gateCell(record: StepRecord, name: (typeof GATE_NAMES)[number]): string {
  const gate = record.gates.find((g) => g.gate === name);
  if (!gate) return record.kind === "rollback" ? "" : "-";
  return gate.verdict === "fail" ? "**FAIL**" : gate.verdict;
}

const TITLES: Record<ShiftOutcome["result"], string> = {
  promoted: "promoted",
  "rolled back": "rolled back",
  "rollback failed": "ROLLBACK FAILED",
  "not started": "not started",
  stopped: "stopped by Ctrl-C",
};

/** The step log as Markdown, fit for a pull-request comment or a job summary. */
export function formatMarkdown(outcome: ShiftOutcome, plan: ShiftPlan): string {
  const gates = GATE_NAMES.filter((name) => name !== "gateway" || plan.metricsUrl !== undefined);
  const lines: string[] = [];
  const path = [plan.startWeight, ...plan.steps].join(" → ");
  lines.push(
    `## tcp-shift: ${TITLES[outcome.result]} (weight ${outcome.finalWeight} now)`,
    "",
    formatOutcome(outcome, plan).trim(),
    "",
    "| | |",
    "| --- | --- |",
    `| target | ${cell(plan.target)} |`,
    `| steps | ${path}, ${formatDuration(plan.intervalMs)} each${plan.baselineMs > 0 ? `, after a ${formatDuration(plan.baselineMs)} baseline` : ""} |`,
    `| probe | ${joinHostPort(plan.probe.host, plan.probe.port)}: ${plan.probe.rate} new connections/s, at most ${plan.probe.concurrency} open |`,
    ...(plan.metricsUrl ? [`| gateway metrics | ${plan.metricsUrl} |`] : []),
    `| started | ${outcome.startedAt}, took ${formatDuration(outcome.durationMs)} |`,
    "",
    `| step | weight | in force | connections | v2 share | failed | p50 v1 / v2 | p99 v1 / v2 | ${gates.join(" | ")} | result |`,
    `| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ${gates.map(() => "---").join(" | ")} | --- |`,
  );
  for (const record of outcome.records) {
    const window = record.window;
    lines.push(
      `| ${recordLabel(record, plan)} | ${record.weight} | ${inForceText(record)} | ${window?.attempted ?? "-"} | ${shareText(record)} | ${window ? `${window.failed}` : "-"} | ${latencyText(record, "p50")} | ${latencyText(record, "p99")} | ${gates.map((name) => gateCell(record, name)).join(" | ")} | ${record.kind === "rollback" ? (record.verdict === "pass" ? "rolled back" : record.verdict === "fail" ? "**FAILED**" : "applied, not confirmed") : VERDICT_WORDS[record.verdict]} |`,
    );
  }
  if (outcome.failure) {
    const failed = outcome.failure.record;
    lines.push("", `### Why: ${recordLabel(failed, plan)}, weight ${failed.weight}`, "");
    if (failed.reason) lines.push(`- ${cell(failed.reason)}`);
    for (const gate of failed.gates)
      if (gate.verdict === "fail") lines.push(`- **${gate.gate}** failed: ${cell(gate.summary)}`);
    const rollback = outcome.rollback?.record;
    if (rollback)
      lines.push(
        `- rollback to weight ${rollback.weight}: ${
          rollback.apply?.error
            ? `**failed**: ${cell(rollback.apply.error)}`
            : rollback.inForce?.inForce
              ? `in force after ${formatDuration(rollback.inForce.afterMs)} (${cell(rollback.inForce.detail)})`
              : `applied, not confirmed in force: ${cell(rollback.inForce?.detail ?? "")}`
        }`,
      );
  }
  lines.push("", "<details><summary>Every gate, with its figures</summary>", "");
  for (const record of outcome.records) {
    if (record.gates.length === 0 && !record.inForce) continue;
    lines.push(`**${recordLabel(record, plan)}, weight ${record.weight}**`, "");
    if (record.inForce) lines.push(`- in force: ${cell(record.inForce.detail)}`);
    for (const gate of record.gates)
      lines.push(`- ${gate.gate}: ${gate.verdict}, ${cell(gate.summary)}`);
    lines.push("");
  }
  lines.push("</details>", "", "**How the gates decide**", "");
  for (const rule of gateRules(plan)) lines.push(`- ${rule}`);
  return `${lines.join("\n")}\n`;
}

/**
 * `JSON.stringify` replacer of `--json`: the +Inf bucket bound of a duration histogram as
 * Prometheus writes it (JSON has no infinity and would write null).
 */
export function shiftJsonReplacer(_key: string, value: unknown): unknown {
  return value === Number.POSITIVE_INFINITY ? "+Inf" : value;
}

/** The JSON of `--json`: the plan, every record, the outcome (`shiftJsonReplacer` for +Inf). */
export function shiftJson(outcome: ShiftOutcome, plan: ShiftPlan): Record<string, unknown> {
  return {
    result: outcome.result,
    exitCode: outcome.exitCode,
    finalWeight: outcome.finalWeight,
    lastGoodWeight: outcome.lastGoodWeight,
    ...(outcome.failure
      ? {
          failure: {
            kind: outcome.failure.record.kind,
            step: outcome.failure.record.step ?? null,
            weight: outcome.failure.record.weight,
            gates: outcome.failure.record.gates
              .filter((gate) => gate.verdict === "fail")
              .map((gate) => gate.gate),
            reason: outcome.failure.reason,
          },
        }
      : {}),
    ...(outcome.rollback ? { rollback: { to: outcome.rollback.to } } : {}),
    plan,
    records: outcome.records,
    startedAt: outcome.startedAt,
    durationMs: outcome.durationMs,
  };
}
