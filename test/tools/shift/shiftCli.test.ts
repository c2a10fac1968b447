import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../../contract/userError";
import { buildPlan, type PlanInputs, testsInWindow } from "../../../tools/shift/shiftPlan";
import { routeFileText, runShift } from "./shiftHarness";

const dir = mkdtempSync(join(tmpdir(), "shift-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADDRESS = ["--host", "127.0.0.1", "--port", "31400"];

function planInputs(overrides: Partial<PlanInputs> = {}): PlanInputs {
  return {
    target: "stack file Pulumi.dev.yaml",
    describeChange: (weight) => `set ${weight}`,
    startWeight: 0,
    steps: [5, 20, 50, 100],
    intervalMs: 300_000,
    baselineMs: 300_000,
    rollbackTo: "last",
    applyTimeoutMs: 60_000,
    probe: {
      host: "127.0.0.1",
      port: 31400,
      rate: 20,
      concurrency: 16,
      timeoutMs: 5000,
      prefixes: { v1: "one", v2: "two" },
    },
    falseAlarm: 0.01,
    minSamples: 100,
    maxErrorRate: 0.01,
    maxLatencyIncreaseMs: 10,
    ...overrides,
  };
}

describe("the plan", () => {
  it("splits the false-alarm budget over every test it can run", () => {
    expect([0, 5, 100].map((w) => testsInWindow(w, false, false))).toEqual([3, 5, 3]);
    expect(testsInWindow(0, true, true)).toBe(3);
    expect(testsInWindow(50, false, true)).toBe(8);
    const plan = buildPlan(planInputs());
    // baseline 2 + 5 + 5 + 5 + 3
    expect(plan.tests).toBe(20);
    expect(plan.policy.alpha).toBeCloseTo(0.0005, 12);
    expect(plan.changes).toEqual(["set 5", "set 20", "set 50", "set 100"]);
  });

  it("refuses steps that do not go above the target's weight, and windows too short to pass", () => {
    expect(() => buildPlan(planInputs({ startWeight: 20 }))).toThrow(
      new UserError(
        "E_USAGE",
        "the target is at weight 20 already: --steps must start above it (got 5,20,50,100)",
      ),
    );
    expect(() => buildPlan(planInputs({ intervalMs: 3000, baselineMs: 0 }))).toThrow(
      "the last step (weight 100) would see about 60 connections to v2 (20/s for 3 s); its gates need 100 per version to pass: raise --interval or --rate, or lower --min-samples",
    );
    expect(() => buildPlan(planInputs({ steps: [50], intervalMs: 6000, baselineMs: 0 }))).toThrow(
      "about 60 connections to v2 and 60 to v1",
    );
    expect(() => buildPlan(planInputs({ baselineMs: 1000 }))).toThrow(
      "the baseline would see about 20 connections",
    );
  });
});

describe("npm run shift: exit codes before anything changes", () => {
  it("exits 2 on bad arguments, naming the flag", async () => {
    const run = await runShift(["--stack-file", "x.yaml", ...ADDRESS, "--steps", "50,20"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "shift: --interval is required, e.g. --interval 5m (see npm run shift -- --help)\n",
    );
  });

  it("exits 2 for a target file that does not exist, 1 for one that is invalid", async () => {
    const missing = await runShift([
      "--route-file",
      join(dir, "none.yaml"),
      ...ADDRESS,
      "--steps",
      "100",
      "--interval",
      "1m",
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--route-file");
    expect(missing.stderr).toContain("none.yaml: no such file");
    const invalid = join(dir, "invalid.yaml");
    writeFileSync(invalid, "listeners: []\n");
    const run = await runShift([
      "--route-file",
      invalid,
      ...ADDRESS,
      "--steps",
      "100",
      "--interval",
      "1m",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Invalid route file ${invalid}`);
  });

  it("prints the plan with --dry-run and changes nothing", async () => {
    const path = join(dir, "routes.yaml");
    const text = routeFileText(9001, 9002, 0);
    writeFileSync(path, text);
    const run = await runShift([
      "--route-file",
      path,
      ...ADDRESS,
      "--steps",
      "5,20,50,100",
      "--interval",
      "5m",
      "--dry-run",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(text);
    expect(run.stdout).toContain("shift plan (dry run: nothing is changed)");
    expect(run.stdout).toContain(
      "  target     route file routes.yaml (listener tcp-echo, routes v1 and v2), now at weight 0",
    );
    expect(run.stdout).toContain(
      "  step 2/4   write routes.yaml with v1=80 v2=20 (atomic rename); observe 5 min (about 6000 connections, 1200 to v2)",
    );
    expect(run.stdout).toContain(
      "every test is judged at α = 5.0e-4 (1% false-alarm budget over 20 tests)",
    );
  });

  it("exits 1 when the gateway on --metrics does not run the target's weights", async () => {
    const path = join(dir, "routes-10.yaml");
    writeFileSync(path, routeFileText(9001, 9002, 10));
    const server = createServer((_, response) =>
      response.end(
        'tcp_gateway_route_weight{listener="tcp-echo",route="v1"} 100\ntcp_gateway_route_weight{listener="tcp-echo",route="v2"} 0\n',
      ),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    try {
      const run = await runShift([
        "--route-file",
        path,
        ...ADDRESS,
        "--steps",
        "100",
        "--interval",
        "1m",
        "--metrics",
        url,
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `shift: the gateway at ${url} runs v1=100 v2=0 but the route file routes-10.yaml (listener tcp-echo, routes v1 and v2) holds v2=10: it does not follow this target (another file, or routes named otherwise: --v1-route/--v2-route)\n`,
      );
    } finally {
      server.close();
    }
  });
});
