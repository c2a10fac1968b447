/**
 * The tutorial's Istio objects as plain data: Gateway `tcp-echo-gateway`, VirtualService
 * `tcp-echo` (weights from `weightedVersions`, the same function the bundled gateway uses) and
 * DestinationRule `tcp-echo-destination`. Shared by the `MeshRoutes` component, render and tests.
 */
import type { TcpShiftConfig } from "../config/config";
import {
  INGRESS_GATEWAY_SELECTOR,
  ISTIO_NETWORKING_API_VERSIONS,
  TCP_PORT_NAME,
  VERSION_LABEL,
  VERSIONS,
} from "../constants";
import { objectNames } from "./objectNames";
import { weightedVersions } from "./weights";

/** The config keys the mesh routes read. */
export type MeshRoutesConfig = Pick<
  TcpShiftConfig,
  "namespace" | "appName" | "appPort" | "ingressPort" | "weightV2" | "istioApiVersion"
>;

/** Gateway: one TCP server on `ingressPort` on the `istio: ingressgateway` pods, any host. */
export function istioGateway(config: MeshRoutesConfig) {
  return {
    apiVersion: config.istioApiVersion,
    kind: "Gateway",
    metadata: { name: objectNames(config.appName).istioGateway, namespace: config.namespace },
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
  const names = objectNames(config.appName);
  const destinations = weightedVersions(config.weightV2);
  return {
    apiVersion: config.istioApiVersion,
    kind: "VirtualService",
    metadata: { name: names.virtualService, namespace: config.namespace },
    spec: {
      hosts: ["*"],
      gateways: [names.istioGateway],
      tcp: [
        {
          match: [{ port: config.ingressPort }],
          route: destinations.map(({ version, weight }) => ({
            destination: {
              host: names.service,
              port: { number: config.appPort },
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
export function destinationRule(config: MeshRoutesConfig) {
  const names = objectNames(config.appName);
  return {
    apiVersion: config.istioApiVersion,
    kind: "DestinationRule",
    metadata: { name: names.destinationRule, namespace: config.namespace },
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
