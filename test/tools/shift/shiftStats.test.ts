import { describe, expect, it } from "vitest";
import {
  binomialGreaterPValue,
  fisherGreaterPValue,
  quantileShiftTest,
} from "../../../tools/shift/shiftStats";
import { seededRandom } from "../../seededRandom";

describe("fisherGreaterPValue", () => {
  it("matches R's fisher.test(alternative = 'greater') on known tables", () => {
    // Fisher's tea-tasting table: 3 of 4 vs 1 of 4 -> 17/70.
    expect(fisherGreaterPValue({ a: 3, n: 4, c: 1, m: 4 })).toBeCloseTo(17 / 70, 12);
    // All 5 events in the tested group of 50, none in the 450 others: C(50,5)/C(500,5).
    expect(fisherGreaterPValue({ a: 5, n: 50, c: 0, m: 450 })).toBeCloseTo(
      2118760 / 255244687600,
      15,
    );
    // Fewer events than expected in the tested group: not evidence it is worse.
    expect(fisherGreaterPValue({ a: 0, n: 100, c: 10, m: 100 })).toBe(1);
  });

  it("is 1 without events or without a group, and stays finite for large counts", () => {
    expect(fisherGreaterPValue({ a: 0, n: 200, c: 0, m: 200 })).toBe(1);
    expect(fisherGreaterPValue({ a: 0, n: 0, c: 3, m: 200 })).toBe(1);
    const p = fisherGreaterPValue({ a: 3000, n: 50_000, c: 2000, m: 50_000 });
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-40);
  });

  it("rejects counts that are not a 2x2 table", () => {
    expect(() => fisherGreaterPValue({ a: 5, n: 4, c: 0, m: 4 })).toThrow(RangeError);
    expect(() => fisherGreaterPValue({ a: 1.5, n: 4, c: 0, m: 4 })).toThrow(RangeError);
  });

  it("false-alarms at most at its significance when both groups share a rate", () => {
    const next = seededRandom(1);
    const draw = (n: number, p: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (next() < p) k++;
      return k;
    };
    let alarms = 0;
    const trials = 2000;
    for (let i = 0; i < trials; i++) {
      const p = fisherGreaterPValue({ a: draw(60, 0.05), n: 60, c: draw(300, 0.05), m: 300 });
      if (p < 0.01) alarms++;
    }
    expect(alarms / trials).toBeLessThanOrEqual(0.01);
  });
});

describe("binomialGreaterPValue", () => {
  it("is the exact upper tail", () => {
    // P(X >= 2), X ~ Binomial(10, 0.1) = 1 - 0.9^10 - 10 * 0.1 * 0.9^9.
    expect(binomialGreaterPValue(2, 10, 0.1)).toBeCloseTo(1 - 0.9 ** 10 - 0.9 ** 9, 12);
    expect(binomialGreaterPValue(0, 10, 0.1)).toBe(1);
    expect(binomialGreaterPValue(1, 10, 0)).toBe(0);
    expect(binomialGreaterPValue(20, 200, 0.01)).toBeLessThan(1e-10);
  });
});

describe("quantileShiftTest", () => {
  const exponential = (next: () => number, n: number, scale: number, shift = 0) =>
    Array.from({ length: n }, () => shift - scale * Math.log(1 - next()));

  it("sees a 20 ms slower version in its median and p99 with few samples", () => {
    const next = seededRandom(2);
    const v1 = exponential(next, 360, 1);
    const v2 = exponential(next, 40, 1, 20);
    for (const q of [50, 99]) {
      const result = quantileShiftTest(v1, v2, q, 10);
      expect(result.pValue, `p${q}`).toBeLessThan(1e-4);
      expect((result.tested as number) - (result.reference as number)).toBeGreaterThan(10);
    }
  });

  it("lets the allowed increase absorb a smaller slowdown", () => {
    const next = seededRandom(3);
    const v1 = exponential(next, 400, 1);
    const v2 = exponential(next, 400, 1, 5);
    expect(quantileShiftTest(v1, v2, 50, 10).pValue).toBe(1);
    expect(quantileShiftTest(v1, v2, 50, 0).pValue).toBeLessThan(1e-10);
  });

  it("counts each sample above the pooled percentile", () => {
    const result = quantileShiftTest([1, 2, 3, 4], [5, 6, 7, 8], 50, 0);
    expect(result).toMatchObject({
      q: 50,
      reference: 2,
      tested: 6,
      threshold: 4,
      testedAbove: 4,
      referenceAbove: 0,
    });
    expect(result.pValue).toBeCloseTo(1 / 70, 12);
  });

  it("false-alarms at most at its significance for one distribution, heavy tail included", () => {
    const next = seededRandom(4);
    // Mostly fast, 2% stalls of 10-100 ms: what a loaded machine gives.
    const latency = () => (next() < 0.02 ? 10 + 90 * next() : 0.5 - 0.3 * Math.log(1 - next()));
    let alarms = 0;
    const trials = 1000;
    for (let i = 0; i < trials; i++) {
      const v1 = Array.from({ length: 200 }, latency);
      const v2 = Array.from({ length: 100 }, latency);
      if (quantileShiftTest(v1, v2, 99, 0).pValue < 0.01) alarms++;
      if (quantileShiftTest(v1, v2, 50, 0).pValue < 0.01) alarms++;
    }
    expect(alarms / (2 * trials)).toBeLessThanOrEqual(0.01);
  });
});
