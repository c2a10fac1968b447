import { describe, expect, it } from "vitest";
import {
  binomialTestPValue,
  judgeShare,
  percentile,
  VERDICT_EXIT_CODES,
  wilsonInterval,
} from "../../../dataplane/verify/verifyStats";

// Reference values: scipy.stats.binomtest(x, n, p).pvalue and .proportion_ci(0.95, "wilson"),
// which match R's binom.test (two-sided, "minlike"). 20/100 by hand: centre
// (0.2 + 1.96²/200) / (1 + 1.96²/100) = 0.21110, half-width 0.07773 → [0.13337, 0.28883].
describe("wilsonInterval", () => {
  it.each([
    [20, 100, 0.1333669333310325, 0.2888291655931589],
    [35, 100, 0.2636424824309753, 0.44745556703112044],
    [40, 200, 0.15045200926098115, 0.26085518656537876],
    [3, 10, 0.10779126740630102, 0.6032218525388546],
    [1000, 5000, 0.18914494391506542, 0.21131567725196881],
    [0, 200, 0, 0.018845326377266575],
    [100, 100, 0.9630065017930143, 1],
  ])("%i of %i", (x, n, low, high) => {
    const interval = wilsonInterval(x, n);
    expect(interval.low).toBeCloseTo(low, 9);
    expect(interval.high).toBeCloseTo(high, 9);
  });

  it("is [0, 1] with no data and rejects impossible counts", () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
    expect(() => wilsonInterval(5, 4)).toThrow(RangeError);
    expect(() => wilsonInterval(-1, 4)).toThrow(RangeError);
  });
});

describe("binomialTestPValue", () => {
  it.each([
    [20, 100, 0.2, 1],
    [40, 200, 0.2, 1],
    [35, 100, 0.2, 0.0004140507636903579],
    [10, 100, 0.2, 0.011755716436836525],
    [3, 10, 0.5, 0.34375],
    [7, 20, 0.3, 0.6294979666766769],
    [500, 1000, 0.5, 1],
    [1000, 5000, 0.2, 1],
    [1100, 5000, 0.2, 0.00046379732630620553],
    [1060, 5000, 0.2, 0.03538950400261883],
    [950, 5000, 0.2, 0.07711645997326233],
    [1500, 3000, 0.45, 4.0148551199407944e-8],
    [0, 100, 0.2, 2.886749826465891e-10],
    [100, 100, 0.2, 1.2676506002282365e-70],
  ])("%i of %i against %f", (x, n, p, expected) => {
    const pValue = binomialTestPValue(x, n, p);
    expect(pValue / expected).toBeCloseTo(1, 6);
  });

  it("handles the degenerate weights 0% and 100% exactly", () => {
    expect(binomialTestPValue(0, 200, 0)).toBe(1);
    expect(binomialTestPValue(1, 200, 0)).toBe(0);
    expect(binomialTestPValue(200, 200, 1)).toBe(1);
    expect(binomialTestPValue(199, 200, 1)).toBe(0);
    expect(binomialTestPValue(0, 0, 0.3)).toBe(1);
  });

  it("underflows to 0, not NaN, far out in the tail of thousands of trials", () => {
    expect(binomialTestPValue(2500, 5000, 0.2)).toBe(0);
  });
});

describe("percentile", () => {
  it("picks observed values by nearest rank", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
    expect(percentile(samples, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe("judgeShare", () => {
  it("is consistent for 20/100 against 20% and inconsistent for 35/100", () => {
    const consistent = judgeShare({ v1: 80, v2: 20, attempted: 100, failed: 0, expectV2: 20 });
    expect(consistent.verdict).toBe("consistent");
    expect(consistent.share).toBe(0.2);
    expect(consistent.pValue).toBe(1);
    const inconsistent = judgeShare({ v1: 65, v2: 35, attempted: 100, failed: 0, expectV2: 20 });
    expect(inconsistent.verdict).toBe("inconsistent");
    expect(VERDICT_EXIT_CODES[inconsistent.verdict]).toBe(1);
  });

  it("does not reject 10/100 against 20% at p < 0.001 (p = 0.0118)", () => {
    expect(judgeShare({ v1: 90, v2: 10, attempted: 100, failed: 0, expectV2: 20 }).verdict).toBe(
      "consistent",
    );
  });

  it("checks failures first: over 1% failed is exit 3 even when the share fits", () => {
    const judged = judgeShare({ v1: 160, v2: 37, attempted: 200, failed: 3, expectV2: 20 });
    expect(judged.verdict).toBe("failures");
    expect(VERDICT_EXIT_CODES[judged.verdict]).toBe(3);
    // Exactly 1% is still tolerated.
    expect(judgeShare({ v1: 158, v2: 40, attempted: 200, failed: 2, expectV2: 20 }).verdict).toBe(
      "consistent",
    );
  });

  it("only measures without an expectation, and fails when nothing answered", () => {
    expect(judgeShare({ v1: 100, v2: 0, attempted: 100, failed: 0 }).verdict).toBe("measured");
    const none = judgeShare({ v1: 0, v2: 0, attempted: 10, failed: 10, expectV2: 0 });
    expect(none.verdict).toBe("failures");
    expect(none.share).toBeUndefined();
  });
});
