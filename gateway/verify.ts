/**
 * `npm run verify`: measure how a TCP address splits new connections between two tcp-echo
 * versions. Each connection sends one line and classifies the reply by its prefix
 * (`one <line>` is v1, `two <line>` is v2), as the ASM tutorial does by hand with `nc`.
 *
 * The probe, the argument parser and the report are here so tests drive them in-process;
 * `verifyMain.ts` only wires them to the process.
 */

import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { UserError } from "../components/userError";
import { joinHostPort } from "./hostPort";
import { judgeShare, percentile, type ShareJudgement, VERDICT_EXIT_CODES } from "./verifyStats";

/** Reply prefixes that tell the versions apart (tcp-echo's second argument). */
export interface VersionPrefixes {
  v1: string;
  v2: string;
}

/** The tutorial's prefixes. */
export const DEFAULT_PREFIXES: VersionPrefixes = { v1: "one", v2: "two" };

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

/** What one connection ended with. */
export type ProbeOutcome =
  | { kind: "v1" | "v2"; latencyMs: number }
  | { kind: "error"; reason: string; detail?: string };

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
  /** Failed connections by reason (`ECONNREFUSED`, `timeout`, `unexpected reply`, ...). */
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
    const finish = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The reply has been read in full, so closing sends a FIN, not a reset.
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: "error", reason: "timeout" }), target.timeoutMs);
    socket.on("connect", () => socket.write(`${line}\n`));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const end = chunk.indexOf(0x0a);
      if (end === -1) {
        if (size > MAX_REPLY_BYTES)
          finish({ kind: "error", reason: UNEXPECTED_REPLY, detail: "(reply line over 64 KiB)" });
        return;
      }
      const reply = Buffer.concat(chunks).toString("utf8");
      const text = reply.slice(0, reply.indexOf("\n"));
      const latencyMs = performance.now() - started;
      if (text === `${prefixes.v1} ${line}`) finish({ kind: "v1", latencyMs });
      else if (text === `${prefixes.v2} ${line}`) finish({ kind: "v2", latencyMs });
      else finish({ kind: "error", reason: UNEXPECTED_REPLY, detail: text.slice(0, 200) });
    });
    socket.on("end", () => finish({ kind: "error", reason: "closed before reply" }));
    socket.on("close", () => finish({ kind: "error", reason: "closed before reply" }));
    socket.on("error", (error: NodeJS.ErrnoException) =>
      finish({ kind: "error", reason: error.code ?? error.message }),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Command line

/** Exit code for bad arguments: distinct from 1 and 2, which are measurement verdicts. */
export const EXIT_USAGE = 64;
/** Error code of bad command-line arguments. */
export const USAGE_ERROR_CODE = "E_USAGE";

/** Parsed `npm run verify` arguments. */
export interface VerifyArgs {
  host: string;
  port: number;
  connections: number;
  concurrency: number;
  timeoutMs: number;
  prefixes: VersionPrefixes;
  /** Expected v2 percentage; without it verify only measures. */
  expectV2?: number;
  json: boolean;
  help: boolean;
}

/** `--help` text; `npm run verify -- --help`. */
export const VERIFY_USAGE = `Usage: npm run verify -- --host HOST --port PORT [options]

Opens N new TCP connections to HOST:PORT, sends one line on each and classifies the reply by
its prefix ("one ..." is v1, "two ..." is v2, as tcp-echo answers).

Options:
  --host HOST          address to test (default 127.0.0.1)
  --port PORT          TCP port, 1-65535 (default 31400)
  -n, --connections N  new connections to open, 1-100000 (default 200)
  --concurrency C      connections open at once, 1-1000 (default 16)
  --expect-v2 W        expected v2 percentage, 0-100: run an exact binomial test
  --timeout D          per connection: connect and reply within D, e.g. 5s or 500ms (default 5s)
  --prefix-v1 P        reply prefix of v1 (default one)
  --prefix-v2 P        reply prefix of v2 (default two)
  --json               print one JSON object instead of the report
  -h, --help           print this help

Exit codes:
  0   measured; with --expect-v2, the observed share is consistent with W% (p >= 0.001)
  1   with --expect-v2: the observed share is inconsistent with W% (exact binomial p < 0.001)
  2   more than 1% of connections failed (checked first: the counts are then not judged)
  64  bad arguments (nothing was measured)
  70  internal error (a bug: please report it)
`;

function usageError(message: string): UserError {
  return new UserError(USAGE_ERROR_CODE, `${message} (see npm run verify -- --help)`);
}

function integerFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const number = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max))
    throw usageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return number;
}

/** `5s`, `500ms`, `1.5s`, `1m` to milliseconds; `undefined` for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
  return Math.round(Number(match[1]) * unit);
}

function prefixFlag(flag: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (!/^\S{1,64}$/.test(value))
    throw usageError(`${flag} must be 1 to 64 characters without spaces, got "${value}"`);
  return value;
}

/** Parse `npm run verify` arguments; throws `UserError` `E_USAGE` naming the flag. */
export function parseVerifyArgs(argv: readonly string[]): VerifyArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        connections: { type: "string", short: "n" },
        concurrency: { type: "string" },
        "expect-v2": { type: "string" },
        timeout: { type: "string" },
        "prefix-v1": { type: "string" },
        "prefix-v2": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const text = (name: string) => values[name] as string | undefined;
  const host = text("host") ?? "127.0.0.1";
  if (host.trim() === "") throw usageError("--host must be a host name or IP address");
  let timeoutMs = 5000;
  const timeout = text("timeout");
  if (timeout !== undefined) {
    const parsed = parseDuration(timeout);
    if (parsed === undefined || parsed < 1 || parsed > 600_000)
      throw usageError(
        `--timeout must be a duration from 1ms to 10m such as 5s or 500ms, got "${timeout}"`,
      );
    timeoutMs = parsed;
  }
  let expectV2: number | undefined;
  const expect = text("expect-v2");
  if (expect !== undefined) {
    expectV2 = /^\s*\d+(\.\d+)?\s*$/.test(expect) ? Number(expect) : Number.NaN;
    if (!(expectV2 >= 0 && expectV2 <= 100))
      throw usageError(`--expect-v2 must be a percentage from 0 to 100, got "${expect}"`);
  }
  const prefixes = {
    v1: prefixFlag("--prefix-v1", text("prefix-v1"), DEFAULT_PREFIXES.v1),
    v2: prefixFlag("--prefix-v2", text("prefix-v2"), DEFAULT_PREFIXES.v2),
  };
  if (prefixes.v1 === prefixes.v2)
    throw usageError(`--prefix-v1 and --prefix-v2 must differ, both are "${prefixes.v1}"`);
  return {
    host,
    port: integerFlag("--port", text("port"), 1, 65535, 31400),
    connections: integerFlag("-n/--connections", text("connections"), 1, 100_000, 200),
    concurrency: integerFlag("--concurrency", text("concurrency"), 1, 1000, 16),
    timeoutMs,
    prefixes,
    ...(expectV2 === undefined ? {} : { expectV2 }),
    json: values.json === true,
    help: values.help === true,
  };
}

/** A measurement with its judgement: what the report and the JSON show. */
export interface VerifyReport {
  target: string;
  connections: number;
  concurrency: number;
  timeoutMs: number;
  prefixes: VersionPrefixes;
  counts: { v1: number; v2: number };
  failed: number;
  errors: Record<string, number>;
  unexpectedReply?: string;
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
  durationMs: number;
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

/** Where the CLI writes; tests pass buffers. */
export interface VerifyIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A progress display: a bar redrawn in place on a terminal, a plain line every quarter otherwise
 * (CI logs keep every line, so a bar would flood them).
 */
function progressReporter(stream: VerifyIo["stdout"] | undefined): {
  update(done: number, total: number): void;
  clear(): void;
} {
  if (!stream) return { update() {}, clear() {} };
  if (stream.isTTY) {
    let lastDrawn = -1;
    return {
      update(done, total) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        if (filled === lastDrawn && done !== total) return;
        lastDrawn = filled;
        stream.write(`\r  [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`);
      },
      clear() {
        stream.write("\r\x1b[K");
      },
    };
  }
  let quarter = 0;
  return {
    update(done, total) {
      while (quarter < 4 && done >= Math.ceil(((quarter + 1) * total) / 4)) {
        quarter++;
        stream.write(`  ${done}/${total} connections done\n`);
      }
    },
    clear() {},
  };
}

/**
 * The whole command: parse, measure, print, return the exit code. User errors print their
 * message only (no stack) and return `EXIT_USAGE`.
 */
export async function verifyCli(argv: readonly string[], io: VerifyIo): Promise<number> {
  let args: VerifyArgs;
  try {
    args = parseVerifyArgs(argv);
  } catch (error) {
    if (error instanceof UserError) {
      io.stderr.write(`verify: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (args.help) {
    io.stdout.write(VERIFY_USAGE);
    return 0;
  }
  // --json owns stdout (one object); progress then goes to a terminal on stderr, if any.
  const progress = progressReporter(
    args.json ? (io.stderr.isTTY ? io.stderr : undefined) : io.stdout,
  );
  const result = await runVerify({
    host: args.host,
    port: args.port,
    connections: args.connections,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    prefixes: args.prefixes,
    onProgress: (done, total) => progress.update(done, total),
  });
  progress.clear();
  const report = buildReport(args, result);
  io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.exitCode;
}
