import { describe, expect, it } from "vitest";
import {
  addressBucket,
  createWeightedPicker,
  STICKY_BUCKETS,
} from "../../../dataplane/gateway/weightedPicker";

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

describe("sticky split by client address", () => {
  /** 20,000 distinct client addresses, IPv4 and IPv6. */
  const clients = Array.from({ length: 20_000 }, (_, i) =>
    i % 4 === 3
      ? `2001:db8::${i.toString(16)}`
      : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  );
  const routeOf = (weights: number[]) => {
    const picker = createWeightedPicker(items(...weights), "sticky");
    return clients.map((client) => picker.pick(client).name);
  };

  it("each address keeps its route; the share of addresses tracks the weight", () => {
    for (const v2 of [1, 10, 20, 50, 90]) {
      const picker = createWeightedPicker(items(100 - v2, v2), "sticky");
      const first = clients.map((client) => picker.pick(client).name);
      expect(clients.map((client) => picker.pick(client).name)).toEqual(first);
      // 20,000 addresses: a binomial standard deviation of at most 0.36%; 5 of them is 1.8%.
      const share = first.filter((name) => name === "r1").length / clients.length;
      expect(Math.abs(share - v2 / 100)).toBeLessThan(0.018);
    }
  });

  it("raising v2 moves clients only from v1 to v2; lowering it only from v2 to v1", () => {
    const steps = [0, 5, 20, 50, 51, 80, 100].map((v2) => routeOf([100 - v2, v2]));
    for (let i = 1; i < steps.length; i++) {
      const before = steps[i - 1] as string[];
      const after = steps[i] as string[];
      const moved = before.filter((name, c) => name !== after[c]);
      expect(moved.every((name) => name === "r0")).toBe(true);
    }
    // Down again: only v2 clients move, back to v1.
    const down = [80, 20, 0].map((v2) => routeOf([100 - v2, v2]));
    for (let i = 1; i < down.length; i++)
      expect(
        (down[i - 1] as string[]).every(
          (name, c) => name === (down[i] as string[])[c] || name === "r1",
        ),
      ).toBe(true);
  });

  it("more routes: the last route takes the lowest buckets; moving weight to later routes moves clients only forward", () => {
    const order = (name: string) => Number(name.slice(1));
    const before = routeOf([50, 30, 20]);
    const after = routeOf([30, 30, 40]); // each tail's share grows: r2 20→40, r1+r2 50→70
    expect(before.every((name, c) => order(after[c] as string) >= order(name))).toBe(true);
    const shares = (names: string[]) =>
      ["r0", "r1", "r2"].map((r) => names.filter((name) => name === r).length / names.length);
    shares(after).forEach((share, i) => {
      expect(Math.abs(share - ([0.3, 0.3, 0.4][i] as number))).toBeLessThan(0.02);
    });
  });

  it("a weight-0 route holds no bucket; an IPv4 address seen as IPv6 hashes as itself", () => {
    const picker = createWeightedPicker(items(0, 100), "sticky");
    expect(clients.every((client) => picker.pick(client).name === "r1")).toBe(true);
    expect(addressBucket("::ffff:10.1.2.3")).toBe(addressBucket("10.1.2.3"));
    expect(addressBucket("10.1.2.3")).toBeLessThan(STICKY_BUCKETS);
  });
});
