/** Judge a verify measurement against the expected share and format it for people and JSON. */
import { joinHostPort } from "../../contract/hostPort";
import type { VerifyResult } from "./verify";
import type { VerifyArgs } from "./verifyArgs";
import { judgeShare, percentile, type ShareJudgement, VERDICT_EXIT_CODES } from "./verifyStats";
/** A measurement with its judgement: what the report and the JSON show. */
export interface VerifyReport
  extends Pick<
    VerifyResult,
    "prefixes" | "counts" | "failed" | "errors" | "unexpectedReply" | "durationMs"
  > {
  target: string;
  connections: number;
  concurrency: number;
  timeoutMs: number;
  /** Observed v2 share (0..1) of answered connections. */
  v2Share: number | null;
  /** Wilson 95% interval of the v2 share (0..1). */
  v2ShareInterval95: { low: number; high: number };
  expectV2: number | null;
  /** Exact two-sided binomial p-value against `expectV2`. */
  pValue: number | null;
  verdict: ShareJudgement["verdict"];
  exitCode: number;
  latencyMs: { p50: number | null; p99: number | null };
}

/** Judge a measurement against the expectation and pick the exit code. */
export function buildReport(
  args: Pick<VerifyArgs, "concurrency" | "timeoutMs" | "expectV2">,
  result: VerifyResult,
): VerifyReport {
  const judgement = judgeShare({
    v1: result.counts.v1,
    v2: result.counts.v2,
    attempted: result.attempted,
    failed: result.failed,
    ...(args.expectV2 === undefined ? {} : { expectV2: args.expectV2 }),
  });
  const round = (value: number | undefined) =>
    value === undefined ? null : Math.round(value * 1000) / 1000;
  return {
    target: joinHostPort(result.host, result.port),
    connections: result.attempted,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    prefixes: result.prefixes,
    counts: result.counts,
    failed: result.failed,
    errors: result.errors,
    ...(result.unexpectedReply === undefined ? {} : { unexpectedReply: result.unexpectedReply }),
    v2Share: judgement.share ?? null,
    v2ShareInterval95: judgement.interval,
    expectV2: args.expectV2 ?? null,
    pValue: judgement.pValue ?? null,
    verdict: judgement.verdict,
    exitCode: VERDICT_EXIT_CODES[judgement.verdict],
    latencyMs: {
      p50: round(percentile(result.latenciesMs, 50)),
      p99: round(percentile(result.latenciesMs, 99)),
    },
    durationMs: Math.round(result.durationMs),
  };
}

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

function formatPValue(p: number): string {
  if (p === 0) return "p < 1e-300";
  return p >= 0.001 ? `p = ${p.toFixed(3)}` : `p = ${p.toExponential(1)}`;
}

/** The human-readable report, one fact per line. */
export function formatReport(report: VerifyReport): string {
  const answered = report.counts.v1 + report.counts.v2;
  const share = (count: number) => (answered === 0 ? "-" : percent(count / answered));
  const lines = [
    `verify ${report.target}: ${report.connections} new connections, concurrency ${report.concurrency}`,
    `  v1 (${report.prefixes.v1})  ${String(report.counts.v1).padStart(6)}  ${share(report.counts.v1)}`,
    `  v2 (${report.prefixes.v2})  ${String(report.counts.v2).padStart(6)}  ${share(report.counts.v2)}`,
  ];
  if (report.v2Share !== null) {
    const { low, high } = report.v2ShareInterval95;
    lines.push(
      `  v2 share  ${percent(report.v2Share)} (95% interval ${percent(low)} to ${percent(high)}, Wilson)`,
    );
  }
  const errorList = Object.entries(report.errors)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(", ");
  lines.push(
    `  errors    ${report.failed} of ${report.connections} (${percent(report.failed / report.connections)})${errorList ? `: ${errorList}` : ""}`,
  );
  if (report.unexpectedReply !== undefined)
    lines.push(`  first unexpected reply: ${JSON.stringify(report.unexpectedReply)}`);
  if (report.latencyMs.p50 !== null && report.latencyMs.p99 !== null)
    lines.push(
      `  latency   p50 ${report.latencyMs.p50.toFixed(1)} ms, p99 ${report.latencyMs.p99.toFixed(1)} ms`,
    );
  lines.push(`  result    ${verdictLine(report)} (exit ${report.exitCode})`);
  return `${lines.join("\n")}\n`;
}

function verdictLine(report: VerifyReport): string {
  const p = report.pValue === null ? "" : `, ${formatPValue(report.pValue)}`;
  switch (report.verdict) {
    case "failures":
      return `more than 1% of connections failed: the split is not judged${p}`;
    case "inconsistent":
      return `INCONSISTENT with v2 = ${report.expectV2}% (exact binomial${p})`;
    case "consistent":
      return `consistent with v2 = ${report.expectV2}% (exact binomial${p})`;
    case "measured":
      return "measured (pass --expect-v2 W to test against a weight)";
  }
}
