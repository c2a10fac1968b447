/**
 * `npm run shift` against local mode (the stack-file target, as `npm start` runs it) and against
 * a gateway that never sees the change: a healthy v2 is promoted to 100, Ctrl-C stops between
 * steps, and a shift that silently does not happen is caught by the binomial test and rolled back.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseRouteFile } from "../../../contract/routeFile";
import { silentLogger } from "../../../dataplane/shared/jsonLogger";
import { type LocalStack, startLocalStack } from "../../../tools/local/localStack";
import { type FaultyEcho, startFaultyEcho } from "./faultyEcho";
import { FAST, type GatewayUnderTest, runShift, startGateway } from "./shiftHarness";

const STACK_FILE = `# Stack "dev": a comment the shift must keep.
config:
  alicloud:region: cn-hangzhou
  tcp-shift:mode: asm
  # the weight, edited by npm run shift
  tcp-shift:weightV2: "0"
  tcp-shift:replicas: "1"
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function localMode(admin?: string): Promise<{ stack: LocalStack; stackFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), "shift-local-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const stackFile = join(dir, "Pulumi.dev.yaml");
  writeFileSync(stackFile, STACK_FILE);
  const stack = await startLocalStack({
    dir,
    port: 0,
    print: () => {},
    printError: () => {},
    logger: silentLogger,
    ...(admin === undefined ? {} : { admin }),
  });
  cleanups.push(() => stack.close(0));
  return { stack, stackFile };
}

const localArgs = (stack: LocalStack, stackFile: string, steps: string) => [
  "--stack-file",
  stackFile,
  "--host",
  "127.0.0.1",
  "--port",
  String(stack.port),
  "--steps",
  steps,
  ...FAST,
  "--json",
];

describe("npm run shift against local mode (stack file)", () => {
  it("promotes a healthy v2 to 100, editing the stack file as pulumi config set would", async () => {
    const { stack, stackFile } = await localMode();
    const report = join(stackFile, "..", "report.md");
    const run = await runShift([...localArgs(stack, stackFile, "10,50,100"), "--report", report]);
    const result = JSON.parse(run.stdout);

    expect(run.code, run.stderr).toBe(0);
    expect(result).toMatchObject({ result: "promoted", finalWeight: 100, lastGoodWeight: 100 });
    const steps = result.records.filter((r: { kind: string }) => r.kind === "step");
    expect(steps.map((r: { weight: number }) => r.weight)).toEqual([10, 50, 100]);
    for (const step of steps) {
      expect(step.inForce).toMatchObject({ inForce: true, how: "verify" });
      expect(step.verdict).not.toBe("fail");
    }
    expect(steps.at(-1).verdict).toBe("pass");
    // Comments and other keys kept; the value a string, as the CLI writes it.
    expect(readFileSync(stackFile, "utf8")).toBe(
      STACK_FILE.replace('tcp-shift:weightV2: "0"', 'tcp-shift:weightV2: "100"'),
    );
    expect(stack.weights).toEqual({ v1: 0, v2: 100 });
    expect(run.stderr).toMatch(/^promoted: weight 100 in force, every step passed/m);
    expect(readFileSync(report, "utf8")).toContain("## tcp-shift: promoted (weight 100 now)");
  });

  it("with npm start --admin, takes --metrics: weights in force as the gateway reports them, failures attributed", async () => {
    const { stack, stackFile } = await localMode("127.0.0.1:0");
    const metricsUrl = `http://127.0.0.1:${stack.admin?.port}/metrics`;
    const run = await runShift([
      ...localArgs(stack, stackFile, "50,100"),
      "--metrics",
      metricsUrl,
      "--baseline",
      "0",
    ]);
    const result = JSON.parse(run.stdout);

    expect(run.code, run.stderr).toBe(0);
    expect(result.result).toBe("promoted");
    const steps = result.records.filter((r: { kind: string }) => r.kind === "step");
    expect(steps.map((r: { inForce: { how: string; detail: string } }) => r.inForce)).toEqual([
      expect.objectContaining({ how: "metrics", detail: "the gateway reports v1=50 v2=50" }),
      expect.objectContaining({ how: "metrics", detail: "the gateway reports v1=0 v2=100" }),
    ]);
    // The file watcher's settle and a poll, not the admin's one-second /metrics cache.
    for (const step of steps) expect(step.inForce.afterMs).toBeLessThan(600);
    const errors = steps[0].gates.find((g: { gate: string }) => g.gate === "errors");
    expect(errors.summary).toMatch(/^v2 failed 0 of \d+ \(0\.0%\) vs v1 0 of \d+ \(0\.0%\)/);
    expect(steps[0].window.gateway.v2).toMatchObject({ resets: 0, backendUnavailable: 0 });
    // Every connection of the window has a lifetime; +Inf written as Prometheus does.
    expect(steps[0].window.gateway.v2.durationBuckets.at(-1)).toEqual({
      le: "+Inf",
      count: steps[0].window.gateway.v2.connections,
    });
  });

  it("stops between steps on Ctrl-C, leaves the weight where it is and says so", async () => {
    const { stack, stackFile } = await localMode();
    const controller = new AbortController();
    const run = await runShift(localArgs(stack, stackFile, "10,50,100"), {
      signal: controller.signal,
      onOutput: (text) => {
        if (text.startsWith("step 1/3")) controller.abort();
      },
    });
    const result = JSON.parse(run.stdout);
    expect(run.code).toBe(130);
    expect(result).toMatchObject({ result: "stopped", finalWeight: 10 });
    expect(run.stderr).toContain(
      "stopped by Ctrl-C before step 2: the target holds weight 10; nothing was rolled back",
    );
    expect(readFileSync(stackFile, "utf8")).toContain('tcp-shift:weightV2: "10"');
  });
});

describe("npm run shift when the shift silently does not happen", () => {
  let v1: FaultyEcho;
  let v2: FaultyEcho;
  let gateway: GatewayUnderTest;

  it("fails the took-effect gate, rolls back and says why", async () => {
    v1 = await startFaultyEcho("one");
    v2 = await startFaultyEcho("two");
    gateway = await startGateway(v1.port, v2.port);
    cleanups.push(() => Promise.all([gateway.stop(), v1.close(), v2.close()]).then(() => {}));
    // The shift edits a copy the gateway does not watch: written, never loaded.
    const stale = join(gateway.directory, "routes-copy.yaml");
    copyFileSync(gateway.routeFile, stale);
    const run = await runShift([
      "--route-file",
      stale,
      "--host",
      "127.0.0.1",
      "--port",
      String(gateway.port),
      "--steps",
      "50,100",
      ...FAST,
      "--baseline",
      "0",
      "--apply-timeout",
      "1500ms",
      "--json",
    ]);
    const result = JSON.parse(run.stdout);

    expect(run.code, run.stderr).toBe(1);
    expect(result.result).toBe("rolled back");
    expect(result.failure).toMatchObject({ step: 1, weight: 50, gates: ["took effect"] });
    expect(result.failure.reason).toMatch(
      /^took effect: not in force within 1\.5 s: after \d+\.\d s the traffic does not follow weight 50%: the last verify round saw v2 0\.0% \(0 of 100; exact binomial p = .* against 50%, p = 1\.000 against the previous 0%\)$/,
    );
    expect(result.rollback.to).toBe(0);
    expect(result.records.at(-1)).toMatchObject({ kind: "rollback", verdict: "pass" });
    const routes = parseRouteFile(readFileSync(stale, "utf8"), stale).listeners[0]?.routes;
    expect(routes?.map((route) => route.weight)).toEqual([100, 0]);
    expect(v2.accepted).toBe(0);
  });
});
