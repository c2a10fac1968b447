import { describe, expect, it } from "vitest";
import { UserError } from "../../../contract/userError";
import { parseShiftArgs, parseSteps } from "../../../tools/shift/shiftArgs";

const FILE = ["--stack-file", "Pulumi.dev.yaml", "--host", "127.0.0.1", "--port", "31400"];

function usage(argv: string[]): string {
  try {
    parseShiftArgs(argv, "/project");
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe("E_USAGE");
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(" ")}`);
}

describe("parseShiftArgs", () => {
  it("parses the issue's command with every default", () => {
    expect(
      parseShiftArgs([...FILE, "--steps", "5,20,50,100", "--interval", "5m"], "/project"),
    ).toEqual({
      target: { kind: "stack-file", path: "Pulumi.dev.yaml" },
      steps: [5, 20, 50, 100],
      intervalMs: 300_000,
      baselineMs: 300_000,
      rollbackTo: "last",
      host: "127.0.0.1",
      port: 31400,
      rate: 20,
      concurrency: 16,
      timeoutMs: 5000,
      prefixes: {},
      routes: { v1: "v1", v2: "v2" },
      falseAlarm: 0.01,
      minSamples: 100,
      maxErrorRate: 0.01,
      maxLatencyIncreaseMs: 10,
      applyTimeoutMs: 60_000,
      json: false,
      dryRun: false,
    });
  });

  it("takes a stack without an address (the stack outputs give it) and its project directory", () => {
    const args = parseShiftArgs(
      ["--stack", "prod", "--steps", "50,100", "--interval", "30s"],
      "/p",
    );
    expect(args).toMatchObject({ target: { kind: "stack", stack: "prod", workDir: "/p" } });
    expect(args === "help" || args.host).toBeUndefined();
  });

  it("reads every option", () => {
    const args = parseShiftArgs(
      [
        "--route-file",
        "routes.yaml",
        "--host",
        "::1",
        "--port",
        "9000",
        "--steps",
        "10, 100",
        "--interval",
        "500ms",
        "--baseline",
        "0",
        "--rollback-to",
        "0",
        "--rate",
        "2.5",
        "--metrics",
        "http://127.0.0.1:9901/metrics",
        "--v1-route",
        "stable",
        "--v2-route",
        "canary",
        "--listener",
        "edge",
        "--false-alarm",
        "0.5%",
        "--max-error-rate",
        "2",
        "--max-latency-increase",
        "25ms",
        "--apply-timeout",
        "2m",
        "--report",
        "shift.md",
        "--json",
        "--dry-run",
      ],
      "/p",
    );
    expect(args).toMatchObject({
      target: { kind: "route-file", path: "routes.yaml" },
      steps: [10, 100],
      intervalMs: 500,
      baselineMs: 0,
      rollbackTo: 0,
      rate: 2.5,
      metricsUrl: "http://127.0.0.1:9901/metrics",
      routes: { v1: "stable", v2: "canary" },
      listener: "edge",
      falseAlarm: 0.005,
      maxErrorRate: 0.02,
      maxLatencyIncreaseMs: 25,
      applyTimeoutMs: 120_000,
      reportFile: "shift.md",
      json: true,
      dryRun: true,
    });
  });

  it("answers -h/--help without anything else", () => {
    expect(parseShiftArgs(["--help"])).toBe("help");
    expect(parseShiftArgs(["-h", "--steps", "nonsense"])).toBe("help");
  });

  it.each([
    [
      ["--steps", "5", "--interval", "1m"],
      "name the target: --stack NAME, --stack-file PATH or --route-file PATH",
    ],
    [
      ["--stack", "dev", "--route-file", "r.yaml", "--steps", "5", "--interval", "1m"],
      "give one target, not --stack and --route-file",
    ],
    [[...FILE, "--interval", "1m"], "--steps is required, e.g. --steps 5,20,50,100"],
    [[...FILE, "--steps", "5"], "--interval is required, e.g. --interval 5m"],
    [
      [...FILE, "--steps", "5", "--interval", "5"],
      '--interval must be a duration such as 500ms, 30s or 5m, from 100ms to 24h, got "5"',
    ],
    [
      ["--stack-file", "P.yaml", "--steps", "5", "--interval", "1m"],
      "--host and --port are required",
    ],
    [
      [...FILE, "--steps", "5", "--interval", "1m", "--rollback-to", "5"],
      '--rollback-to must be last or 0, got "5"',
    ],
    [
      [...FILE, "--steps", "5", "--interval", "1m", "--metrics", "ftp://x/metrics"],
      "--metrics must be an http(s) URL",
    ],
    [
      [...FILE, "--steps", "5", "--interval", "1m", "--prefix-v1", "two"],
      '--prefix-v1 and --prefix-v2 must differ, both are "two"',
    ],
    [
      [...FILE, "--steps", "5", "--interval", "1m", "--false-alarm", "60"],
      '--false-alarm must be a percentage from 0.0001 to 50, e.g. 1%, got "60"',
    ],
    [
      [...FILE, "--steps", "5", "--interval", "1m", "--v2-route", "canary"],
      "--v1-route and --v2-route name routes of a route file or of --metrics",
    ],
    [
      [...FILE, "--steps", "5", "--interval", "1m", "--port", "70000"],
      '--port must be a whole number from 1 to 65535, got "70000"',
    ],
    [[...FILE, "--steps", "5", "--interval", "1m", "--colour"], "Unknown option '--colour'"],
  ])("refuses %j: %s", (argv, message) => {
    const text = usage(argv as string[]);
    expect(text).toContain(message);
    expect(text).toMatch(/\(see npm run shift -- --help\)$/);
  });
});

describe("parseSteps", () => {
  it("takes increasing whole percentages from 1 to 100", () => {
    expect(parseSteps("5,20,50,100")).toEqual([5, 20, 50, 100]);
    expect(parseSteps("100")).toEqual([100]);
  });

  it.each([
    ["20,5", "--steps must increase (each weight above the one before), got 20,5"],
    ["5,5", "--steps must increase"],
    ["0,50", '"0" is not one'],
    ["5,101", '"101" is not one'],
    ["5,,10", '"" is not one'],
    ["5%,10", '"5%" is not one'],
  ])("refuses %s", (text, message) => {
    expect(() => parseSteps(text)).toThrow(message);
  });
});
