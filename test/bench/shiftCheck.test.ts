import { describe, expect, it } from "vitest";
import { parseRouteWeights } from "../../bench/gatewayMetrics";
import { FRONT_SOURCES, frontConfig, type HopSample, summarizeHop } from "../../bench/hopCost";
import { type ShiftResult, shiftProblems, shiftWeights } from "../../bench/shiftCheck";

describe("shift check", () => {
  it("moves v2 from 50 to 100 and back in steps of 5: 20 changes, v1 at 0 on the way", () => {
    const v2 = shiftWeights(20).map((w) => w.two);
    expect(v2).toEqual([
      55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 95, 90, 85, 80, 75, 70, 65, 60, 55, 50,
    ]);
    for (const w of shiftWeights(20)) expect(w.one + w.two).toBe(100);
  });

  const intact: ShiftResult = {
    peer: "gateway",
    reloadPath: "rename",
    connections: 300,
    changesWritten: 20,
    changesApplied: 20,
    finalWeightsInForce: true,
    completed: 300,
    closed: 0,
    firstError: "",
    sentBytes: 1000,
    verifiedBytes: 1000,
    lostBytes: 0,
    processesAtEnd: 1,
    samePid: true,
    durationSec: 12,
  };

  it("passes only with every stream intact, no byte lost and the last weights in force", () => {
    expect(shiftProblems(intact)).toEqual([]);
    expect(
      shiftProblems({
        ...intact,
        completed: 299,
        closed: 1,
        firstError: "bulk read (ECONNRESET)",
        verifiedBytes: 976,
        lostBytes: 24,
        finalWeightsInForce: false,
      }),
    ).toEqual([
      "gateway: 1 connections closed (bulk read (ECONNRESET))",
      "gateway: 24 bytes lost",
      "gateway: 299/300 streams completed",
      "gateway: the last weights are not in force at the end",
    ]);
  });

  it("reads the route weights in force from the gateway's metrics", () => {
    const text =
      "# TYPE tcp_gateway_route_weight gauge\n" +
      'tcp_gateway_route_weight{listener="bench",route="v1"} 0\n' +
      'tcp_gateway_route_weight{listener="bench",route="v2"} 100\n' +
      "tcp_gateway_reloads_total 20\n";
    expect(parseRouteWeights(text)).toEqual({ v1: 0, v2: 100 });
  });
});

describe("hop cost", () => {
  it("gives the stand-in ingress HAProxy one fixed upstream, the gateway, from 4 sources", () => {
    const config = frontConfig(31400, "127.0.0.1:31401", 5000);
    expect(config).toContain("bind 127.0.0.1:31400");
    for (const [i, source] of FRONT_SOURCES.entries())
      expect(config).toContain(`server gateway-${i + 1} 127.0.0.1:31401 source ${source} weight 1`);
    expect(FRONT_SOURCES).toHaveLength(4);
  });

  const hop = (setup: HopSample["setup"], round: number, p99: number, cpu: number): HopSample => ({
    setup,
    round,
    p50At1000: p99 / 4,
    p99At1000: p99,
    p50At3000: p99 / 2,
    p99At3000: 2 * p99,
    connRate50: 10_000 - cpu * 10,
    frontCpuUs: 40,
    gatewayCpuUs: setup === "via-gateway" ? cpu : undefined,
    proxiesCpuUs: 40 + (setup === "via-gateway" ? cpu : 0),
    errors: 0,
  });

  it("reports per-round differences via gateway − one hop", () => {
    const cost = summarizeHop([
      hop("via-gateway", 0, 500, 50),
      hop("one-hop", 0, 300, 0),
      hop("one-hop", 1, 200, 0),
      hop("via-gateway", 1, 600, 60),
    ]);
    expect(cost.rounds).toBe(2);
    expect(cost.addedP99At1000Us).toEqual({ median: 300, min: 200, max: 400, n: 2 });
    expect(cost.addedP50At1000Us?.median).toBe(75);
    expect(cost.gatewayCpuUs).toEqual({ median: 55, min: 50, max: 60, n: 2 });
    expect(cost.addedCpuUs).toEqual({ median: 55, min: 50, max: 60, n: 2 });
    expect(cost.connRate50Ratio?.max).toBeCloseTo(0.95, 10);
    expect(cost.errors).toBe(0);
  });
});
