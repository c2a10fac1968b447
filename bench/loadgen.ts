/**
 * Wrapper around the C load generator (bench/loadgen.c) and the C echo backend (bench/echo.c):
 * compiles both (and the drain check's client, bench/drainClient.c; all three include
 * bench/benchCommon.h) with `cc -O2` into the git-ignored bench/results/bin at bench time and
 * runs the load generator, parsing the JSON line it prints.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SOURCE_HOSTS } from "./addressPlan";
import { startChild, stderrOf, stopChild, waitForLine } from "./children";

const BENCH_DIR = __dirname;
/** Compiled helpers live here (git-ignored through bench/results/). */
export const BIN_DIR = join(BENCH_DIR, "results", "bin");
export const LOADGEN_BIN = join(BIN_DIR, "loadgen");
export const ECHO_BIN = join(BIN_DIR, "echo");
export const DRAIN_CLIENT_BIN = join(BIN_DIR, "drainclient");

/** The header every C helper includes. */
const COMMON_HEADER = join(BENCH_DIR, "benchCommon.h");

/** Compile the C helpers when a binary is missing or older than its source or the header. */
export function compileNativeHelpers(): void {
  mkdirSync(BIN_DIR, { recursive: true });
  const headerMs = statSync(COMMON_HEADER).mtimeMs;
  for (const [source, binary] of [
    [join(BENCH_DIR, "loadgen.c"), LOADGEN_BIN],
    [join(BENCH_DIR, "echo.c"), ECHO_BIN],
    [join(BENCH_DIR, "drainClient.c"), DRAIN_CLIENT_BIN],
  ] as const) {
    const newest = Math.max(statSync(source).mtimeMs, headerMs);
    if (existsSync(binary) && statSync(binary).mtimeMs > newest) continue;
    try {
      execFileSync("cc", ["-O2", "-Wall", "-Wextra", "-o", binary, source], { stdio: "pipe" });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
      throw new Error(`cannot compile ${source} with cc (apt-get install gcc): ${stderr}`);
    }
  }
}

/** What the load generator reports for one phase. */
export interface LoadgenResult {
  phase: string;
  ok: number;
  errors: number;
  firstError: string;
  one: number;
  two: number;
  elapsedSec: number;
  connPerSec: number;
  latencyUs: { count: number; mean: number; p50: number; p90: number; p99: number; max: number };
  bytes: number;
  mbPerSec: number;
  /** Bulk: payload bytes written, and payload bytes that came back checked. */
  sentBytes: number;
  verifiedBytes: number;
  /** The load generator's own CPU time (user + system), seconds. */
  cpuSec: number;
}

/** Parse one JSON line of the load generator. */
export function parseLoadgenLine(line: string): LoadgenResult {
  const value = JSON.parse(line) as LoadgenResult;
  if (typeof value.ok !== "number" || typeof value.errors !== "number")
    throw new Error(`unexpected loadgen output: ${line}`);
  return value;
}

/** Arguments of one load generator phase. */
export interface LoadgenArgs {
  mode: "conn" | "rate" | "bulk" | "idle";
  /** `127.0.0.1:PORT` or `127.0.0.1:PORT=WEIGHT` (direct mode spreads over the backends). */
  targets: readonly string[];
  /** Source addresses, spread evenly per target. @default SOURCE_HOSTS (addressPlan.ts) */
  sources?: readonly string[];
  /** Bulk: one line per this many ms per connection (a paced long-lived stream). */
  intervalMs?: number;
  concurrency?: number;
  rate?: number;
  durationSec: number;
  count?: number;
  lineSize?: number;
  window?: number;
  /** Report errors instead of failing (the reload phase counts them as lost connections). */
  allowErrors?: boolean;
}

function argv(args: LoadgenArgs): string[] {
  const out = ["--mode", args.mode, "--duration", String(args.durationSec)];
  for (const target of args.targets) out.push("--target", target);
  for (const source of args.sources ?? SOURCE_HOSTS) out.push("--source", source);
  if (args.intervalMs !== undefined) out.push("--interval-ms", String(args.intervalMs));
  if (args.concurrency !== undefined) out.push("--concurrency", String(args.concurrency));
  if (args.rate !== undefined) out.push("--rate", String(args.rate));
  if (args.count !== undefined) out.push("--count", String(args.count));
  if (args.lineSize !== undefined) out.push("--line-size", String(args.lineSize));
  if (args.window !== undefined) out.push("--window", String(args.window));
  if (args.allowErrors) out.push("--allow-errors");
  return out;
}

/** A phase failed: a wrong, missing or late reply, or a refused connection. */
export class LoadgenError extends Error {
  constructor(
    message: string,
    readonly result?: LoadgenResult,
  ) {
    super(message);
    this.name = "LoadgenError";
  }
}

function check(result: LoadgenResult, args: LoadgenArgs, label: string): LoadgenResult {
  if (result.errors > 0 && !args.allowErrors)
    throw new LoadgenError(
      `${label}: ${args.mode} phase had ${result.errors} errors, first: ${result.firstError}`,
      result,
    );
  return result;
}

/**
 * Run one bounded phase and return its result; throws {@link LoadgenError} on any error.
 * `until`: end the phase early once it resolves (SIGTERM: a bulk phase then half-closes every
 * stream and still checks that every byte comes back).
 */
export async function runLoadgen(
  args: LoadgenArgs,
  label: string,
  until?: Promise<unknown>,
): Promise<LoadgenResult> {
  const child = startChild({ command: LOADGEN_BIN, args: argv(args), label: `loadgen ${label}` });
  child.stdin?.end();
  until?.then(
    () => child.kill("SIGTERM"),
    () => child.kill("SIGTERM"),
  );
  const line = waitForLine(child, /^\{"phase"/, (args.durationSec + 20) * 1000);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let text: string;
  try {
    text = await line;
  } catch (error) {
    await stopChild(child, 500);
    throw new LoadgenError(`${label}: loadgen failed: ${(error as Error).message}`);
  }
  const code = await exited;
  const result = parseLoadgenLine(text);
  if (code !== 0 && code !== 1)
    throw new LoadgenError(`${label}: loadgen exited ${code}: ${stderrOf(child)}`);
  return check(result, args, label);
}

/** Open idle connections, held until {@link IdleSession.release}. */
export interface IdleSession {
  /** All connections are open and each answered one line. */
  ready: LoadgenResult;
  /** Close them all and return the final report (errors = connections the peer dropped). */
  release(): Promise<LoadgenResult>;
}

/** Open `count` connections (each checked with one line) and keep them open. */
export async function openIdle(args: LoadgenArgs, label: string): Promise<IdleSession> {
  const child = startChild({ command: LOADGEN_BIN, args: argv(args), label: `loadgen ${label}` });
  const final = waitForLine(child, /^\{"phase":"idle"/, (args.durationSec + 30) * 1000);
  final.catch(() => {}); // awaited in release()
  let readyLine: string;
  try {
    readyLine = await waitForLine(child, /^\{"phase":"ready"/, args.durationSec * 1000);
  } catch (error) {
    await stopChild(child, 500);
    throw new LoadgenError(`${label}: idle connections: ${(error as Error).message}`);
  }
  let ready: LoadgenResult;
  try {
    ready = check(parseLoadgenLine(readyLine), args, label);
  } catch (error) {
    await stopChild(child, 500);
    throw error;
  }
  return {
    ready,
    release: async () => {
      child.stdin?.end("\n");
      try {
        return check(parseLoadgenLine(await final), args, label);
      } finally {
        await stopChild(child, 1000);
      }
    },
  };
}
