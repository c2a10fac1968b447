/**
 * The gateway's Prometheus metrics, on a registry the caller owns (never prom-client's global
 * one, so several gateways in one process, e.g. tests, do not collide). Hot paths use label
 * children bound once per reload, not `.labels()` lookups per connection.
 */
import { Counter, Gauge, type Registry } from "prom-client";

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
  /** Connections refused because the listener was at `maxConnections`. */
  refusedConnections: Counter<"listener">;
  /** Connections closed by the idle timeout. */
  idleTimeouts: Counter<"listener">;
  /** Successful and failed route reloads. */
  reloads: Counter;
  reloadFailures: Counter;
  /** Configured weight of every route currently loaded. */
  routeWeight: Gauge<"listener" | "route">;
  /** 1 while accepting connections and not draining. */
  ready: Gauge;
}

/** Prefix of every gateway metric name. */
export const METRIC_PREFIX = "tcp_gateway_";

/** Register the gateway's metrics on `registry`. */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry];
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;
  return {
    connections: new Counter({
      name: name("connections_total"),
      help: "Client connections routed, by listener and route.",
      labelNames: ["listener", "route"],
      registers,
    }),
    activeConnections: new Gauge({
      name: name("active_connections"),
      help: "Open client connections, by listener.",
      labelNames: ["listener"],
      registers,
    }),
    bytes: new Counter({
      name: name("bytes_total"),
      help: "Bytes proxied, counted when a connection closes; direction to_backend or to_client.",
      labelNames: ["listener", "route", "direction"],
      registers,
    }),
    connectFailures: new Counter({
      name: name("connect_failures_total"),
      help: "Failed backend connect attempts (refused, timed out, unreachable).",
      labelNames: ["listener", "route"],
      registers,
    }),
    backendUnavailable: new Counter({
      name: name("backend_unavailable_total"),
      help: "Client connections closed because every connect attempt of their route failed.",
      labelNames: ["listener", "route"],
      registers,
    }),
    refusedConnections: new Counter({
      name: name("refused_connections_total"),
      help: "Connections refused because the listener was at maxConnections.",
      labelNames: ["listener"],
      registers,
    }),
    idleTimeouts: new Counter({
      name: name("idle_timeouts_total"),
      help: "Connections closed by the idle timeout.",
      labelNames: ["listener"],
      registers,
    }),
    reloads: new Counter({
      name: name("reloads_total"),
      help: "Route reloads applied.",
      registers,
    }),
    reloadFailures: new Counter({
      name: name("reload_failures_total"),
      help: "Route reloads rejected (invalid file, listener that cannot bind); last good kept.",
      registers,
    }),
    routeWeight: new Gauge({
      name: name("route_weight"),
      help: "Configured weight of each loaded route.",
      labelNames: ["listener", "route"],
      registers,
    }),
    ready: new Gauge({
      name: name("ready"),
      help: "1 while listeners are bound and the gateway is not draining.",
      registers,
    }),
  };
}
