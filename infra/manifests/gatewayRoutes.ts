/**
 * The bundled gateway's route file for one app, built from `weightV2` by the same function that
 * builds the VirtualService weights. Standalone mode puts it in a ConfigMap; local mode writes it
 * to a temporary file.
 */
import type { RouteFileInput } from "../../contract/routeFile";
import type { TcpShiftConfig } from "../config/config";
import { CLB_TCP_IDLE_SECONDS, type Version } from "../constants";
import { weightedVersions } from "./weights";

/** Inputs of `buildGatewayRoutes`. */
export interface GatewayRoutesArgs {
  /** The validated config (weights, app name, balance). */
  config: Pick<TcpShiftConfig, "appName" | "weightV2" | "gatewayBalance">;
  /** Address the gateway accepts on, `host:port`. */
  listen: string;
  /** Backends of each version, `host:port`. */
  endpoints: Record<Version, string[]>;
}

/**
 * One listener named after the app, one route per version that receives traffic, in version
 * order. A version at weight 0 gets no route, exactly as it gets no VirtualService destination.
 */
export function buildGatewayRoutes({
  config,
  listen,
  endpoints,
}: GatewayRoutesArgs): RouteFileInput {
  return {
    listeners: [
      {
        name: config.appName,
        listen,
        balance: config.gatewayBalance,
        idleTimeoutSeconds: CLB_TCP_IDLE_SECONDS,
        routes: weightedVersions(config.weightV2).map(({ version, weight }) => ({
          name: version,
          weight,
          endpoints: endpoints[version],
        })),
      },
    ],
  };
}
