/**
 * The tutorial's Istio objects as plain data: Gateway `tcp-echo-gateway`, VirtualService
 * `tcp-echo` (weights from `weightedVersions`, the same function the bundled gateway uses) and
 * DestinationRule `tcp-echo-destination`. Shared by the `MeshRoutes` component, render and tests.
 */
import type { AppSettings } from "../config/settings";
import {
  INGRESS_GATEWAY_SELECTOR,
  ISTIO_NETWORKING_API_VERSIONS,
  type IstioNetworkingApiVersion,
  TCP_PORT_NAME,
  VERSION_LABEL,
  VERSIONS,
} from "../constants";
import { objectNames } from "./objectNames";
import { weightedVersions } from "./weights";

/** What the Istio routing objects are built from. */
export interface MeshRoutesConfig {
  /** The app's name, namespace and port (the route's destination). */
  app: Pick<AppSettings, "name" | "namespace" | "port">;
  /** TCP port of the ingress gateway. */
  ingressPort: number;
  /** Percent of new connections to v2. */
  weightV2: number;
  /** API version of Gateway, VirtualService and DestinationRule. */
  apiVersion: IstioNetworkingApiVersion;
}

/** Gateway: one TCP server on `ingressPort` on the `istio: ingressgateway` pods, any host. */
export function istioGateway(config: MeshRoutesConfig) {
  return {
    apiVersion: config.apiVersion,
    kind: "Gateway",
    metadata: { name: objectNames(config.app.name).istioGateway, namespace: config.app.namespace },
    spec: {
      selector: { ...INGRESS_GATEWAY_SELECTOR },
      servers: [
        {
          port: { number: config.ingressPort, name: TCP_PORT_NAME, protocol: "TCP" },
          hosts: ["*"],
        },
      ],
    },
  };
}

/**
 * VirtualService: connections to `ingressPort` on the Gateway go to the app's subsets by weight.
 * weightV2 0 is the tutorial's first route exactly (v1, no weight); 100 is v2 alone; anything
 * else two destinations whose weights sum to 100.
 */
export function virtualService(config: MeshRoutesConfig) {
  const names = objectNames(config.app.name);
  const destinations = weightedVersions(config.weightV2);
  return {
    apiVersion: config.apiVersion,
    kind: "VirtualService",
    metadata: { name: names.virtualService, namespace: config.app.namespace },
    spec: {
      hosts: ["*"],
      gateways: [names.istioGateway],
      tcp: [
        {
          match: [{ port: config.ingressPort }],
          route: destinations.map(({ version, weight }) => ({
            destination: {
              host: names.service,
              port: { number: config.app.port },
              subset: version,
            },
            ...(destinations.length > 1 ? { weight } : {}),
          })),
        },
      ],
    },
  };
}

/** DestinationRule: one subset per version, selected by the `version` pod label. */
export function destinationRule(config: Pick<MeshRoutesConfig, "app" | "apiVersion">) {
  const names = objectNames(config.app.name);
  return {
    apiVersion: config.apiVersion,
    kind: "DestinationRule",
    metadata: { name: names.destinationRule, namespace: config.app.namespace },
    spec: {
      host: names.service,
      subsets: VERSIONS.map((version) => ({ name: version, labels: { [VERSION_LABEL]: version } })),
    },
  };
}

/**
 * A custom resource's type token contains its apiVersion, so switching `istioApiVersion` would
 * replace the object; aliases to the other versions make it an in-place update instead.
 */
export function istioApiVersionAliases(current: string, kind: string): Array<{ type: string }> {
  return ISTIO_NETWORKING_API_VERSIONS.filter((version) => version !== current).map((version) => ({
    type: `kubernetes:${version}:${kind}`,
  }));
}
