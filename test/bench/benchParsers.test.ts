import { describe, expect, it } from "vitest";
import { type CpuProfile, inclusiveTimes, selfTimes, shortUrl } from "../../bench/cpuProfile";
import { parseReloadsTotal } from "../../bench/gatewayMetrics";
import { isEchoReply, splitTarget } from "../../bench/halfClose";
import { parseLoadgenLine } from "../../bench/loadgen";
import {
  type BackendAddresses,
  gatewayRoutes,
  haproxyConfig,
  nginxConfig,
  weightedServers,
} from "../../bench/peers";
import { checkSplit } from "../../bench/phases";
import { validateRouteFile } from "../../contract/routeFile";

describe("cpu profile summary", () => {
  it("sums self time per function over profiles using each sample's time delta", () => {
    const frame = (functionName: string, url: string, lineNumber: number) => ({
      functionName,
      url,
      lineNumber,
    });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame("(root)", "", -1) },
        { id: 2, callFrame: frame("onConnection", "file:///w/dist/gateway/tcpGateway.js", 9) },
        { id: 3, callFrame: frame("(idle)", "", -1) },
      ],
      samples: [2, 2, 3, 2],
      timeDeltas: [0, 100, 300, 600],
      startTime: 0,
      endTime: 1000,
    };
    // sample i is charged timeDeltas[i + 1]: node 2 gets 100 + 300 + 0, node 3 gets 600
    expect(selfTimes([profile, profile])).toEqual([
      { frame: "(idle)", selfMs: 1.2, percent: 60, busyPercent: 0 },
      {
        frame: "onConnection (dist/gateway/tcpGateway.js:10)",
        selfMs: 0.8,
        percent: 40,
        busyPercent: 100,
      },
    ]);
  });

  it("charges inclusive time once to every matching frame on a sample's stack", () => {
    const frame = (functionName: string) => ({
      functionName,
      url: "file:///w/dist/gateway/g.js",
      lineNumber: 0,
    });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2] },
        { id: 2, callFrame: frame("accept"), children: [3, 4] },
        { id: 3, callFrame: frame("pick") },
        { id: 4, callFrame: { functionName: "connect", url: "node:net", lineNumber: 0 } },
      ],
      samples: [3, 4, 2],
      timeDeltas: [0, 200, 300, 500],
      startTime: 0,
      endTime: 1000,
    };
    const gatewayOnly = inclusiveTimes([profile], (f) => f.includes("dist/gateway"));
    expect(gatewayOnly.map((t) => [t.frame, t.selfMs])).toEqual([
      ["accept (dist/gateway/g.js:1)", 1],
      ["pick (dist/gateway/g.js:1)", 0.2],
    ]);
  });

  it("shortens file URLs to the dist/, node_modules/ or node: part", () => {
    expect(shortUrl("file:///work/main/node_modules/prom-client/lib/counter.js")).toBe(
      "node_modules/prom-client/lib/counter.js",
    );
    expect(shortUrl("node:net")).toBe("node:net");
    expect(shortUrl("/a/b/c.js")).toBe("c.js");
  });
});

describe("reply and output parsing", () => {
  it("accepts exactly prefix + space + line as an echo reply", () => {
    expect(isEchoReply("hi\n", "one hi\n")).toBe(true);
    expect(isEchoReply("hi\n", "two hi\n")).toBe(true);
    expect(isEchoReply("hi\n", "one hi")).toBe(false);
    expect(isEchoReply("hi\n", "")).toBe(false);
  });

  it("splits a load generator target with or without a weight", () => {
    expect(splitTarget("127.0.0.1:9000=80")).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(splitTarget("127.0.0.1:31400")).toEqual({ host: "127.0.0.1", port: 31400 });
  });

  it("parses the load generator's JSON line", () => {
    const line =
      '{"phase":"conn","ok":10,"errors":0,"firstError":"","one":8,"two":2,"elapsedSec":1.0,' +
      '"connPerSec":10.0,"latencyUs":{"count":10,"mean":5.0,"p50":4.0,"p90":6.0,"p99":9.0,' +
      '"max":9.5},"bytes":0,"mbPerSec":0.00,"sentBytes":4096,"verifiedBytes":4000,"cpuSec":0.812}';
    expect(parseLoadgenLine(line)).toMatchObject({
      ok: 10,
      one: 8,
      two: 2,
      latencyUs: { p99: 9 },
      sentBytes: 4096,
      verifiedBytes: 4000,
      cpuSec: 0.812,
    });
    expect(() => parseLoadgenLine('{"phase":"conn"}')).toThrow(/unexpected loadgen output/);
  });

  it("sums reloads_total samples and ignores reload_failures_total", () => {
    const text =
      "# HELP tcp_gateway_reloads_total Route reloads applied\n" +
      "tcp_gateway_reloads_total 7\n" +
      "tcp_gateway_reload_failures_total 2\n";
    expect(parseReloadsTotal(text)).toBe(7);
    expect(parseReloadsTotal("up 1\n")).toBeUndefined();
  });

  it("fails a phase whose v1/v2 split is off 80/20 and passes an exact one", () => {
    expect(() => checkSplit({ one: 800, two: 200 }, "x")).not.toThrow();
    expect(() => checkSplit({ one: 500, two: 500 }, "x")).toThrow(/v1 got 50.0 % of 1000/);
  });
});

describe("peer configs", () => {
  const backends: BackendAddresses = {
    hosts: ["127.0.1.1", "127.0.1.2"],
    one: { port: 9001 },
    two: { port: 9002 },
  };

  it("lists every backend address with its version's weight, so the split stays 80/20", () => {
    expect(weightedServers(backends)).toEqual([
      { name: "v1-1", address: "127.0.1.1:9001", weight: 80 },
      { name: "v1-2", address: "127.0.1.2:9001", weight: 80 },
      { name: "v2-1", address: "127.0.1.1:9002", weight: 20 },
      { name: "v2-2", address: "127.0.1.2:9002", weight: 20 },
    ]);
  });

  it("gives HAProxy one thread, tcp mode and 80/20 weighted round robin over every address", () => {
    const config = haproxyConfig(31400, backends, 10_000);
    expect(config).toContain("nbthread 1");
    expect(config).toContain("mode tcp");
    expect(config).toContain("bind 127.0.0.1:31400");
    expect(config).toContain(
      "  balance roundrobin\n" +
        "  server v1-1 127.0.1.1:9001 weight 80\n" +
        "  server v1-2 127.0.1.2:9001 weight 80\n" +
        "  server v2-1 127.0.1.1:9002 weight 20\n" +
        "  server v2-2 127.0.1.2:9002 weight 20\n",
    );
  });

  it("gives nginx one worker, the stream module, 80/20 weights and proxy_half_close", () => {
    const config = nginxConfig("/tmp/x", 31400, backends, 10_000);
    expect(config).toContain("worker_processes 1;");
    expect(config).toContain("server 127.0.1.2:9001 weight=80;");
    expect(config).toContain("server 127.0.1.2:9002 weight=20;");
    expect(config).toContain("proxy_half_close on;");
    expect(config).toContain("listen 127.0.0.1:31400");
  });

  it("marks nginx servers of a weight-0 version down (nginx has no weight 0)", () => {
    const config = nginxConfig("/tmp/x", 31400, backends, 10_000, { one: 0, two: 100 });
    expect(config).toContain("server 127.0.1.1:9001 down;");
    expect(config).toContain("server 127.0.1.1:9002 weight=100;");
  });

  it("writes a gateway route file that the gateway's own schema accepts", () => {
    const routes = validateRouteFile(
      gatewayRoutes(31400, backends, { one: 80, two: 20 }, 20_000),
      "bench",
    );
    expect(routes.listeners[0]?.routes.map((r) => [r.name, r.weight, r.endpoints])).toEqual([
      ["v1", 80, ["127.0.1.1:9001", "127.0.1.2:9001"]],
      ["v2", 20, ["127.0.1.1:9002", "127.0.1.2:9002"]],
    ]);
  });
});
