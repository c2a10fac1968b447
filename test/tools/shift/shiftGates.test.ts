import { describe, expect, it } from "vitest";
import type { RouteFigures } from "../../../tools/shift/gatewayScrape";
import { emptyWindow, type WindowCounts } from "../../../tools/shift/probeWindow";
import {
  attributeFailures,
  errorsGate,
  type GatePolicy,
  gatewayGate,
  latencyGate,
  tookEffectGate,
  type WindowEvidence,
} from "../../../tools/shift/shiftGates";

const POLICY: GatePolicy = {
  alpha: 0.001,
  minSamples: 100,
  maxErrorRate: 0.01,
  maxLatencyIncreaseMs: 10,
};

/** A window: answered per version, failures by class, latencies all `ms` (or given). */
function window(
  answered: { v1: number; v2: number },
  failed: Partial<Record<"reset" | "connect timeout" | "reply timeout", number>> = {},
  latency: { v1?: number[]; v2?: number[] } = {},
): WindowCounts {
  const counts = emptyWindow();
  counts.answered = { ...answered };
  counts.failures = { ...failed };
  counts.failed = Object.values(failed).reduce((sum, n) => sum + n, 0);
  counts.attempted = answered.v1 + answered.v2 + counts.failed;
  counts.latenciesMs = {
    v1: latency.v1 ?? Array.from({ length: answered.v1 }, (_, i) => 1 + (i % 10) / 10),
    v2: latency.v2 ?? Array.from({ length: answered.v2 }, (_, i) => 1 + (i % 10) / 10),
  };
  return counts;
}

const routed = (connections: number, extra: Partial<RouteFigures> = {}): RouteFigures => ({
  connections,
  connectFailures: 0,
  backendUnavailable: 0,
  ...extra,
});

describe("attributeFailures", () => {
  it("gives each version routed minus answered when the probe is the only traffic", () => {
    const evidence: WindowEvidence = {
      weight: 50,
      probe: window({ v1: 200, v2: 180 }, { reset: 20 }),
      gateway: { v1: routed(200), v2: routed(200) },
    };
    expect(attributeFailures(evidence)).toEqual({
      attributed: true,
      routed: { v1: 200, v2: 200 },
      failed: { v1: 0, v2: 20 },
      beforeRouting: 0,
    });
  });

  it("attributes nothing when other traffic or another replica shows in the counters", () => {
    const probe = window({ v1: 200, v2: 180 }, { reset: 20 });
    const other = attributeFailures({
      weight: 50,
      probe,
      gateway: { v1: routed(900), v2: routed(900) },
    });
    expect(other).toMatchObject({ attributed: false });
    expect(other.attributed || other.reason).toContain("other traffic went through the gateway");
    const replica = attributeFailures({
      weight: 50,
      probe,
      gateway: { v1: routed(100), v2: routed(90) },
    });
    expect(replica.attributed || replica.reason).toContain("one replica of several");
    expect(attributeFailures({ weight: 50, probe })).toEqual({
      attributed: false,
      reason: "no --metrics",
    });
  });
});

describe("tookEffectGate", () => {
  const judge = (weight: number, previousWeight: number, v1: number, v2: number) => {
    const evidence = { weight, previousWeight, probe: window({ v1, v2 }) };
    return tookEffectGate(evidence, attributeFailures(evidence), POLICY);
  };

  it("passes a share consistent with the weight that the previous weight cannot explain", () => {
    const gate = judge(20, 5, 320, 80);
    expect(gate.verdict).toBe("pass");
    expect(gate.summary).toBe(
      "v2 share 20.0% (80 of 400 connections answered by a version), consistent with 20% (exact binomial p = 1.000)",
    );
  });

  it("fails a share still at the previous weight, and says so", () => {
    const gate = judge(50, 0, 400, 0);
    expect(gate.verdict).toBe("fail");
    expect(gate.summary).toContain("is inconsistent with weight 50%");
    expect(gate.summary).toContain(
      "it is what the previous weight 0% gives: the new weight was applied to the target but is not what the traffic sees",
    );
  });

  it("names a sticky balance when every connection took one version", () => {
    expect(judge(20, 10, 0, 400).summary).toContain("sticky balance");
  });

  it("is inconclusive when the data cannot tell the new weight from the previous one", () => {
    const gate = judge(12, 10, 89, 11);
    expect(gate.verdict).toBe("inconclusive");
    expect(gate.summary).toContain("also with the previous 10%");
  });

  it("fails when nothing answered", () => {
    const evidence = {
      weight: 10,
      probe: window({ v1: 0, v2: 0 }, { "connect timeout": 2, "reply timeout": 3 }),
    };
    expect(tookEffectGate(evidence, attributeFailures(evidence), POLICY)).toMatchObject({
      verdict: "fail",
      summary:
        "no connection was answered by either version (5 of 5 failed: connect timeout 2, reply timeout 3)",
    });
  });
});

describe("errorsGate", () => {
  const attributed = (v1: [number, number], v2: [number, number], weight = 50) => {
    const probe = window({ v1: v1[0] - v1[1], v2: v2[0] - v2[1] }, { reset: v1[1] + v2[1] });
    const evidence: WindowEvidence = {
      weight,
      probe,
      gateway: { v1: routed(v1[0]), v2: routed(v2[0]) },
    };
    return errorsGate(evidence, attributeFailures(evidence), POLICY);
  };

  it("fails v2 resetting 10% against a clean v1, with the figures and both tests", () => {
    const gate = attributed([200, 0], [200, 20]);
    expect(gate.verdict).toBe("fail");
    expect(gate.summary).toMatch(
      /^v2 failed 20 of 200 \(10\.0%\) vs v1 0 of 200 \(0\.0%\); failures seen: reset 20; v2 vs v1 failure rate \(one-sided Fisher\): p = 5\.\de-7 < α 0\.001; v2 above the 1\.0% ceiling \(exact binomial\): p = 2\.9e-14 < α 0\.001$/,
    );
  });

  it("is inconclusive, not passed, on too few v2 connections", () => {
    expect(attributed([392, 0], [8, 1], 2).verdict).toBe("inconclusive");
  });

  it("passes clean versions with enough connections, and at weight 100 holds v2 to the ceiling", () => {
    expect(attributed([200, 0], [200, 0]).verdict).toBe("pass");
    const full = attributed([0, 0], [400, 1], 100);
    expect(full.verdict).toBe("pass");
    expect(full.tests.map((t) => t.name)).toEqual(["v2 above the 1.0% ceiling (exact binomial)"]);
  });

  it("without attribution compares the window with the baseline and estimates v2's rate", () => {
    const baseline = { weight: 0, probe: window({ v1: 400, v2: 0 }) };
    const gate = errorsGate(
      { weight: 50, probe: window({ v1: 200, v2: 180 }, { reset: 20 }), baseline },
      { attributed: false, reason: "no --metrics" },
      POLICY,
    );
    expect(gate.verdict).toBe("fail");
    expect(gate.summary).toContain(
      "20 of 400 (5.0%) connections failed vs baseline 0 of 400 (0.0%); v2's own rate estimated at 10.0% (failures not attributed to a version: no --metrics)",
    );
    expect(gate.tests.map((t) => t.name)).toEqual([
      "failure rate vs the baseline at 0% (one-sided Fisher)",
      "failure rate above the 1.0% ceiling (exact binomial)",
    ]);
  });
});

describe("latencyGate", () => {
  const fast = (n: number) => Array.from({ length: n }, (_, i) => 0.5 + (i % 20) / 10);

  it("fails v2 20 ms slower, naming the percentile and its figures", () => {
    const gate = latencyGate(
      {
        weight: 10,
        probe: window({ v1: 360, v2: 40 }, {}, { v1: fast(360), v2: fast(40).map((x) => x + 20) }),
      },
      POLICY,
    );
    expect(gate.verdict).toBe("fail");
    expect(gate.summary).toContain("v2's p50 is 20.0 ms above v1's (allowed 10 ms)");
  });

  it("passes a slowdown within the allowance, even a significant one", () => {
    const gate = latencyGate(
      {
        weight: 50,
        probe: window({ v1: 300, v2: 300 }, {}, { v1: fast(300), v2: fast(300).map((x) => x + 3) }),
      },
      POLICY,
    );
    expect(gate.verdict).toBe("pass");
  });

  it("is n/a without v1 traffic to compare with (weight 100)", () => {
    const gate = latencyGate({ weight: 100, probe: window({ v1: 0, v2: 400 }) }, POLICY);
    expect(gate.verdict).toBe("n/a");
    expect(gate.summary).toMatch(/^no v1 connections in this window to compare with/);
  });
});

describe("gatewayGate", () => {
  it("compares per-version failures of all traffic, resets included when exported", () => {
    const gate = gatewayGate(
      {
        weight: 50,
        probe: window({ v1: 10, v2: 10 }),
        gateway: {
          v1: routed(5000, { backendUnavailable: 2, resets: 0 }),
          v2: routed(5000, { backendUnavailable: 3, resets: 60, connectFailures: 9 }),
        },
      },
      POLICY,
    );
    expect(gate?.verdict).toBe("fail");
    expect(gate?.summary).toMatch(
      /^v2 failed 63 of 5000 \(1\.3%\) vs v1 2 of 5000 \(0\.0%\) \(unavailable or reset, all traffic\); connect failures v1 0, v2 9;/,
    );
  });

  it("compares connection durations by histogram bucket when exported", () => {
    const buckets = (counts: number[]) =>
      [0.005, 0.01, 0.025, 0.05, 0.1, Number.POSITIVE_INFINITY].map((le, i) => ({
        le,
        count: counts[i] as number,
      }));
    const gate = gatewayGate(
      {
        weight: 50,
        probe: window({ v1: 10, v2: 10 }),
        gateway: {
          v1: routed(1000, { durationBuckets: buckets([990, 998, 1000, 1000, 1000, 1000]) }),
          v2: routed(1000, { durationBuckets: buckets([10, 20, 300, 990, 1000, 1000]) }),
        },
      },
      POLICY,
    );
    expect(gate?.verdict).toBe("fail");
    expect(gate?.tests.at(-1)?.name).toContain("connection durations past v1's p99");
  });

  it("compares durations only at a split weight, as the plan budgets (not v1's old connections at 100)", () => {
    const buckets = (counts: number[]) =>
      [0.005, 0.01, Number.POSITIVE_INFINITY].map((le, i) => ({ le, count: counts[i] as number }));
    const gate = gatewayGate(
      {
        weight: 100,
        probe: window({ v1: 0, v2: 400 }),
        gateway: {
          // Long-lived v1 connections opened before the step, closing during it.
          v1: routed(0, { durationBuckets: buckets([0, 0, 50]) }),
          v2: routed(400, { durationBuckets: buckets([400, 400, 400]) }),
        },
      },
      POLICY,
    );
    expect(gate?.tests.map((t) => t.name)).toEqual(["v2 above the 1.0% ceiling (exact binomial)"]);
  });

  it("is absent without --metrics", () => {
    expect(gatewayGate({ weight: 50, probe: window({ v1: 10, v2: 10 }) }, POLICY)).toBeUndefined();
  });
});
