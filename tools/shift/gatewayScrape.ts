/**
 * The bundled gateway's `/metrics`, read by `npm run shift`: the weights it has loaded (is the
 * new weight in force?) and, per version, what happened to all its connections (routed, failed
 * at the gateway, reset, how long they lived). Counters only grow, so a window's figures are the
 * difference of two scrapes.
 *
 * The gateway serves a rendering of `/metrics` up to a second old (a scrape flood must not cost
 * the data plane; adminServer.ts). A reload renews it, so a new weight shows at once; for the rest
 * the shift asks with `Cache-Control: no-cache`, which gets a rendering at most
 * `METRICS_FRESH_MS` old, and closes a window's figures only that long after its last connection.
 */
import { UserError } from "../../contract/userError";
import type { Version } from "../../contract/versions";
import { METRICS_FRESH_MS } from "../../dataplane/gateway/adminServer";
import { METRIC_PREFIX } from "../../dataplane/gateway/gatewayMetrics";

/**
 * How old the gateway's answer to a shift scrape may be: a window's closing scrape waits this
 * long after its last connection, so it counts all of them.
 */
export const SCRAPE_STALENESS_MS = METRICS_FRESH_MS;

/** Error code of a `/metrics` that cannot be read or has no matching routes. */
export const METRICS_ERROR_CODE = "E_METRICS";

/** One sample of Prometheus text. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** A Prometheus number: `+Inf` and `-Inf` as infinities. */
function promNumber(text: string): number {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Parse Prometheus text exposition (comments skipped; `+Inf`, `NaN` as numbers). */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(LABEL))
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) =>
        c === "n" ? "\n" : c,
      );
    samples.push({ name: match[1] as string, labels, value: promNumber(match[3] as string) });
  }
  return samples;
}

/** Per-connection counters of one route (one version). */
export interface RouteFigures {
  /** Client connections routed to it. */
  connections: number;
  /** Failed backend connect attempts (a connection may try several). */
  connectFailures: number;
  /** Client connections closed because every connect attempt failed. */
  backendUnavailable: number;
  /**
   * Established connections ended by a reset, from the client or the backend (the gateway
   * counts both; it cannot tell a backend's fault from a client's). Absent when the gateway does
   * not export `backend_resets_total` (versions before it did).
   */
  resets?: number;
  /**
   * Cumulative connection-duration buckets (seconds) of `connection_duration_seconds`, +Inf last;
   * absent when the gateway does not export it.
   */
  durationBuckets?: { le: number; count: number }[];
}

/** One scrape, narrowed to the listener and the two routes being shifted. */
export interface GatewaySnapshot {
  listener: string;
  /** Weights the gateway has loaded. */
  weights: Record<Version, number | undefined>;
  routes: Record<Version, RouteFigures>;
  reloads: number;
  reloadFailures: number;
}

const metric = (suffix: string) => `${METRIC_PREFIX}${suffix}`;
/** Series the bundled gateway exports and older ones did not: used when present. */
export const RESETS_METRIC = metric("backend_resets_total");
export const DURATION_METRIC = metric("connection_duration_seconds");

/**
 * Narrow a scrape to `listener` (or the one listener that has both routes) and routes `names`.
 * Throws `UserError` `E_METRICS` when no listener, or more than one, matches.
 */
export function gatewaySnapshot(
  samples: readonly MetricSample[],
  names: Record<Version, string>,
  listener?: string,
  source = "/metrics",
): GatewaySnapshot {
  const weightSamples = samples.filter((s) => s.name === metric("route_weight"));
  const routesOf = new Map<string, Set<string>>();
  for (const s of weightSamples) {
    const routes = routesOf.get(s.labels.listener ?? "") ?? new Set<string>();
    routes.add(s.labels.route ?? "");
    routesOf.set(s.labels.listener ?? "", routes);
  }
  const seen = [...routesOf].map(([l, r]) => `${l}: ${[...r].join(", ")}`).join("; ") || "none";
  let chosen = listener;
  if (chosen === undefined) {
    const matching = [...routesOf]
      .filter(([, routes]) => routes.has(names.v1) && routes.has(names.v2))
      .map(([name]) => name);
    if (matching.length !== 1)
      throw new UserError(
        METRICS_ERROR_CODE,
        matching.length === 0
          ? `${source} shows no listener with routes "${names.v1}" and "${names.v2}" (listeners and routes: ${seen}); name them with --listener, --v1-route and --v2-route`
          : `${source} shows several listeners with routes "${names.v1}" and "${names.v2}" (${matching.join(", ")}); pick one with --listener`,
      );
    chosen = matching[0] as string;
  } else if (!routesOf.has(chosen)) {
    throw new UserError(
      METRICS_ERROR_CODE,
      `${source} shows no listener "${chosen}" (listeners and routes: ${seen})`,
    );
  }
  const of = (name: string, route: string) =>
    samples.find(
      (s) => s.name === metric(name) && s.labels.listener === chosen && s.labels.route === route,
    )?.value;
  const figures = (route: string): RouteFigures => {
    const resets = samples.find(
      (s) => s.name === RESETS_METRIC && s.labels.listener === chosen && s.labels.route === route,
    );
    const buckets = samples
      .filter(
        (s) =>
          s.name === `${DURATION_METRIC}_bucket` &&
          s.labels.listener === chosen &&
          s.labels.route === route,
      )
      .map((s) => ({ le: promNumber(s.labels.le ?? ""), count: s.value }))
      .sort((a, b) => a.le - b.le);
    return {
      connections: of("connections_total", route) ?? 0,
      connectFailures: of("connect_failures_total", route) ?? 0,
      backendUnavailable: of("backend_unavailable_total", route) ?? 0,
      ...(resets ? { resets: resets.value } : {}),
      ...(buckets.length > 0 ? { durationBuckets: buckets } : {}),
    };
  };
  const single = (name: string) => samples.find((s) => s.name === metric(name))?.value ?? 0;
  return {
    listener: chosen,
    weights: { v1: of("route_weight", names.v1), v2: of("route_weight", names.v2) },
    routes: { v1: figures(names.v1), v2: figures(names.v2) },
    reloads: single("reloads_total"),
    reloadFailures: single("reload_failures_total"),
  };
}

/** What happened between two scrapes, per version. */
export function routeDelta(before: RouteFigures, after: RouteFigures): RouteFigures {
  const buckets =
    after.durationBuckets && before.durationBuckets
      ? after.durationBuckets.map((bucket) => ({
          le: bucket.le,
          count:
            bucket.count -
            (before.durationBuckets?.find((other) => other.le === bucket.le)?.count ?? 0),
        }))
      : undefined;
  return {
    connections: after.connections - before.connections,
    connectFailures: after.connectFailures - before.connectFailures,
    backendUnavailable: after.backendUnavailable - before.backendUnavailable,
    ...(after.resets !== undefined ? { resets: after.resets - (before.resets ?? 0) } : {}),
    ...(buckets ? { durationBuckets: buckets } : {}),
  };
}

/** Reads the gateway's `/metrics`. */
export interface MetricsSource {
  readonly url: string;
  scrape(): Promise<GatewaySnapshot>;
}

/** A `MetricsSource` over HTTP: each scrape within `timeoutMs`. */
export function httpMetricsSource(
  url: string,
  names: Record<Version, string>,
  listener?: string,
  timeoutMs = 5000,
): MetricsSource {
  return {
    url,
    async scrape() {
      let text: string;
      try {
        const response = await fetch(url, {
          signal: AbortSignal.timeout(timeoutMs),
          // Not the gateway's up-to-a-second-old rendering: one at most METRICS_FRESH_MS old.
          headers: { "cache-control": "no-cache" },
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        text = await response.text();
      } catch (error) {
        throw new UserError(
          METRICS_ERROR_CODE,
          `Cannot read the gateway's metrics at ${url}: ${(error as Error).message}`,
        );
      }
      return gatewaySnapshot(parsePrometheusText(text), names, listener, url);
    },
  };
}
