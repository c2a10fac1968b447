/**
 * Kubernetes object names, all derived from `appName` the way the ASM tutorial names them
 * (`tcp-echo-v1`, `tcp-echo-gateway`, `tcp-echo-destination`).
 */
import { DESTINATION_RULE_SUFFIX, ISTIO_GATEWAY_SUFFIX, type Version } from "../constants";

/** Names of every object declared for one app. */
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
  /** Standalone gateway Deployment and its LoadBalancer Service: `<app>-gateway`. */
  gateway: string;
  /** Standalone gateway route ConfigMap: `<app>-routes`. */
  gatewayRoutes: string;
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
  };
}
