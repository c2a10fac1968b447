import { describe, expect, it } from "vitest";
import {
  compareVersions,
  expectedMoves,
  predictVersions,
  STICKY_PHASES,
  type StickyPhaseResult,
  stickyAddresses,
  stickyProblems,
  stickyTable,
  summarizeSticky,
  wilsonInterval,
} from "../../bench/stickyCheck";
import { addressBucket, STICKY_BUCKETS } from "../../dataplane/gateway/weightedPicker";

describe("stickyAddresses", () => {
  it("gives distinct 127.20.y.z addresses, z from 1 to 250", () => {
    expect(stickyAddresses(3)).toEqual(["127.20.0.1", "127.20.0.2", "127.20.0.3"]);
    const many = stickyAddresses(2000);
    expect(many[249]).toBe("127.20.0.250");
    expect(many[250]).toBe("127.20.1.1");
    expect(many[1999]).toBe("127.20.7.250");
    expect(new Set(many).size).toBe(2000);
    expect(() => stickyAddresses(0)).toThrow("sticky clients must be 1 to 64000, got 0");
  });
});

describe("wilsonInterval", () => {
  it("matches the Wilson score interval at 95 %", () => {
    const half = wilsonInterval(50, 100);
    expect(half.share).toBe(0.5);
    expect(half.low).toBeCloseTo(0.4038, 4);
    expect(half.high).toBeCloseTo(0.5962, 4);
    const fifth = wilsonInterval(400, 2000);
    expect(fifth.low).toBeCloseTo(0.1831, 4);
    expect(fifth.high).toBeCloseTo(0.2181, 4);
  });

  it("stays inside [0, 1] at the edges, where the normal approximation collapses", () => {
    const none = wilsonInterval(0, 1600);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(0.0024, 4);
    expect(wilsonInterval(7, 7).high).toBe(1);
    expect(wilsonInterval(0, 0)).toMatchObject({ low: 0, high: 1 });
  });
});

describe("expectedMoves", () => {
  it("moves v1's clients only when v2 goes up, v2's only when it goes down", () => {
    expect(expectedMoves({ one: 80, two: 20 }, { one: 60, two: 40 })).toEqual({
      v1ToV2: 0.25,
      v2ToV1: 0,
    });
    expect(expectedMoves({ one: 60, two: 40 }, { one: 90, two: 10 })).toEqual({
      v1ToV2: 0,
      v2ToV1: 0.75,
    });
    expect(expectedMoves({ one: 80, two: 20 }, { one: 80, two: 20 })).toEqual({
      v1ToV2: 0,
      v2ToV1: 0,
    });
    expect(expectedMoves({ one: 0, two: 100 }, { one: 0, two: 100 })).toEqual({
      v1ToV2: 0,
      v2ToV1: 0,
    });
  });
});

describe("predictVersions", () => {
  it("puts the addresses whose bucket is below v2's share on v2", () => {
    const addresses = stickyAddresses(500);
    const versions = predictVersions(addresses, { one: 80, two: 20 });
    addresses.forEach((address, i) => {
      expect(versions[i]).toBe(addressBucket(address) < 0.2 * STICKY_BUCKETS ? "two" : "one");
    });
  });
});

describe("compareVersions", () => {
  it("counts each version's clients and who moved, leaving failed clients out", () => {
    expect(
      compareVersions(
        ["one", "one", "two", "two", "", "one"],
        ["one", "two", "two", "one", "two", ""],
      ),
    ).toEqual({ onV1: 2, onV2: 2, v1ToV2: 1, v2ToV1: 1 });
  });
});

describe("summarizeSticky", () => {
  const addresses = stickyAddresses(2000);
  const asPredicted: StickyPhaseResult[] = STICKY_PHASES.map((phase) => ({
    label: phase.label,
    weights: phase.weights,
    versions: predictVersions(addresses, phase.weights),
    durationMs: 100,
  }));

  it("finds the shares the hash predicts and no move backwards", () => {
    const summary = summarizeSticky(addresses, asPredicted);
    expect(summary.map((p) => p.differFromPrediction)).toEqual([0, 0, 0, 0]);
    expect(summary.map((p) => p.v2.count)).toEqual(summary.map((p) => p.predictedV2));
    const [first, again, raised, lowered] = summary;
    expect(first?.moves).toBeUndefined();
    expect(again?.moves?.v1ToV2.count).toBe(0);
    expect(again?.moves?.v2ToV1.count).toBe(0);
    expect(raised?.moves?.expected).toEqual({ v1ToV2: 0.25, v2ToV1: 0 });
    expect(raised?.moves?.v2ToV1.count).toBe(0);
    expect(raised?.moves?.v1ToV2.share).toBeCloseTo(raised?.moves?.predicted.v1ToV2 ?? -1, 10);
    expect(lowered?.moves?.v1ToV2.count).toBe(0);
    expect(lowered?.moves?.v2ToV1.share).toBeGreaterThan(0.6);
    expect(stickyProblems(summary)).toEqual([]);
    expect(stickyTable(summary).split("\n")).toHaveLength(5);
  });

  it("reports failed clients, clients off their hash and moves the wrong way", () => {
    const phases = asPredicted.map((p) => ({ ...p, versions: [...p.versions] }));
    const onV2 = phases[0]?.versions.indexOf("two") ?? -1;
    (phases[1] as StickyPhaseResult).versions[onV2] = "one";
    (phases[2] as StickyPhaseResult).versions[0] = "";
    expect(stickyProblems(summarizeSticky(addresses, phases))).toEqual([
      "sticky v2 20 again: 1 clients not on the version their address hashes to",
      "sticky v2 20 again: 1 clients moved v2 → v1",
      "sticky v2 20 → 40: 1/2000 clients failed",
    ]);
  });
});
