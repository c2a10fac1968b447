/**
 * The gateway's Prometheus metrics, on a registry the caller owns (never prom-client's global
 * one, so several gateways in one process, e.g. tests, do not collide).
 *
 * Per-connection figures are plain integers on shared `RouteCounts` / `ListenerCounts` objects,
 * copied into the metrics by `collect()` when scraped: a prom-client label child hashes its
 * label object on every `inc()`, which measured as a visible share of the per-connection CPU.
 * The connection-duration histogram is kept the same way (bucket counts per route, published by
 * `RouteDurationHistogram`).
 */
import {
  Counter,
  Gauge,
  type Metric,
  type MetricObjectWithValues,
  type MetricValueWithName,
  type Registry,
} from "prom-client";

/**
 * Upper bounds (seconds) of `tcp_gateway_connection_duration_seconds`: from a one-line
 * request/response through a local gateway (a few ms) to long-lived sessions (an hour; longer
 * ones land in +Inf). Steps of about 2-2.5x up to 10 s, then the usual long-lived landmarks (a
 * minute, 5 min, the CLB's 900 s idle timeout, 30 min, an hour).
 */
export const CONNECTION_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600,
];

/** Per-connection counts of one route of one listener (cumulative across reloads). */
export interface RouteCounts {
  readonly listener: string;
  readonly route: string;
  /** Open connections of this route. */
  open: number;
  /** Open connections a drain is closing. */
  draining: number;
  /** Connections a drain started closing (cumulative). */
  drained: number;
  connections: number;
  connectFailures: number;
  backendUnavailable: number;
  bytesToBackend: number;
  bytesToClient: number;
  /** Established connections ended by a reset (RST) from the client or the backend. */
  resets: number;
  /**
   * Established connections by lifetime: `durations[i]` counts those of at most
   * `CONNECTION_DURATION_BUCKETS[i]` seconds (and more than the bound before); the last entry,
   * those above every bound. Not cumulative: `recordDuration` increments one entry.
   */
  durations: number[];
  /** Sum of those lifetimes, in seconds. */
  durationSum: number;
}

/**
 * Count one established connection's lifetime: one increment and one addition, no allocation
 * (called once per closed connection).
 */
export function recordDuration(counts: RouteCounts, seconds: number): void {
  const bounds = CONNECTION_DURATION_BUCKETS;
  let bucket = 0;
  while (bucket < bounds.length && seconds > (bounds[bucket] as number)) bucket++;
  counts.durations[bucket] = (counts.durations[bucket] as number) + 1;
  counts.durationSum += seconds;
}

/** Per-connection counts of one listener (cumulative across reloads). */
export interface ListenerCounts {
  readonly listener: string;
  /** Open client connections. */
  active: number;
  idleTimeouts: number;
  /** Connections refused at `maxConnections`. */
  refused: number;
  /** Accepts and backend connects that failed for lack of file descriptors. */
  outOfDescriptors: number;
  /** Connections closed for a malformed or missing PROXY protocol header. */
  proxyInvalid: number;
  /** Connections closed because their PROXY protocol header did not arrive in time. */
  proxyTimeout: number;
}

/**
 * The counts objects, one per listener and per (listener, route). A reload hands the same
 * objects to the new route table, so counters continue. Those of a listener or route that is no
 * longer in the route file are dropped (with their series) once it has no open connection.
 */
export class ConnectionCounts {
  readonly routes = new Map<string, RouteCounts>();
  readonly listeners = new Map<string, ListenerCounts>();
  /** Keys of the listeners and routes in the route file in force. */
  private liveRoutes = new Set<string>();
  private liveListeners = new Set<string>();

  /** The listeners and routes in force (`listener` -> route names); the rest can be dropped. */
  setLive(listeners: Iterable<[string, Iterable<string>]>): void {
    this.liveRoutes = new Set();
    this.liveListeners = new Set();
    for (const [listener, routes] of listeners) {
      this.liveListeners.add(listener);
      for (const route of routes) this.liveRoutes.add(routeKey(listener, route));
    }
    this.prune();
  }

  /** Drop the counts of listeners and routes no longer in force and without open connections. */
  prune(): void {
    for (const [key, counts] of this.routes)
      if (counts.open === 0 && !this.liveRoutes.has(key)) this.routes.delete(key);
    for (const [name, counts] of this.listeners)
      if (counts.active === 0 && !this.liveListeners.has(name)) this.listeners.delete(name);
  }

  route(listener: string, route: string): RouteCounts {
    const key = routeKey(listener, route);
    let counts = this.routes.get(key);
    if (!counts) {
      counts = {
        listener,
        route,
        open: 0,
        draining: 0,
        drained: 0,
        connections: 0,
        connectFailures: 0,
        backendUnavailable: 0,
        bytesToBackend: 0,
        bytesToClient: 0,
        resets: 0,
        durations: Array.from({ length: CONNECTION_DURATION_BUCKETS.length + 1 }, () => 0),
        durationSum: 0,
      };
      this.routes.set(key, counts);
    }
    return counts;
  }

  listener(listener: string): ListenerCounts {
    let counts = this.listeners.get(listener);
    if (!counts) {
      counts = {
        listener,
        active: 0,
        idleTimeouts: 0,
        refused: 0,
        outOfDescriptors: 0,
        proxyInvalid: 0,
        proxyTimeout: 0,
      };
      this.listeners.set(listener, counts);
    }
    return counts;
  }
}

function routeKey(listener: string, route: string): string {
  return `${listener}\u0000${route}`;
}

/** Metric objects of one gateway. */
export interface GatewayMetrics {
  /** Connections routed, by listener and chosen route. */
  connections: Counter<"listener" | "route">;
  /** Open client connections, by listener. */
  activeConnections: Gauge<"listener">;
  /** Bytes proxied, by direction (`to_backend`, `to_client`), counted when a connection closes. */
  bytes: Counter<"listener" | "route" | "direction">;
  /** Failed backend connect attempts (refused, timed out, unreachable). */
  connectFailures: Counter<"listener" | "route">;
  /** Client connections closed because every connect attempt of their route failed. */
  backendUnavailable: Counter<"listener" | "route">;
  /** Established connections ended by a reset from either side. */
  backendResets: Counter<"listener" | "route">;
  /** Lifetimes of established connections, by route. */
  connectionDuration: RouteDurationHistogram;
  /** Connections refused because the listener was at `maxConnections`. */
  refusedConnections: Counter<"listener">;
  /** Connections closed by the idle timeout. */
  idleTimeouts: Counter<"listener">;
  /** Open connections per route, and those a drain is closing. */
  routeOpenConnections: Gauge<"listener" | "route">;
  routeDrainingConnections: Gauge<"listener" | "route">;
  /** Connections a drain started closing. */
  drainedConnections: Counter<"listener" | "route">;
  /** Accepts and backend connects that failed for lack of file descriptors. */
  outOfDescriptors: Counter<"listener">;
  /** Connections closed for their PROXY protocol header, by reason (`invalid`, `timeout`). */
  proxyProtocolErrors: Counter<"listener" | "reason">;
  /** Successful and failed route reloads. */
  reloads: Counter;
  reloadFailures: Counter;
  /** Configured weight of every route currently loaded. */
  routeWeight: Gauge<"listener" | "route">;
  /** 1 while accepting connections and not draining. */
  ready: Gauge;
  /** The hot-path counts behind every per-listener and per-route metric. */
  counts: ConnectionCounts;
}

/** Copy a count into a counter at scrape time (counters only grow, so reset + inc is exact). */
function publishCounter<K extends string>(
  counter: Counter<K>,
  samples: Iterable<[Partial<Record<K, string>>, number]>,
): void {
  counter.reset();
  for (const [labels, value] of samples) counter.inc(labels, value);
}

/** Prefix of every gateway metric name. */
export const METRIC_PREFIX = "tcp_gateway_";

/**
 * `tcp_gateway_connection_duration_seconds`: a Prometheus histogram whose counts are the routes'
 * plain `durations` arrays, published when scraped. prom-client's `Histogram` cannot be given
 * counts, and its `observe()` hashes a label object per call (the cost `RouteCounts` exists to
 * avoid). This object is what a prom-client registry renders and what a cluster primary
 * aggregates (`getMetricsAsJSON`, `AggregatorRegistry.aggregate`): a name, a help text, the
 * type, the aggregator (`sum`: workers' buckets add up) and `get()`.
 */
export class RouteDurationHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly counts: ConnectionCounts,
  ) {}

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const bounds = CONNECTION_DURATION_BUCKETS;
    for (const c of this.counts.routes.values()) {
      const { listener, route } = c;
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += c.durations[i] as number;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { listener, route, le: i < bounds.length ? (bounds[i] as number) : "+Inf" },
          value: cumulative,
        });
      }
      values.push({
        metricName: `${this.name}_sum`,
        labels: { listener, route },
        value: c.durationSum,
      });
      values.push({
        metricName: `${this.name}_count`,
        labels: { listener, route },
        value: cumulative,
      });
    }
    // `type` is the string prom-client puts there itself ("histogram"); its typings say enum.
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  /** Nothing to reset: the counts belong to the gateway. */
  reset(): void {}
}

/** Register a metric prom-client did not build (it takes any object with its shape). */
function registerMetric<M extends { name: string }>(registry: Registry, metric: M): M {
  registry.registerMetric(metric as unknown as Metric);
  return metric;
}

/** Register the gateway's metrics on `registry`. */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry];
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;
  const counts = new ConnectionCounts();
  const routeSamples = (pick: (counts: RouteCounts) => number) =>
    Array.from(counts.routes.values(), (c): [{ listener: string; route: string }, number] => [
      { listener: c.listener, route: c.route },
      pick(c),
    ]);
  const listenerSamples = (pick: (counts: ListenerCounts) => number) =>
    Array.from(counts.listeners.values(), (c): [{ listener: string }, number] => [
      { listener: c.listener },
      pick(c),
    ]);
  const publishGauge = <K extends string>(
    gauge: Gauge<K>,
    samples: Iterable<[Partial<Record<K, string>>, number]>,
  ): void => {
    gauge.reset();
    for (const [labels, value] of samples) gauge.set(labels, value);
  };
  // Most metrics are one of the counts, by route or by listener, copied in when scraped.
  type Samples<K extends string> = () => Iterable<[Partial<Record<K, string>>, number]>;
  const byRoute = ["listener", "route"] as const;
  const byListener = ["listener"] as const;
  const publishedCounter = <K extends string>(
    suffix: string,
    help: string,
    labelNames: readonly K[],
    samples: Samples<K>,
  ) =>
    new Counter({
      name: name(suffix),
      help,
      labelNames,
      registers,
      collect() {
        publishCounter(this, samples());
      },
    });
  const publishedGauge = <K extends string>(
    suffix: string,
    help: string,
    labelNames: readonly K[],
    samples: Samples<K>,
  ) =>
    new Gauge({
      name: name(suffix),
      help,
      labelNames,
      registers,
      collect() {
        publishGauge(this, samples());
      },
    });
  return {
    counts,
    connections: publishedCounter(
      "connections_total",
      "Client connections routed, by listener and route.",
      byRoute,
      () => {
        // First metric collected: drop the series of listeners and routes gone from the file.
        counts.prune();
        return routeSamples((c) => c.connections);
      },
    ),
    activeConnections: publishedGauge(
      "active_connections",
      "Open client connections, by listener.",
      byListener,
      () => listenerSamples((c) => c.active),
    ),
    routeOpenConnections: publishedGauge(
      "route_open_connections",
      "Open client connections, by listener and route.",
      byRoute,
      () => routeSamples((c) => c.open),
    ),
    routeDrainingConnections: publishedGauge(
      "route_draining_connections",
      "Open connections a drain is closing (weight 0 for drainAfterSeconds), by route.",
      byRoute,
      () => routeSamples((c) => c.draining),
    ),
    drainedConnections: publishedCounter(
      "drained_connections_total",
      "Connections a drain started closing, by listener and route.",
      byRoute,
      () => routeSamples((c) => c.drained),
    ),
    outOfDescriptors: publishedCounter(
      "out_of_descriptors_total",
      "Accepts and backend connects that failed for lack of file descriptors (EMFILE, ENFILE).",
      byListener,
      () => listenerSamples((c) => c.outOfDescriptors),
    ),
    proxyProtocolErrors: new Counter({
      name: name("proxy_protocol_errors_total"),
      help: "Connections closed for their PROXY protocol header; reason invalid (malformed or missing) or timeout.",
      labelNames: ["listener", "reason"],
      registers,
      collect() {
        this.reset();
        for (const c of counts.listeners.values()) {
          this.inc({ listener: c.listener, reason: "invalid" }, c.proxyInvalid);
          this.inc({ listener: c.listener, reason: "timeout" }, c.proxyTimeout);
        }
      },
    }),
    bytes: new Counter({
      name: name("bytes_total"),
      help: "Bytes proxied, counted when a connection closes; direction to_backend or to_client.",
      labelNames: ["listener", "route", "direction"],
      registers,
      collect() {
        this.reset();
        for (const c of counts.routes.values()) {
          this.inc(
            { listener: c.listener, route: c.route, direction: "to_backend" },
            c.bytesToBackend,
          );
          this.inc(
            { listener: c.listener, route: c.route, direction: "to_client" },
            c.bytesToClient,
          );
        }
      },
    }),
    connectFailures: publishedCounter(
      "connect_failures_total",
      "Failed backend connect attempts (refused, timed out, unreachable).",
      byRoute,
      () => routeSamples((c) => c.connectFailures),
    ),
    backendUnavailable: publishedCounter(
      "backend_unavailable_total",
      "Client connections closed because every connect attempt of their route failed.",
      byRoute,
      () => routeSamples((c) => c.backendUnavailable),
    ),
    backendResets: publishedCounter(
      "backend_resets_total",
      "Established connections (backend connected) ended by a reset (RST) from the client or the backend, by route.",
      byRoute,
      () => routeSamples((c) => c.resets),
    ),
    connectionDuration: registerMetric(
      registry,
      new RouteDurationHistogram(
        name("connection_duration_seconds"),
        "Lifetime of established connections (backend connected), from the route's pick to the close of both sides, by route.",
        counts,
      ),
    ),
    refusedConnections: publishedCounter(
      "refused_connections_total",
      "Connections refused (reset) because the listener was at maxConnections.",
      byListener,
      () => listenerSamples((c) => c.refused),
    ),
    idleTimeouts: publishedCounter(
      "idle_timeouts_total",
      "Connections closed by the idle timeout.",
      byListener,
      () => listenerSamples((c) => c.idleTimeouts),
    ),
    reloads: new Counter({
      name: name("reloads_total"),
      help: "Route reloads applied.",
      registers,
      // With --workers, every worker applies each reload: count it once.
      aggregator: "max",
    }),
    reloadFailures: new Counter({
      name: name("reload_failures_total"),
      help: "Route reloads rejected (invalid file, listener that cannot bind); last good kept.",
      registers,
      aggregator: "max",
    }),
    routeWeight: new Gauge({
      name: name("route_weight"),
      help: "Configured weight of each loaded route.",
      labelNames: ["listener", "route"],
      registers,
      // With --workers, the weights every worker loaded (not their sum).
      aggregator: "first",
    }),
    ready: new Gauge({
      name: name("ready"),
      help: "1 while every configured listener is bound and the gateway is not draining.",
      registers,
      // With --workers, 1 only when every worker is.
      aggregator: "min",
    }),
  };
}
