/** `npm run shift` command line: flags, defaults, usage text. */
import type { VersionPrefixes } from "../../contract/versions";
import { commandFlags } from "../../dataplane/shared/commandFlags";

/** Where the weight lives and how it is changed. */
export type TargetArgs =
  | { kind: "stack"; stack: string; workDir: string }
  | { kind: "stack-file"; path: string }
  | { kind: "route-file"; path: string };

/** Parsed `npm run shift` arguments. */
export interface ShiftArgs {
  target: TargetArgs;
  /** v2 weights, strictly increasing, 1..100. */
  steps: number[];
  intervalMs: number;
  /** Observation of the starting weight before the first step; 0 skips it. */
  baselineMs: number;
  /** Where a failed gate sends the weight: the last good step, or 0. */
  rollbackTo: "last" | 0;
  /** Probe address; with `--stack` it may come from the stack outputs. */
  host?: string;
  port?: number;
  /** New probe connections per second, and at most this many open at once. */
  rate: number;
  concurrency: number;
  timeoutMs: number;
  /** Given by flags; otherwise from the stack file, else one/two. */
  prefixes: Partial<VersionPrefixes>;
  /** The gateway's `/metrics` URL when it is the splitter. */
  metricsUrl?: string;
  listener?: string;
  routes: { v1: string; v2: string };
  /** Chance that a healthy shift is rolled back, split over every test of the plan (0..1). */
  falseAlarm: number;
  /** Connections per version a comparison needs before it can pass. */
  minSamples: number;
  /** Error ceiling (0..1). */
  maxErrorRate: number;
  /** How much slower v2's p50 and p99 may be than v1's. */
  maxLatencyIncreaseMs: number;
  /** How long a new weight may take to be in force after it was applied. */
  applyTimeoutMs: number;
  reportFile?: string;
  json: boolean;
  dryRun: boolean;
}

/** `--help` text; `npm run shift -- --help`. */
export const SHIFT_USAGE = `Usage: npm run shift -- TARGET --steps 5,20,50,100 --interval 5m --host H --port P [options]

Shifts new TCP connections from v1 to v2 step by step. Each step sets the weight, waits until it
is in force, observes real connections for the interval and gates on them; a failed gate rolls
the weight back and exits 1.

Target (exactly one):
  --stack NAME          a Pulumi stack, through the Automation API: set tcp-shift:weightV2 in its
                        config, then pulumi up (needs the pulumi CLI)
  --work-dir DIR        the Pulumi project of --stack (default: the current directory)
  --stack-file PATH     a Pulumi.<stack>.yaml edited in place as pulumi config set would (what
                        npm start follows)
  --route-file PATH     a bare gateway's route file, rewritten atomically
  --v1-route NAME       route-file and metrics: the route of v1 (default v1)
  --v2-route NAME       route-file and metrics: the route of v2 (default v2)
  --listener NAME       route-file and metrics: the listener (default: the one with both routes)

Plan:
  --steps LIST          v2 weights in percent, increasing, 1-100 (e.g. 5,20,50,100)
  --interval D          observe each step this long: 500ms, 30s, 5m (at most 24h)
  --baseline D          observe the starting weight first (default: the interval; 0 skips)
  --rollback-to last|0  a failed gate sends the weight to the last good step (default) or to 0
  --apply-timeout D     how long a new weight may take to be in force (default 60s)
  --dry-run             print the plan and change nothing

Probe (tcp-echo's protocol, as npm run verify):
  --host HOST --port P  the address clients use (with --stack: default the stack's ingressHost
                        and ingressPort outputs)
  --rate R              new connections per second, 0.1-10000 (default 20)
  --concurrency C       connections open at once, 1-1000 (default 16)
  --timeout D           per connection: connect and reply within D (default 5s)
  --prefix-v1 P         reply prefix of v1 (default: the stack file's prefixV1, else one)
  --prefix-v2 P         reply prefix of v2 (default: the stack file's prefixV2, else two)
  --metrics URL         the gateway's /metrics (when the bundled gateway is the splitter, or
                        npm start --admin 127.0.0.1:9901): the weights it loaded, per-version
                        failures, resets and connection durations of all its traffic

Gates:
  --false-alarm P       chance in percent that a healthy shift is rolled back, split evenly over
                        every test of the plan (default 1)
  --min-samples N       connections per version a gate needs before it can pass (default 100)
  --max-error-rate P    error ceiling in percent (default 1)
  --max-latency-increase D  how much slower v2's p50 and p99 may be (default 10ms)

Output:
  --report FILE         write the step log as Markdown (fit for a pull-request comment)
  --json                print one JSON object on stdout (progress goes to stderr)
  -h, --help            print this help

Exit codes:
  0    promoted: every step passed (or --dry-run)
  1    a gate failed and the weight was rolled back, or the shift could not start
  2    bad arguments (nothing was changed)
  130  stopped by Ctrl-C between steps: the weight stays where it is
  70   internal error (a bug: please report it)
`;

const flags = commandFlags("npm run shift -- --help");

const DAY_MS = 24 * 3_600_000;
const NAME = /^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/;

/** `5,20,50,100`: whole percentages, strictly increasing, 1..100. */
export function parseSteps(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  const steps = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  const bad = parts.find((_, i) => !((steps[i] as number) >= 1 && (steps[i] as number) <= 100));
  if (bad !== undefined)
    throw flags.usageError(
      `--steps must be a comma-separated list of whole percentages from 1 to 100, e.g. 5,20,50,100; "${bad}" is not one`,
    );
  for (let i = 1; i < steps.length; i++)
    if ((steps[i] as number) <= (steps[i - 1] as number))
      throw flags.usageError(
        `--steps must increase (each weight above the one before), got ${steps.join(",")}`,
      );
  return steps;
}

function nameFlag(flag: string, value: string | undefined, fallback?: string): string | undefined {
  if (value === undefined) return fallback;
  if (!NAME.test(value))
    throw flags.usageError(
      `${flag} must be a route-file name (lowercase letters, digits, '-', '_', '.'), got "${value}"`,
    );
  return value;
}

/**
 * Parse `npm run shift` arguments; `"help"` for `-h`/`--help`. Throws `UserError` `E_USAGE`
 * naming the flag and what is allowed.
 */
export function parseShiftArgs(argv: readonly string[], cwd = process.cwd()): ShiftArgs | "help" {
  const { text, given } = flags.parse(argv, {
    stack: { type: "string" },
    "work-dir": { type: "string" },
    "stack-file": { type: "string" },
    "route-file": { type: "string" },
    "v1-route": { type: "string" },
    "v2-route": { type: "string" },
    listener: { type: "string" },
    steps: { type: "string" },
    interval: { type: "string" },
    baseline: { type: "string" },
    "rollback-to": { type: "string" },
    "apply-timeout": { type: "string" },
    "dry-run": { type: "boolean" },
    host: { type: "string" },
    port: { type: "string" },
    rate: { type: "string" },
    concurrency: { type: "string" },
    timeout: { type: "string" },
    "prefix-v1": { type: "string" },
    "prefix-v2": { type: "string" },
    metrics: { type: "string" },
    "false-alarm": { type: "string" },
    "min-samples": { type: "string" },
    "max-error-rate": { type: "string" },
    "max-latency-increase": { type: "string" },
    report: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (given("help")) return "help";

  const targets = (["stack", "stack-file", "route-file"] as const).filter(
    (flag) => text(flag) !== undefined,
  );
  if (targets.length !== 1)
    throw flags.usageError(
      targets.length === 0
        ? "name the target: --stack NAME, --stack-file PATH or --route-file PATH"
        : `give one target, not ${targets.map((flag) => `--${flag}`).join(" and ")}`,
    );
  const flag = targets[0] as (typeof targets)[number];
  const value = text(flag) as string;
  if (value.trim() === "") throw flags.usageError(`--${flag} must not be empty`);
  let target: TargetArgs;
  if (flag === "stack") {
    if (!/^[A-Za-z0-9_.\-/]+$/.test(value))
      throw flags.usageError(
        `--stack must be a stack name (letters, digits, '-', '_', '.', or org/project/stack), got "${value}"`,
      );
    target = { kind: "stack", stack: value, workDir: text("work-dir") ?? cwd };
  } else {
    if (text("work-dir") !== undefined) throw flags.usageError("--work-dir goes with --stack only");
    target = { kind: flag, path: value };
  }
  if (target.kind === "stack-file" && (text("v1-route") ?? text("v2-route")) !== undefined)
    throw flags.usageError(
      "--v1-route and --v2-route name routes of a route file or of --metrics; a stack file's routes are v1 and v2",
    );

  const stepsText = text("steps");
  if (stepsText === undefined)
    throw flags.usageError("--steps is required, e.g. --steps 5,20,50,100");
  const intervalText = text("interval");
  if (intervalText === undefined)
    throw flags.usageError("--interval is required, e.g. --interval 5m");
  const intervalMs = flags.duration("--interval", intervalText, 100, DAY_MS, 0);

  const host = flags.host(text("host"));
  const port =
    text("port") === undefined ? undefined : flags.integer("--port", text("port"), 1, 65535, 0);
  if (target.kind !== "stack" && (host === undefined || port === undefined))
    throw flags.usageError(
      "--host and --port are required: the address clients use (npm start prints it; a CLB's is the stack output ingressHost)",
    );

  const rollback = text("rollback-to") ?? "last";
  if (rollback !== "last" && rollback !== "0")
    throw flags.usageError(`--rollback-to must be last or 0, got "${rollback}"`);

  let metricsUrl = text("metrics");
  if (metricsUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(metricsUrl);
    } catch {}
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
      throw flags.usageError(
        `--metrics must be an http(s) URL such as http://127.0.0.1:9901/metrics, got "${metricsUrl}"`,
      );
    metricsUrl = url.toString();
  }

  const prefixes = flags.prefixes(text("prefix-v1"), text("prefix-v2"));

  const routes = {
    v1: nameFlag("--v1-route", text("v1-route"), "v1") as string,
    v2: nameFlag("--v2-route", text("v2-route"), "v2") as string,
  };
  if (routes.v1 === routes.v2)
    throw flags.usageError(`--v1-route and --v2-route must differ, both are "${routes.v1}"`);
  const listener = nameFlag("--listener", text("listener"));
  const reportFile = text("report");
  if (reportFile !== undefined && reportFile.trim() === "")
    throw flags.usageError("--report must name a file");

  return {
    target,
    steps: parseSteps(stepsText),
    intervalMs,
    baselineMs: flags.duration("--baseline", text("baseline"), 0, DAY_MS, intervalMs),
    rollbackTo: rollback === "0" ? 0 : "last",
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    rate: flags.number("--rate", text("rate"), 0.1, 10_000, 20),
    concurrency: flags.integer("--concurrency", text("concurrency"), 1, 1000, 16),
    timeoutMs: flags.duration("--timeout", text("timeout"), 1, 600_000, 5000),
    prefixes,
    ...(metricsUrl === undefined ? {} : { metricsUrl }),
    ...(listener === undefined ? {} : { listener }),
    routes,
    falseAlarm: flags.percent("--false-alarm", text("false-alarm"), 0.0001, 50, 1),
    minSamples: flags.integer("--min-samples", text("min-samples"), 10, 1_000_000, 100),
    maxErrorRate: flags.percent("--max-error-rate", text("max-error-rate"), 0, 100, 1),
    maxLatencyIncreaseMs: flags.duration(
      "--max-latency-increase",
      text("max-latency-increase"),
      0,
      600_000,
      10,
    ),
    applyTimeoutMs: flags.duration("--apply-timeout", text("apply-timeout"), 100, DAY_MS, 60_000),
    ...(reportFile === undefined ? {} : { reportFile }),
    json: given("json"),
    dryRun: given("dry-run"),
  };
}
