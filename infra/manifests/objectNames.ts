/**
 * Kubernetes object names, all derived from `appName` the way the ASM tutorial names them
 * (`tcp-echo-v1`, `tcp-echo-gateway`, `tcp-echo-destination`).
 */
import { DESTINATION_RULE_SUFFIX, ISTIO_GATEWAY_SUFFIX, type Version } from "../constants";

/** Names of every object declared for one app (and of those Istio creates for it). */
export interface ObjectNames {
  /** Deployment (and, in standalone mode, Service) of one version: `<app>-<version>`. */
  version(version: Version): string;
  /** Service over both versions, the VirtualService host: `<app>`. */
  service: string;
  /** Istio Gateway: `<app>-gateway`. */
  istioGateway: string;
  /** VirtualService: `<app>`. */
  virtualService: string;
  /** DestinationRule: `<app>-destination`. */
  destinationRule: string;
  /** Istio-mode LoadBalancer Service in istio-system: `<app>-ingress`. */
  ingressService: string;
  /**
   * The bundled gateway's Deployment, Service, PodDisruptionBudget and NetworkPolicy (standalone
   * mode, or the mesh's splitter), and the DestinationRule that sends it PROXY headers:
   * `<app>-gateway`.
   */
  gateway: string;
  /** The bundled gateway's route ConfigMap: `<app>-routes`. */
  gatewayRoutes: string;
  /** Gateway API `Gateway`: `<app>-gateway`, as in Istio's sample. */
  gatewayApiGateway: string;
  /** Gateway API `TCPRoute`: `<app>`, as in Istio's sample. */
  tcpRoute: string;
  /** NetworkPolicy of the app's pods (both versions): `<app>`. */
  appNetworkPolicy: string;
  /**
   * The Deployment and Service Istio creates for the Gateway API `Gateway` of class
   * `gatewayClassName` (automated deployment): `<app>-gateway-<class>`.
   */
  provisionedGateway(gatewayClassName: string): string;
}

/** The object names of `appName`. */
export function objectNames(appName: string): ObjectNames {
  return {
    version: (version) => `${appName}-${version}`,
    service: appName,
    istioGateway: `${appName}-${ISTIO_GATEWAY_SUFFIX}`,
    virtualService: appName,
    destinationRule: `${appName}-${DESTINATION_RULE_SUFFIX}`,
    ingressService: `${appName}-ingress`,
    gateway: `${appName}-gateway`,
    gatewayRoutes: `${appName}-routes`,
    gatewayApiGateway: `${appName}-${ISTIO_GATEWAY_SUFFIX}`,
    tcpRoute: appName,
    appNetworkPolicy: appName,
    provisionedGateway: (gatewayClassName) =>
      `${appName}-${ISTIO_GATEWAY_SUFFIX}-${gatewayClassName}`,
  };
}
