/**
 * A listener's routing as loaded from one version of the route file: the route picker, each
 * route's endpoint pool and its metric children. A reload builds a new table and swaps it in;
 * connections already open keep the objects they were given.
 */

import type { ListenerConfig } from "../../contract/routeFile";
import type { Logger } from "../shared/jsonLogger";
import { EndpointPool } from "./endpointPool";
import type { GatewayMetrics, ListenerCounts, RouteCounts } from "./gatewayMetrics";
import { createWeightedPicker, type WeightedPicker } from "./weightedPicker";

/** Bounded connect attempts per client connection, each to the next endpoint of its route. */
export const CONNECT_ATTEMPTS = 3;

/** One route of a listener, ready for the hot path. */
export interface RouteRuntime {
  readonly listener: string;
  readonly name: string;
  readonly weight: number;
  readonly pool: EndpointPool;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connectAttempts: number;
  /** This route's counters (plain integers, published at scrape time). */
  readonly counts: RouteCounts;
  /** The listener's counters, shared by its routes. */
  readonly listenerCounts: ListenerCounts;
}

/** A listener's routes and how one is chosen. */
export interface RouteTable {
  readonly config: ListenerConfig;
  readonly routes: readonly RouteRuntime[];
  readonly picker: WeightedPicker<RouteRuntime>;
  /** The listener's counters (the same object across reloads). */
  readonly counts: ListenerCounts;
}

/**
 * Build the table of one listener and resolve its endpoint hostnames (once, here, not per
 * connection). Hostnames that do not resolve are logged and resolved per connect instead.
 */
export async function buildRouteTable(
  config: ListenerConfig,
  metrics: GatewayMetrics,
  logger: Logger,
): Promise<RouteTable> {
  const listener = config.name;
  const listenerCounts = metrics.counts.listener(listener);
  const routes = config.routes.map(
    (route): RouteRuntime => ({
      listener,
      name: route.name,
      weight: route.weight,
      pool: new EndpointPool(route.endpoints),
      connectTimeoutMs: config.connectTimeoutMs,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      connectAttempts: CONNECT_ATTEMPTS,
      // Creating the counts now exports zero samples, so dashboards and alerts see every route
      // before its first event.
      counts: metrics.counts.route(listener, route.name),
      listenerCounts,
    }),
  );
  await Promise.all(
    routes.map(async (route) => {
      for (const { endpoint, error } of await route.pool.resolve())
        logger.warn("endpoint hostname does not resolve; resolving per connection", {
          listener,
          route: route.name,
          endpoint: endpoint.target,
          error,
        });
    }),
  );
  return {
    config,
    routes,
    picker: createWeightedPicker(routes, config.balance),
    counts: listenerCounts,
  };
}
