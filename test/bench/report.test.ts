import { describe, expect, it } from "vitest";
import {
  addedLatency,
  conn50Bounds,
  formatSpread,
  headline,
  median,
  type PeerSample,
  proxyCoreShare,
  renderTable,
  roundOrder,
  roundRatios,
  spread,
  summarize,
} from "../../bench/report";

function sample(peer: string, round: number, connRate50: number, p99: number): PeerSample {
  return {
    peer,
    round,
    connRate1: connRate50 / 2,
    connRate50,
    cpuPerConnUs: peer === "direct" ? undefined : 1e6 / connRate50,
    lat1000: { p50: p99 / 2, p99 },
    lat3000: { p50: p99, p99: 2 * p99 },
    bulkMBs: connRate50 / 10,
    rssIdleMB: peer === "direct" ? undefined : 20,
    rssPerConnKB: peer === "direct" ? undefined : 1.5,
    split: { one: 80, two: 20 },
  };
}

describe("median and spread", () => {
  it("takes the middle value, or the mean of the two middle values", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("reports median, min, max and count over finite values only", () => {
    expect(spread([5, undefined, 1, Number.NaN, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(spread([undefined])).toBeUndefined();
  });
});

describe("roundRatios", () => {
  it("divides values of the same round and skips rounds with a missing or non-positive base", () => {
    expect(roundRatios([2, 3, 4, 9], [1, undefined, 0, 3])).toEqual([2, 3]);
  });

  it("keeps a negative numerator (gateway measured faster than direct) as it is", () => {
    expect(roundRatios([-10], [20])).toEqual([-0.5]);
  });
});

describe("addedLatency", () => {
  it("is the peer's latency minus direct's in the same round", () => {
    expect(addedLatency(350, 100)).toBe(250);
    expect(addedLatency(90, 100)).toBe(-10);
    expect(addedLatency(90, undefined)).toBeUndefined();
  });
});

describe("summarize", () => {
  const samples = [
    sample("gateway", 0, 600, 400),
    sample("haproxy", 0, 1000, 200),
    sample("direct", 0, 2000, 100),
    sample("gateway", 1, 900, 500),
    sample("haproxy", 1, 1000, 300),
    sample("direct", 1, 2000, 100),
  ];
  const summary = summarize(samples);
  const metric = (key: string) => summary.find((m) => m.key === key);

  it("gives the median of per-round gateway/HAProxy ratios with min and max", () => {
    expect(metric("connRate50")?.gatewayVsHaproxy).toEqual({
      median: 0.75,
      min: 0.6,
      max: 0.9,
      n: 2,
    });
    expect(metric("connRate50")?.gatewayVsDirect).toEqual({
      median: 0.375,
      min: 0.3,
      max: 0.45,
      n: 2,
    });
    expect(metric("connRate50")?.perPeer.haproxy).toEqual({
      median: 1000,
      min: 1000,
      max: 1000,
      n: 2,
    });
  });

  it("compares added latency against direct of the same round", () => {
    // round 0: (400-100)/(200-100) = 3; round 1: (500-100)/(300-100) = 2
    expect(metric("p99At1000")?.gatewayVsHaproxy).toEqual({ median: 2.5, min: 2, max: 3, n: 2 });
    expect(metric("p99At1000")?.perPeer.direct).toBeUndefined();
    expect(metric("p99At1000")?.gatewayVsDirect).toBeUndefined();
  });

  it("fills the headline figures of --json from the medians", () => {
    const head = headline(summary, { reloadMs: 55, lostConnections: 0 });
    expect(head.ratios.connRate).toBe(0.75);
    expect(head.ratios.p99At1000).toBe(2.5);
    expect(head.ratios.cpuPerConn).toBeCloseTo((1000 / 600 + 1000 / 900) / 2, 10);
    expect(head.rssIdleMB).toBe(20);
    expect(head.rssPerConnKB).toBe(1.5);
    expect(head).toMatchObject({ reloadMs: 55, lostConnections: 0 });
  });
});

describe("table", () => {
  it("formats a spread as median (min–max), a single value alone", () => {
    expect(formatSpread({ median: 0.754, min: 0.61, max: 0.9, n: 3 }, true)).toBe(
      "0.75 (0.61–0.90)",
    );
    expect(formatSpread({ median: 1234.4, min: 1234.4, max: 1234.4, n: 1 })).toBe("1234");
    expect(formatSpread(undefined)).toBe("–");
  });

  it("aligns the first column left and the others right", () => {
    expect(
      renderTable([
        ["metric", "a"],
        ["x", "123"],
      ]),
    ).toBe("metric    a\nx       123");
  });

  it("swaps the peer order every round so gateway and HAProxy alternate", () => {
    expect(roundOrder(["gateway", "haproxy", "direct"], 0)).toEqual([
      "gateway",
      "haproxy",
      "direct",
    ]);
    expect(roundOrder(["gateway", "haproxy", "direct"], 1)).toEqual([
      "direct",
      "haproxy",
      "gateway",
    ]);
  });
});

describe("what bounds the 50-concurrent phase", () => {
  const bound = (generatorCpu50: number, machineBusy50: number, pairUse50: number) => ({
    ...sample("direct", 0, 20_000, 100),
    generatorCpu50,
    machineBusy50,
    pairUse50,
  });

  it("names the generator, the cores or the port space when near their limit (medians)", () => {
    expect(conn50Bounds([bound(0.97, 0.99, 0.3), bound(0.95, 0.97, 0.3)])).toEqual([
      "the load generator (96 % of its one core)",
      "the machine's cores (98 % busy)",
    ]);
    expect(conn50Bounds([bound(0.5, 0.7, 0.99)])).toEqual([
      "the loopback port space (busiest address pair at 99 %)",
    ]);
    expect(conn50Bounds([bound(0.5, 0.7, 0.3)])).toEqual([]);
  });

  it("names the proxy's own thread when its CPU per connection × rate nears one core", () => {
    // 70 µs × 13,000 conn/s = 0.91 of a core
    const busy = { ...sample("gateway", 0, 13_000, 100), cpuPerConnUs: 70, machineBusy50: 0.9 };
    expect(proxyCoreShare(busy)).toBeCloseTo(0.91, 10);
    expect(conn50Bounds([busy])).toEqual(["the proxy's own thread (91 % of a core)"]);
    expect(proxyCoreShare(sample("direct", 0, 20_000, 100))).toBeUndefined();
  });

  it("shows the context rows per peer without ratios", () => {
    const summary = summarize([
      { ...sample("gateway", 0, 600, 400), generatorCpu50: 0.5 },
      { ...sample("haproxy", 0, 1000, 200), generatorCpu50: 0.8 },
    ]);
    const row = summary.find((m) => m.key === "generatorCpu50");
    expect(row?.perPeer.gateway?.median).toBe(50);
    expect(row?.gatewayVsHaproxy).toBeUndefined();
  });
});
