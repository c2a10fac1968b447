/**
 * What the bench reads from the gateway's /metrics (Prometheus text): one parser for every
 * figure, and one fetch that asks for a fresh rendering (`Cache-Control: no-cache`: at most
 * `METRICS_FRESH_MS` old instead of up to a second, see dataplane/gateway/adminServer.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parsePrometheusText } from "../tools/shift/gatewayScrape";
import type { RunningGateway } from "./peers";

/** Epoch milliseconds with sub-millisecond precision. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Samples of the metric whose name ends with `suffix` (Prometheus text, parsed as `npm run shift` does). */
export function metricSamples(
  text: string,
  suffix: string,
): { labels: Record<string, string>; value: number }[] {
  return parsePrometheusText(text)
    .filter((sample) => sample.name.endsWith(suffix))
    .map(({ labels, value }) => ({ labels, value }));
}

/** `route` → weight from the gateway's `tcp_gateway_route_weight` samples. */
export function parseRouteWeights(metrics: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const { labels, value } of metricSamples(metrics, "route_weight"))
    if (labels.route !== undefined) weights[labels.route] = value;
  return weights;
}

/** Sum of the gateway's `*reloads_total` samples (not reload_failures); undefined: none. */
export function parseReloadsTotal(metrics: string): number | undefined {
  const samples = metricSamples(metrics, "reloads_total");
  return samples.length === 0 ? undefined : samples.reduce((sum, s) => sum + s.value, 0);
}

/** What the gateway's metrics say about one route. */
export interface RouteGauges {
  open?: number;
  draining?: number;
  drained?: number;
  resets?: number;
}

/** The drain gauges and counters of `route`. */
export function routeGauges(text: string, route: string): RouteGauges {
  const value = (suffix: string) =>
    metricSamples(text, suffix).find((s) => s.labels.route === route)?.value;
  return {
    open: value("route_open_connections"),
    draining: value("route_draining_connections"),
    drained: value("drained_connections_total"),
    resets: value("backend_resets_total"),
  };
}

/** The gateway's /metrics now, freshly rendered ("" when it does not answer). */
export async function metricsText(gateway: RunningGateway): Promise<string> {
  try {
    const response = await fetch(`http://${gateway.admin}/metrics`, {
      headers: { "cache-control": "no-cache" },
    });
    return await response.text();
  } catch {
    return "";
  }
}

/** The gateway's reloads_total now (undefined when /metrics does not answer). */
export async function reloadsTotal(gateway: RunningGateway): Promise<number | undefined> {
  return parseReloadsTotal(await metricsText(gateway));
}

/** Resolve with the time (wallMs) /metrics first shows `weights`; undefined: not in time. */
export async function waitForWeights(
  gateway: RunningGateway,
  weights: { one: number; two: number },
  timeoutMs = 5000,
): Promise<number | undefined> {
  const deadline = wallMs() + timeoutMs;
  while (wallMs() < deadline) {
    const inForce = parseRouteWeights(await metricsText(gateway));
    if (inForce.v1 === weights.one && inForce.v2 === weights.two) return wallMs();
    await sleep(10);
  }
  return undefined;
}
