/**
 * The Kubernetes Gateway API variant of the tutorial, as plain data: Istio's
 * `samples/tcp-echo/gateway-api/` objects. A `Gateway` `tcp-echo-gateway` with one TCP listener
 * (`tcp-31400`) that admits TCPRoutes, and a `TCPRoute` `tcp-echo` whose `backendRefs` are the
 * per-version Services weighted by `weightV2` (the same function as the VirtualService's), or,
 * with `splitter: gateway`, the bundled gateway's Service alone.
 */
import type { AppSettings } from "../config/settings";
import {
  CLUSTER_DOMAIN,
  GATEWAY_API_GATEWAY_VERSION,
  TCP_ROUTE_API_VERSIONS,
  type TcpRouteApiVersion,
} from "../constants";
import { objectNames } from "./objectNames";
import { apiVersionAliases, type RouteTarget, routeDestinations } from "./routeTarget";

/** What the Gateway API objects are built from. */
export interface GatewayApiRoutesConfig {
  /** The app's name, namespace and port (the per-version Services' port). */
  app: Pick<AppSettings, "name" | "namespace" | "port">;
  /** TCP port of the Gateway's listener (the ingress port). */
  ingressPort: number;
  /** The app's versions by weight, or the bundled gateway's Service. */
  target: RouteTarget;
  /** The class of the Gateway: the implementation that programs it (`istio`). */
  gatewayClassName: string;
  /** API version of the TCPRoute. */
  tcpRouteApiVersion: TcpRouteApiVersion;
  /**
   * Bind the Gateway to a gateway that already runs (ASM: its ingress gateway's Service,
   * `spec.addresses` of type Hostname) instead of letting the implementation deploy one.
   */
  existingService?: { name: string; namespace: string };
}

/** The listener's name: `tcp-<port>`, as in Istio's sample; the TCPRoute attaches to it. */
export function tcpListenerName(port: number): string {
  return `tcp-${port}`;
}

/**
 * Gateway: one TCP listener on the ingress port that admits TCPRoutes (from its own namespace,
 * the default). With `existingService`, `spec.addresses` binds it to that gateway (Istio's manual
 * deployment, what ASM requires); otherwise Istio deploys a gateway and a LoadBalancer Service for
 * it and copies `infrastructureAnnotations` (the CLB annotations) onto that Service.
 */
export function gatewayApiGateway<A = Record<string, string>>(
  config: GatewayApiRoutesConfig,
  infrastructureAnnotations?: A,
) {
  const existing = config.existingService;
  return {
    apiVersion: GATEWAY_API_GATEWAY_VERSION,
    kind: "Gateway",
    metadata: {
      name: objectNames(config.app.name).gatewayApiGateway,
      namespace: config.app.namespace,
    },
    spec: {
      gatewayClassName: config.gatewayClassName,
      listeners: [
        {
          name: tcpListenerName(config.ingressPort),
          protocol: "TCP",
          port: config.ingressPort,
          allowedRoutes: { kinds: [{ kind: "TCPRoute" }] },
        },
      ],
      ...(existing
        ? {
            addresses: [
              {
                type: "Hostname",
                value: `${existing.name}.${existing.namespace}.${CLUSTER_DOMAIN}`,
              },
            ],
          }
        : {}),
      ...(!existing && infrastructureAnnotations !== undefined
        ? { infrastructure: { annotations: infrastructureAnnotations } }
        : {}),
    },
  };
}

/** The route's backends: the weighted per-version Services, or the one fixed Service. */
function backendRefs(config: GatewayApiRoutesConfig) {
  const names = objectNames(config.app.name);
  return routeDestinations(
    config.target,
    (name, port) => ({ name, port }),
    (version) => ({ name: names.version(version), port: config.app.port }),
  );
}

/**
 * TCPRoute attached to the Gateway's TCP listener. weightV2 0 is Istio's all-v1 sample (one
 * backend, no weight), 100 is v2 alone, anything else two backends whose weights sum to 100.
 */
export function tcpRoute(config: GatewayApiRoutesConfig) {
  const names = objectNames(config.app.name);
  return {
    apiVersion: config.tcpRouteApiVersion,
    kind: "TCPRoute",
    metadata: { name: names.tcpRoute, namespace: config.app.namespace },
    spec: {
      parentRefs: [
        { name: names.gatewayApiGateway, sectionName: tcpListenerName(config.ingressPort) },
      ],
      rules: [{ backendRefs: backendRefs(config) }],
    },
  };
}

/** Aliases that make a switch of `tcpRouteApiVersion` an in-place update. */
export function tcpRouteApiVersionAliases(current: TcpRouteApiVersion): Array<{ type: string }> {
  return apiVersionAliases(current, TCP_ROUTE_API_VERSIONS, "TCPRoute");
}
