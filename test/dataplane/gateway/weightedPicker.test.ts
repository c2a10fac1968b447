import { describe, expect, it } from "vitest";
import { createWeightedPicker } from "../../../dataplane/gateway/weightedPicker";

const items = (...weights: number[]) => weights.map((weight, i) => ({ name: `r${i}`, weight }));
const draw = (picker: { pick(): { name: string } }, n: number) =>
  Array.from({ length: n }, () => picker.pick().name);
const tally = (names: string[]) =>
  names.reduce<Record<string, number>>((acc, name) => {
    acc[name] = (acc[name] ?? 0) + 1;
    return acc;
  }, {});

describe("smooth weighted round robin", () => {
  it("80/20 gives exactly 8 and 2 in every window of 10, interleaved", () => {
    const names = draw(createWeightedPicker(items(80, 20)), 1000);
    for (let start = 0; start < 1000; start += 10)
      expect(tally(names.slice(start, start + 10))).toEqual({ r0: 8, r1: 2 });
    // Interleaved, not 8 then 2: the period of 80/20 is 5 picks.
    expect(names.slice(0, 5)).toEqual(["r0", "r0", "r1", "r0", "r0"]);
  });

  it("5/1/1 is nginx's sequence a a b a c a a", () => {
    expect(draw(createWeightedPicker(items(5, 1, 1)), 7)).toEqual([
      "r0",
      "r0",
      "r1",
      "r0",
      "r2",
      "r0",
      "r0",
    ]);
  });

  it("never picks weight 0", () => {
    expect(tally(draw(createWeightedPicker(items(0, 100)), 100))).toEqual({ r1: 100 });
    expect(tally(draw(createWeightedPicker(items(100, 0)), 100))).toEqual({ r0: 100 });
    expect(tally(draw(createWeightedPicker(items(0, 3, 0, 1)), 8))).toEqual({ r1: 6, r3: 2 });
  });

  it("weights need not sum to 100", () => {
    expect(tally(draw(createWeightedPicker(items(3, 7)), 10))).toEqual({ r0: 3, r1: 7 });
  });

  it("refuses a set with no positive weight", () => {
    expect(() => createWeightedPicker(items(0, 0))).toThrow(/weight > 0/);
  });
});

describe("random by weight", () => {
  it("maps the random draw onto cumulative weights", () => {
    const values = [0, 0.79, 0.8, 0.999];
    let i = 0;
    const picker = createWeightedPicker(items(80, 20), "random", () => values[i++] as number);
    expect(draw(picker, 4)).toEqual(["r0", "r0", "r1", "r1"]);
  });

  it("approximates the shares with Math.random and never picks weight 0", () => {
    const counts = tally(draw(createWeightedPicker(items(80, 0, 20), "random"), 20_000));
    expect(counts.r1).toBeUndefined();
    expect((counts.r0 ?? 0) / 20_000).toBeGreaterThan(0.77);
    expect((counts.r0 ?? 0) / 20_000).toBeLessThan(0.83);
  });
});
