/**
 * The faults `npm run shift` must catch, with real processes on loopback: the bundled gateway
 * (a child process, watching its route file, /metrics on) in front of a healthy tcp-echo v1 and
 * a faulty v2; the shift rewrites the route file and judges real connections.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseRouteFile } from "../../../contract/routeFile";
import { type FaultyEcho, startFaultyEcho } from "./faultyEcho";
import { FAST, type GatewayUnderTest, runShift, startGateway } from "./shiftHarness";

interface Setup {
  v1: FaultyEcho;
  v2: FaultyEcho;
  gateway: GatewayUnderTest;
}
const running: Setup[] = [];

afterEach(async () => {
  for (const setup of running.splice(0))
    await Promise.all([setup.gateway.stop(), setup.v1.close(), setup.v2.close()]);
});

async function setUp(fault: Parameters<typeof startFaultyEcho>[1]): Promise<Setup> {
  const v1 = await startFaultyEcho("one");
  const v2 = await startFaultyEcho("two", fault);
  const gateway = await startGateway(v1.port, v2.port);
  const setup = { v1, v2, gateway };
  running.push(setup);
  return setup;
}

const weightsIn = (routeFile: string) =>
  Object.fromEntries(
    parseRouteFile(readFileSync(routeFile, "utf8"), routeFile).listeners[0]?.routes.map((r) => [
      r.name,
      r.weight,
    ]) ?? [],
  );

function shiftArgs(setup: Setup, steps: string, report: string): string[] {
  return [
    "--route-file",
    setup.gateway.routeFile,
    "--host",
    "127.0.0.1",
    "--port",
    String(setup.gateway.port),
    "--metrics",
    setup.gateway.metricsUrl,
    "--steps",
    steps,
    ...FAST,
    // The gateway's counters attribute failures to a version: no baseline needed.
    "--baseline",
    "0",
    "--report",
    report,
    "--json",
  ];
}

describe("npm run shift: faults are rolled back", () => {
  it("v2 resetting 10% of connections: rolled back at the first step with the sample to see it", async () => {
    const setup = await setUp({ resetEvery: 10 });
    const report = join(setup.gateway.directory, "report.md");
    const run = await runShift(shiftArgs(setup, "2,50,100", report));
    const result = JSON.parse(run.stdout);

    expect(run.code, run.stderr).toBe(1);
    expect(result.result).toBe("rolled back");
    expect(result.failure.gates).toContain("errors");
    // Every step before the failing one was too small to judge errors, none passed them.
    const steps = result.records.filter((r: { kind: string }) => r.kind === "step");
    const failedAt = steps.findIndex((r: { verdict: string }) => r.verdict === "fail");
    expect(failedAt).toBeGreaterThanOrEqual(0);
    for (const step of steps.slice(0, failedAt))
      expect(step.gates.find((g: { gate: string }) => g.gate === "errors").verdict).toBe(
        "inconclusive",
      );
    // The failing step saw the resets on v2 (attributed through the gateway), none on v1.
    const errors = steps[failedAt].gates.find((g: { gate: string }) => g.gate === "errors");
    expect(errors.summary).toMatch(/^v2 failed \d+ of \d+ \(\d+\.\d%\) vs v1 0 of \d+ \(0\.0%\)/);
    expect(setup.v2.reset).toBeGreaterThan(0);
    // The gateway itself counted them as resets of v2 (all its traffic), and failed v2 for them.
    const { gateway } = steps[failedAt].window;
    expect(gateway.v2.resets).toBeGreaterThan(0);
    expect(gateway.v1.resets).toBe(0);
    const gatewayGate = steps[failedAt].gates.find((g: { gate: string }) => g.gate === "gateway");
    expect(gatewayGate.verdict).toBe("fail");
    expect(gatewayGate.summary).toMatch(
      new RegExp(
        `^v2 failed ${gateway.v2.resets} of ${gateway.v2.connections} \\(\\d+\\.\\d%\\) vs v1 0 of \\d+ \\(0\\.0%\\) \\(unavailable or reset, all traffic\\)`,
      ),
    );
    expect(result.failure.gates).toContain("gateway");
    // No step passed every gate: back to the starting weight, in the file and in the gateway.
    expect(result.rollback.to).toBe(0);
    expect(weightsIn(setup.gateway.routeFile)).toEqual({ v1: 100, v2: 0 });
    const rollback = result.records.at(-1);
    expect(rollback).toMatchObject({ kind: "rollback", weight: 0, verdict: "pass" });
    expect(rollback.inForce.detail).toBe("the gateway reports v1=100 v2=0");
    // The report names the gate and its figures.
    const markdown = readFileSync(report, "utf8");
    expect(markdown).toContain("## tcp-shift: rolled back (weight 0 now)");
    expect(markdown).toMatch(/- \*\*errors\*\* failed: v2 failed \d+ of \d+/);
    expect(markdown).toContain("one-sided Fisher");
  });

  it("v2 answering 20 ms slower: rolled back by the latency gate", async () => {
    const setup = await setUp({ delayMs: 20 });
    const report = join(setup.gateway.directory, "report.md");
    const run = await runShift(shiftArgs(setup, "10,50,100", report));
    const result = JSON.parse(run.stdout);

    expect(run.code, run.stderr).toBe(1);
    expect(result.result).toBe("rolled back");
    expect(result.failure).toMatchObject({ kind: "step", step: 1, weight: 10 });
    // The gateway's duration histogram usually sees it too (a v2 connection lives about 40 ms
    // longer: the reply and the FIN each 20 ms late), unless a loaded machine puts v1's p99 in a
    // bucket too coarse for 10 ms.
    expect([["latency"], ["latency", "gateway"]]).toContainEqual(result.failure.gates);
    expect(result.failure.reason).toMatch(/latency: .*v2's p50 is \d+\.\d ms above v1's/);
    expect(result.rollback.to).toBe(0);
    expect(weightsIn(setup.gateway.routeFile)).toEqual({ v1: 100, v2: 0 });
    expect(readFileSync(report, "utf8")).toMatch(/- \*\*latency\*\* failed: p50 v1/);
  });
});
