/** `npm run shift` end to end: parse, open the target, plan, run, report, exit code. */
import { writeFileSync } from "node:fs";
import { EXIT_CODES } from "../../contract/exitCodes";
import { joinHostPort } from "../../contract/hostPort";
import { UserError } from "../../contract/userError";
import { DEFAULT_PREFIXES, type VersionPrefixes } from "../../contract/versions";
import { USAGE_ERROR_CODE } from "../../dataplane/shared/commandFlags";
import { httpMetricsSource, type MetricsSource } from "./gatewayScrape";
import { runShift, type ShiftOutcome } from "./progressiveShift";
import {
  pulumiStackTarget,
  type StackOperations,
  selectPulumiStack,
  stackIngress,
} from "./pulumiStackTarget";
import { routeFileTarget } from "./routeFileTarget";
import { parseShiftArgs, SHIFT_USAGE, type ShiftArgs } from "./shiftArgs";
import { buildPlan, formatDuration, formatPlan, type ShiftPlan } from "./shiftPlan";
import {
  formatMarkdown,
  formatOutcome,
  formatRecordLine,
  shiftJson,
  shiftJsonReplacer,
} from "./shiftReport";
import { stackFileTarget } from "./stackFileTarget";
import type { WeightTarget } from "./weightTarget";

type Stream = NodeJS.WritableStream & { isTTY?: boolean };

/** Where the CLI writes; tests pass buffers. */
export interface ShiftIo {
  stdout: Stream;
  stderr: Stream;
}

/** What the CLI reaches outside the process; tests replace the Pulumi stack. */
export interface ShiftCliDependencies {
  /** Ctrl-C: stop between steps. */
  signal?: AbortSignal;
  /** Open a stack for `--stack` (default: the Automation API's `LocalWorkspace.selectStack`). */
  openStack?: (stack: string, workDir: string) => Promise<StackOperations>;
  cwd?: string;
}

/** The target, the probe address and the prefixes, resolved from the arguments. */
async function openTarget(
  args: ShiftArgs,
  deps: ShiftCliDependencies,
): Promise<{ target: WeightTarget; host: string; port: number; prefixes: VersionPrefixes }> {
  let target: WeightTarget;
  let host = args.host;
  let port = args.port;
  switch (args.target.kind) {
    case "stack": {
      const open = deps.openStack ?? selectPulumiStack;
      const stack = await open(args.target.stack, args.target.workDir);
      target = pulumiStackTarget(args.target.stack, stack);
      if (host === undefined || port === undefined) {
        const ingress = await stackIngress(stack);
        host ??= ingress.host;
        port ??= ingress.port;
      }
      if (host === undefined || port === undefined)
        throw new UserError(
          USAGE_ERROR_CODE,
          `stack ${args.target.stack} has no ingressHost/ingressPort outputs yet (run pulumi up once): give --host and --port`,
        );
      break;
    }
    case "stack-file":
      target = stackFileTarget(args.target.path);
      break;
    case "route-file":
      target = routeFileTarget(args.target.path, {
        ...(args.listener === undefined ? {} : { listener: args.listener }),
        routes: args.routes,
      });
      break;
  }
  const fromTarget = target.prefixes?.() ?? {};
  const prefixes = {
    v1: args.prefixes.v1 ?? fromTarget.v1 ?? DEFAULT_PREFIXES.v1,
    v2: args.prefixes.v2 ?? fromTarget.v2 ?? DEFAULT_PREFIXES.v2,
  };
  if (prefixes.v1 === prefixes.v2)
    throw new UserError(
      USAGE_ERROR_CODE,
      `v1 and v2 answer with the same prefix "${prefixes.v1}": give --prefix-v1 and --prefix-v2`,
    );
  return { target, host: host as string, port: port as number, prefixes };
}

/** A live status line on a terminal (redrawn), nothing in logs. */
function statusLine(stream: Stream): { show(text: string): void; clear(): void } {
  if (!stream.isTTY) return { show() {}, clear() {} };
  let shown = false;
  return {
    show(text) {
      stream.write(`\r\x1b[K  ${text}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}

/**
 * The whole command: returns the exit code. User errors print their message only (no stack):
 * bad arguments exit 2, a target or gateway that cannot be used exits 1; nothing is changed in
 * either case.
 */
export async function shiftCli(
  argv: readonly string[],
  io: ShiftIo,
  deps: ShiftCliDependencies = {},
): Promise<number> {
  let args: ShiftArgs | "help";
  let plan: ShiftPlan;
  let opened: Awaited<ReturnType<typeof openTarget>>;
  let metrics: MetricsSource | undefined;
  try {
    args = parseShiftArgs(argv, deps.cwd);
    if (args === "help") {
      io.stdout.write(SHIFT_USAGE);
      return EXIT_CODES.ok;
    }
    opened = await openTarget(args, deps);
    const startWeight = await opened.target.currentWeight();
    plan = buildPlan({
      target: opened.target.description,
      describeChange: (weight) => opened.target.describeChange(weight),
      startWeight,
      steps: args.steps,
      intervalMs: args.intervalMs,
      baselineMs: args.baselineMs,
      rollbackTo: args.rollbackTo,
      applyTimeoutMs: args.applyTimeoutMs,
      probe: {
        host: opened.host,
        port: opened.port,
        rate: args.rate,
        concurrency: args.concurrency,
        timeoutMs: args.timeoutMs,
        prefixes: opened.prefixes,
      },
      ...(args.metricsUrl === undefined ? {} : { metricsUrl: args.metricsUrl }),
      falseAlarm: args.falseAlarm,
      minSamples: args.minSamples,
      maxErrorRate: args.maxErrorRate,
      maxLatencyIncreaseMs: args.maxLatencyIncreaseMs,
    });
    if (args.dryRun) {
      io.stdout.write(formatPlan(plan));
      return EXIT_CODES.ok;
    }
    if (args.metricsUrl !== undefined) {
      const listener = args.listener ?? opened.target.listener;
      metrics = httpMetricsSource(args.metricsUrl, args.routes, listener);
      // The gateway must already follow the target, or no step could ever be seen in force.
      const first = await metrics.scrape();
      if (first.weights.v2 !== startWeight || first.weights.v1 !== 100 - startWeight)
        throw new UserError(
          "E_METRICS",
          `the gateway at ${args.metricsUrl} runs v1=${first.weights.v1} v2=${first.weights.v2} but the ${opened.target.description} holds v2=${startWeight}: it does not follow this target (another file, or routes named otherwise: --v1-route/--v2-route)`,
        );
    }
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    io.stderr.write(`shift: ${error.message}\n`);
    return error.code === USAGE_ERROR_CODE ? EXIT_CODES.usage : EXIT_CODES.failure;
  }

  const json = args.json;
  const out = json ? io.stderr : io.stdout;
  const status = statusLine(out);
  const print = (text: string) => {
    status.clear();
    out.write(text);
  };
  print(
    `shift ${plan.target}: v2 ${[plan.startWeight, ...plan.steps].join(" → ")}, ${formatDuration(plan.intervalMs)} per step; probing ${joinHostPort(plan.probe.host, plan.probe.port)} at ${plan.probe.rate}/s${plan.metricsUrl ? `; gateway ${plan.metricsUrl}` : ""}\n`,
  );
  const outcome: ShiftOutcome = await runShift(plan, {
    target: opened.target,
    ...(metrics ? { metrics } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
    observer: {
      onRecord: (record) => print(formatRecordLine(record, plan)),
      onStatus: (text) => status.show(text),
      onToolOutput: (text) => {
        status.clear();
        io.stderr.write(text);
      },
      onNotice: (text) => print(`${text}\n`),
    },
  });
  print(formatOutcome(outcome, plan));
  if (args.reportFile !== undefined) {
    try {
      writeFileSync(args.reportFile, formatMarkdown(outcome, plan));
    } catch (error) {
      io.stderr.write(
        `shift: cannot write the report to ${args.reportFile}: ${(error as Error).message}\n`,
      );
    }
  }
  if (json) io.stdout.write(`${JSON.stringify(shiftJson(outcome, plan), shiftJsonReplacer)}\n`);
  return outcome.exitCode;
}
