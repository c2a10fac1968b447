/**
 * The tutorial's Istio objects as plain data: Gateway `tcp-echo-gateway`, VirtualService
 * `tcp-echo` (weights from `weightedVersions`, the same function the bundled gateway uses) and
 * DestinationRule `tcp-echo-destination`; with `splitter: gateway`, a VirtualService with one fixed
 * destination (the bundled gateway's Service) and, for PROXY protocol, a DestinationRule for it.
 * Shared by the `MeshRoutes` component, render and tests.
 */
import type { AppSettings } from "../config/settings";
import {
  INGRESS_GATEWAY_SELECTOR,
  ISTIO_NETWORKING_API_VERSIONS,
  ISTIO_SYSTEM_NAMESPACE,
  type IstioNetworkingApiVersion,
  PULUMI_PATCH_FORCE_ANNOTATION,
  TCP_PORT_NAME,
  VERSION_LABEL,
  VERSIONS,
} from "../constants";
import { objectNames } from "./objectNames";
import { apiVersionAliases, type RouteTarget, routeDestinations } from "./routeTarget";

/** What the Istio routing objects are built from. */
export interface MeshRoutesConfig {
  /** The app's name, namespace and port (the route's destination). */
  app: Pick<AppSettings, "name" | "namespace" | "port">;
  /** TCP port of the ingress gateway. */
  ingressPort: number;
  /** The app's versions by weight, or the bundled gateway's Service. */
  target: RouteTarget;
  /** API version of Gateway, VirtualService and DestinationRule. */
  apiVersion: IstioNetworkingApiVersion;
  /**
   * The ingress gateway pods the Gateway selects: asm mode's own gateway
   * (`ingressManifests.asmIngressPods`). @default meshIngressPods() (Istio's default gateway)
   */
  ingressPods?: MeshIngressPods;
}

/** The mesh's ingress gateway pods: where they run and the labels they carry. */
export interface MeshIngressPods {
  namespace: string;
  labels: Record<string, string>;
}

/**
 * The ingress gateway pods the Istio Gateway selects and the app's NetworkPolicy admits: one
 * place, so the two cannot drift apart.
 */
export function meshIngressPods(): MeshIngressPods {
  return { namespace: ISTIO_SYSTEM_NAMESPACE, labels: { ...INGRESS_GATEWAY_SELECTOR } };
}

/** Gateway: one TCP server on `ingressPort` on the ingress gateway pods, any host. */
export function istioGateway(
  config: Pick<MeshRoutesConfig, "app" | "ingressPort" | "apiVersion" | "ingressPods">,
) {
  return {
    apiVersion: config.apiVersion,
    kind: "Gateway",
    metadata: { name: objectNames(config.app.name).istioGateway, namespace: config.app.namespace },
    spec: {
      selector: (config.ingressPods ?? meshIngressPods()).labels,
      servers: [
        {
          port: { number: config.ingressPort, name: TCP_PORT_NAME, protocol: "TCP" },
          hosts: ["*"],
        },
      ],
    },
  };
}

/** The VirtualService's route: the weighted subsets, or the one fixed Service. */
function tcpRoute(config: MeshRoutesConfig) {
  const names = objectNames(config.app.name);
  return routeDestinations(
    config.target,
    (host, port) => ({ destination: { host, port: { number: port } } }),
    (version) => ({
      destination: { host: names.service, port: { number: config.app.port }, subset: version },
    }),
  );
}

/**
 * VirtualService: connections to `ingressPort` on the Gateway go to the app's subsets by weight.
 * weightV2 0 is the tutorial's first route exactly (v1, no weight); 100 is v2 alone; anything
 * else two destinations whose weights sum to 100. With a Service target, one destination that a
 * weight change never touches.
 */
export function virtualService(config: MeshRoutesConfig) {
  const names = objectNames(config.app.name);
  return {
    apiVersion: config.apiVersion,
    kind: "VirtualService",
    metadata: {
      name: names.virtualService,
      namespace: config.app.namespace,
      // The weights are the stack's: after an edit in the ASM console (another field manager),
      // `pulumi up` takes them back instead of failing on a server-side apply conflict.
      annotations: { [PULUMI_PATCH_FORCE_ANNOTATION]: "true" },
    },
    spec: {
      hosts: ["*"],
      gateways: [names.istioGateway],
      tcp: [{ match: [{ port: config.ingressPort }], route: tcpRoute(config) }],
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
 * DestinationRule for the bundled gateway's Service (`splitter: gateway` with
 * `gatewayProxyProtocol`): the mesh's Envoy opens each upstream connection with a PROXY v2 header
 * (`trafficPolicy.proxyProtocol`, Istio 1.21+) carrying the client's address. Envoy writes that
 * header on the raw socket, before any TLS, so this hop is plain TCP (`tls.mode: DISABLE`) and
 * the gateway pod's sidecar lets the port through (`gatewayDeployment`'s
 * excludeInboundPorts): a sidecar would read the header as the start of a TLS handshake.
 */
export function gatewayProxyProtocolRule(config: Pick<MeshRoutesConfig, "app" | "apiVersion">) {
  const name = objectNames(config.app.name).gateway;
  return {
    apiVersion: config.apiVersion,
    kind: "DestinationRule",
    metadata: { name, namespace: config.app.namespace },
    spec: {
      host: name,
      trafficPolicy: { tls: { mode: "DISABLE" }, proxyProtocol: { version: "V2" } },
    },
  };
}

/** Aliases that make a switch of `istioApiVersion` an in-place update (see `apiVersionAliases`). */
export function istioApiVersionAliases(current: string, kind: string): Array<{ type: string }> {
  return apiVersionAliases(current, ISTIO_NETWORKING_API_VERSIONS, kind);
}
