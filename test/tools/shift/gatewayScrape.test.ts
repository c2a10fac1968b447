import { afterAll, describe, expect, it } from "vitest";
import { createGateway, DATA_PATHS } from "../../../dataplane/gateway/tcpGateway";
import { runVerify } from "../../../dataplane/verify/verify";
import {
  gatewaySnapshot,
  parsePrometheusText,
  routeDelta,
} from "../../../tools/shift/gatewayScrape";
import { emptyWindow } from "../../../tools/shift/probeWindow";
import { gatewayGate } from "../../../tools/shift/shiftGates";
import { at, echoPair, exchange, singleListener } from "../../dataplane/netHelpers";
import { startFaultyEcho } from "./faultyEcho";

const backends = echoPair();
const names = { v1: "v1", v2: "v2" };

describe("the gateway's /metrics as the shift reads it", () => {
  const gateways: ReturnType<typeof createGateway>[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close(0)));
  });

  it("gives the loaded weights and per-version counters of a real gateway", async () => {
    const gateway = createGateway({
      routes: singleListener(backends.routes(100, 0), {}, "tcp-echo"),
    });
    gateways.push(gateway);
    await gateway.listen();
    const port = gateway.address("tcp-echo")?.port as number;
    const before = gatewaySnapshot(parsePrometheusText(await gateway.registry.metrics()), names);
    expect(before).toMatchObject({
      listener: "tcp-echo",
      weights: { v1: 100, v2: 0 },
      routes: { v1: { connections: 0 }, v2: { connections: 0 } },
    });
    expect((await exchange(port, "x\n")).toString()).toBe("one x\n");
    await gateway.reload(singleListener(backends.routes(80, 20), {}, "tcp-echo"));
    const after = gatewaySnapshot(parsePrometheusText(await gateway.registry.metrics()), names);
    expect(after.weights).toEqual({ v1: 80, v2: 20 });
    expect(after.reloads).toBe(before.reloads + 1);
    expect(routeDelta(before.routes.v1, after.routes.v1)).toMatchObject({
      connections: 1,
      connectFailures: 0,
      backendUnavailable: 0,
      resets: 0,
    });
  });

  it.each(DATA_PATHS)(
    "%s data path: sees a v2 that resets half its connections as resets of v2, and the gateway gate fails it",
    async (dataPath) => {
      const v2 = await startFaultyEcho("two", { resetEvery: 2 });
      const gateway = createGateway({
        dataPath,
        routes: singleListener(
          [
            { name: "v1", weight: 50, endpoints: [at(backends.one.port)] },
            { name: "v2", weight: 50, endpoints: [at(v2.port)] },
          ],
          {},
          "tcp-echo",
        ),
      });
      gateways.push(gateway);
      await gateway.listen();
      const scrape = async () =>
        gatewaySnapshot(parsePrometheusText(await gateway.registry.metrics()), names);
      const before = await scrape();
      const result = await runVerify({
        host: "127.0.0.1",
        port: gateway.address("tcp-echo")?.port as number,
        connections: 200,
        concurrency: 8,
        timeoutMs: 5000,
      });
      await expect.poll(() => gateway.activeConnections).toBe(0);
      const after = await scrape();
      await v2.close();
      // Smooth 50/50: 100 connections each; the relay reset every second v2 connection.
      expect(result.counts).toEqual({ v1: 100, v2: 50 });
      expect(v2.reset).toBe(50);
      const window = {
        v1: routeDelta(before.routes.v1, after.routes.v1),
        v2: routeDelta(before.routes.v2, after.routes.v2),
      };
      expect(window.v1).toMatchObject({ connections: 100, resets: 0, backendUnavailable: 0 });
      expect(window.v2).toMatchObject({ connections: 100, resets: 50, backendUnavailable: 0 });
      // Every connection was established: each has a lifetime in the histogram.
      expect(window.v1.durationBuckets?.at(-1)).toEqual({
        le: Number.POSITIVE_INFINITY,
        count: 100,
      });
      expect(window.v2.durationBuckets?.at(-1)).toEqual({
        le: Number.POSITIVE_INFINITY,
        count: 100,
      });
      const gate = gatewayGate(
        { weight: 50, probe: emptyWindow(), gateway: window },
        { alpha: 0.001, minSamples: 100, maxErrorRate: 0.01, maxLatencyIncreaseMs: 10 },
      );
      expect(gate?.verdict).toBe("fail");
      expect(gate?.summary).toMatch(
        /^v2 failed 50 of 100 \(50\.0%\) vs v1 0 of 100 \(0\.0%\) \(unavailable or reset, all traffic\); connect failures v1 0, v2 0; durations p99 /,
      );
    },
  );

  it("names the listeners and routes it saw when the routes are not there", () => {
    const samples = parsePrometheusText(
      'tcp_gateway_route_weight{listener="edge",route="stable"} 100\ntcp_gateway_route_weight{listener="edge",route="canary"} 0\n',
    );
    expect(() => gatewaySnapshot(samples, names, undefined, "http://gw/metrics")).toThrow(
      'http://gw/metrics shows no listener with routes "v1" and "v2" (listeners and routes: edge: stable, canary); name them with --listener, --v1-route and --v2-route',
    );
    expect(gatewaySnapshot(samples, { v1: "stable", v2: "canary" }).weights).toEqual({
      v1: 100,
      v2: 0,
    });
  });

  it("reads resets and duration buckets when the gateway exports them", () => {
    const text = [
      "# HELP tcp_gateway_backend_resets_total Connections reset by the backend.",
      'tcp_gateway_route_weight{listener="a",route="v1"} 50',
      'tcp_gateway_route_weight{listener="a",route="v2"} 50',
      'tcp_gateway_backend_resets_total{listener="a",route="v2"} 7',
      'tcp_gateway_connection_duration_seconds_bucket{listener="a",route="v2",le="0.01"} 3',
      'tcp_gateway_connection_duration_seconds_bucket{listener="a",route="v2",le="+Inf"} 9',
    ].join("\n");
    const snapshot = gatewaySnapshot(parsePrometheusText(text), names);
    expect(snapshot.routes.v2).toEqual({
      connections: 0,
      connectFailures: 0,
      backendUnavailable: 0,
      resets: 7,
      durationBuckets: [
        { le: 0.01, count: 3 },
        { le: Number.POSITIVE_INFINITY, count: 9 },
      ],
    });
  });

  it("parses labels with escapes and skips comments", () => {
    expect(parsePrometheusText('# TYPE x counter\nx{a="q\\"uote",b="1"} 2.5 1700000000\n')).toEqual(
      [{ name: "x", labels: { a: 'q"uote', b: "1" }, value: 2.5 }],
    );
  });
});
