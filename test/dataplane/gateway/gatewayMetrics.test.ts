import { AggregatorRegistry, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { retainCumulative } from "../../../dataplane/gateway/gatewayCluster";
import {
  CONNECTION_DURATION_BUCKETS,
  createGatewayMetrics,
  recordDuration,
} from "../../../dataplane/gateway/gatewayMetrics";

/** A gateway's metrics with one route, `app`/`v1`, in force. */
function oneRoute() {
  const registry = new Registry();
  const metrics = createGatewayMetrics(registry);
  metrics.counts.setLive([["app", ["v1"]]]);
  return { registry, counts: metrics.counts.route("app", "v1") };
}

/** The lines of `text` that belong to `metric` (its samples, not its comments). */
const linesOf = (text: string, metric: string) =>
  text.split("\n").filter((line) => line.startsWith(metric));

describe("gateway metrics", () => {
  it("buckets connection lifetimes from 5 ms to an hour, each bound inclusive, longer ones in +Inf", () => {
    expect(CONNECTION_DURATION_BUCKETS[0]).toBe(0.005);
    expect(CONNECTION_DURATION_BUCKETS.at(-1)).toBe(3600);
    const { counts } = oneRoute();
    for (const seconds of [0, 0.005, 0.0051, 0.3, 3600, 3600.001]) recordDuration(counts, seconds);
    const at = (le: number) => counts.durations[CONNECTION_DURATION_BUCKETS.indexOf(le)];
    expect(at(0.005)).toBe(2);
    expect(at(0.01)).toBe(1);
    expect(at(0.5)).toBe(1);
    expect(at(3600)).toBe(1);
    expect(counts.durations.at(-1)).toBe(1);
    expect(counts.durations.reduce((sum, n) => sum + n, 0)).toBe(6);
  });

  it("exports resets and the duration histogram per route in Prometheus text", async () => {
    const { registry, counts } = oneRoute();
    counts.resets = 2;
    recordDuration(counts, 0.004);
    recordDuration(counts, 0.3);
    recordDuration(counts, 7200);
    const text = await registry.metrics();
    expect(linesOf(text, "tcp_gateway_backend_resets_total")).toEqual([
      'tcp_gateway_backend_resets_total{listener="app",route="v1"} 2',
    ]);
    expect(text).toContain("# TYPE tcp_gateway_connection_duration_seconds histogram");
    const series = 'tcp_gateway_connection_duration_seconds_bucket{listener="app",route="v1",le=';
    expect(linesOf(text, "tcp_gateway_connection_duration_seconds")).toEqual([
      `${series}"0.005"} 1`,
      `${series}"0.01"} 1`,
      `${series}"0.025"} 1`,
      `${series}"0.05"} 1`,
      `${series}"0.1"} 1`,
      `${series}"0.25"} 1`,
      `${series}"0.5"} 2`,
      `${series}"1"} 2`,
      `${series}"2.5"} 2`,
      `${series}"5"} 2`,
      `${series}"10"} 2`,
      `${series}"30"} 2`,
      `${series}"60"} 2`,
      `${series}"300"} 2`,
      `${series}"900"} 2`,
      `${series}"1800"} 2`,
      `${series}"3600"} 2`,
      `${series}"+Inf"} 3`,
      'tcp_gateway_connection_duration_seconds_sum{listener="app",route="v1"} 7200.304',
      'tcp_gateway_connection_duration_seconds_count{listener="app",route="v1"} 3',
    ]);
  });

  it("cluster: a dead worker's resets and duration buckets stay in the totals, its gauges do not", async () => {
    const worker = async (resets: number, lifetimes: number[], open: number) => {
      const { registry, counts } = oneRoute();
      counts.resets = resets;
      counts.open = open;
      for (const seconds of lifetimes) recordDuration(counts, seconds);
      return registry.getMetricsAsJSON();
    };
    const dead = await worker(3, [0.002, 20], 5);
    const live = await worker(1, [0.002], 1);
    const retired = retainCumulative([[], dead]);
    const text = await AggregatorRegistry.aggregate([live, retired]).metrics();
    const labels = '{listener="app",route="v1"}';
    expect(linesOf(text, `tcp_gateway_backend_resets_total${labels}`)).toEqual([
      `tcp_gateway_backend_resets_total${labels} 4`,
    ]);
    expect(linesOf(text, `tcp_gateway_connection_duration_seconds_count${labels}`)).toEqual([
      `tcp_gateway_connection_duration_seconds_count${labels} 3`,
    ]);
    expect(text).toContain(
      'tcp_gateway_connection_duration_seconds_bucket{listener="app",route="v1",le="0.005"} 2',
    );
    expect(text).toContain(
      'tcp_gateway_connection_duration_seconds_bucket{listener="app",route="v1",le="30"} 3',
    );
    // Open connections are the live worker's only.
    expect(linesOf(text, `tcp_gateway_route_open_connections${labels}`)).toEqual([
      `tcp_gateway_route_open_connections${labels} 1`,
    ]);
  });
});
