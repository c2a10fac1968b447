import { describe, expect, it } from "vitest";
import {
  BACKEND_HOSTS,
  busiestPairRate,
  pairConnectionsPerSecond,
  parsePortRange,
  SOURCE_HOSTS,
} from "../../bench/addressPlan";

const DEFAULTS = { from: 32768, to: 60999, twReuse: 2, reuseDelayMs: 1000 };

describe("port space", () => {
  it("parses ip_local_port_range", () => {
    expect(parsePortRange("32768\t60999\n")).toEqual({ from: 32768, to: 60999 });
    expect(() => parsePortRange("60999 32768")).toThrow(/not a port range/);
  });

  it("gives one address pair the even ports per reuse delay: 14,116 conn/s by default", () => {
    // the figure every proxy and direct stopped at before: 14,076 conn/s
    expect(pairConnectionsPerSecond(DEFAULTS)).toBe(14_116);
    expect(pairConnectionsPerSecond({ ...DEFAULTS, reuseDelayMs: 500 })).toBe(28_232);
    expect(pairConnectionsPerSecond({ ...DEFAULTS, twReuse: 0 })).toBeCloseTo(28_232 / 60, 6);
  });

  it("puts the busiest pair on the client side or the busiest version's backend side", () => {
    const proxied = { sources: 4, backendHosts: 4, busiestShare: 0.8, direct: false };
    expect(busiestPairRate(20_000, proxied)).toBe(5000); // 20,000 / 4 sources
    expect(busiestPairRate(20_000, { ...proxied, sources: 8, backendHosts: 1 })).toBe(16_000);
    expect(busiestPairRate(20_000, { ...proxied, direct: true })).toBe(1000); // 16,000 / 16
    // the old layout: one source, one address per backend
    const old = { sources: 1, backendHosts: 1, busiestShare: 0.8, direct: false };
    expect(busiestPairRate(14_076, old)).toBe(14_076);
    expect(busiestPairRate(17_614, { ...old, direct: true })).toBeCloseTo(14_091.2, 6);
  });

  it("stays on loopback", () => {
    for (const host of [...SOURCE_HOSTS, ...BACKEND_HOSTS]) expect(host).toMatch(/^127\./);
  });
});
