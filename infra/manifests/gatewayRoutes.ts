/**
 * The bundled gateway's route file for one app, built from `weightV2` by the same function that
 * builds the VirtualService weights. Standalone mode and the mesh splitter put it in a ConfigMap;
 * local mode hands it to an in-process gateway.
 */
import type { RouteFileInput } from "../../contract/routeFile";
import { VERSIONS, type Version } from "../../contract/versions";
import type { GatewayRouteOptions } from "../config/settings";
import { CLB_TCP_IDLE_SECONDS } from "../constants";
import { splitWeights } from "./weights";

/** Inputs of `buildGatewayRoutes`. */
export interface GatewayRoutesArgs {
  /** Listener name: the app's name. */
  name: string;
  /** Percent of new connections to v2. */
  weightV2: number;
  /** Balance, PROXY protocol and drain of the listener. */
  options: GatewayRouteOptions;
  /** Address the gateway accepts on, `host:port`. */
  listen: string;
  /** Backends of each version, `host:port`. */
  endpoints: Record<Version, string[]>;
}

/**
 * One listener named after the app, one route per version in version order, weights from
 * `splitWeights`. Unlike a VirtualService destination, a version at weight 0 keeps its route
 * (weight 0, picked by no new connection): the gateway then still knows its open connections and
 * can drain them (`drainAfterSeconds`), and `sticky` keeps its buckets in place.
 */
export function buildGatewayRoutes({
  name,
  weightV2,
  options,
  listen,
  endpoints,
}: GatewayRoutesArgs): RouteFileInput {
  const weights = splitWeights(weightV2);
  return {
    listeners: [
      {
        name,
        listen,
        balance: options.balance,
        proxyProtocol: options.proxyProtocol,
        ...(options.drainAfterSeconds === undefined
          ? {}
          : { drainAfterSeconds: options.drainAfterSeconds }),
        drainRate: options.drainRate,
        idleTimeoutSeconds: CLB_TCP_IDLE_SECONDS,
        routes: VERSIONS.map((version) => ({
          name: version,
          weight: weights[version],
          endpoints: endpoints[version],
        })),
      },
    ],
  };
}
