/**
 * The validated config, shaped by mode: `toStackSettings` turns the flat key/value config into a
 * discriminated union on `mode`, so each component gets exactly the settings it uses and what a
 * mode requires is present in its type (no `?? ""`). Credentials never travel here: the settings
 * say where access comes from; the secrets themselves stay Pulumi secrets (`stackConfig.ts`).
 */
import type { Version, VersionPrefixes } from "../../contract/versions";
import type { IstioNetworkingApiVersion, TcpRouteApiVersion } from "../constants";
import type { TcpShiftConfig } from "./config";

/** Requests and limits of one container, as Kubernetes quantities. */
export interface ContainerResources {
  cpuRequest: string;
  memoryRequest: string;
  cpuLimit: string;
  memoryLimit: string;
}

/** The tcp-echo app: the tutorial's two Deployments and its Service. */
export interface AppSettings {
  /** Deployments `<name>-v1`/`-v2`, Service `<name>`. */
  name: string;
  namespace: string;
  /** Port the containers listen on and the Service exposes. */
  port: number;
  images: Record<Version, string>;
  /** Reply prefix of each version (tcp-echo's second argument). */
  prefixes: VersionPrefixes;
  /** Pods per version. */
  replicas: number;
  /** A PodDisruptionBudget per version. */
  podDisruptionBudget: boolean;
  resources: ContainerResources;
}

/** Istio's own routing objects: Gateway, VirtualService, DestinationRule. */
export interface IstioRouting {
  api: "istio";
  apiVersion: IstioNetworkingApiVersion;
}

/** The Kubernetes Gateway API: a Gateway with a TCP listener and a TCPRoute. */
export interface GatewayApiRouting {
  api: "gateway-api";
  gatewayClassName: string;
  tcpRouteApiVersion: TcpRouteApiVersion;
  /**
   * API version of the one Istio object this routing may still declare: the DestinationRule that
   * makes the ingress Envoy send PROXY headers to the splitter (`gatewayProxyProtocol` with
   * `splitter: gateway`).
   */
  istioApiVersion: IstioNetworkingApiVersion;
}

/** How the mesh routes the ingress port (asm and istio modes). */
export interface MeshRouting {
  /** Which objects carry the route. */
  routing: IstioRouting | GatewayApiRouting;
  /**
   * `mesh`: the mesh route carries the weights. `gateway`: it points at the bundled gateway's
   * Service, fixed, and the gateway's ConfigMap carries the weights.
   */
  splitter: "mesh" | "gateway";
}

/** The ingress: the TCP port clients reach, and the gateway pods' size. */
export interface IngressSettings {
  /** TCP port of the ingress gateway and the CLB listener. */
  port: number;
  /** Ingress gateway pods (ASM IstioGateway, or the bundled gateway in standalone mode). */
  replicas: number;
  resources: ContainerResources;
}

/** The bundled weighted TCP gateway (standalone mode, or the mesh's splitter). */
export interface BundledGatewaySettings {
  /** The image built from dataplane/. */
  image: string;
  /** Build and push the image during `pulumi up`; the password is a secret, not here. */
  build?: { username: string };
  /** Gateway pods. */
  replicas: number;
  resources: ContainerResources;
  balance: "smooth" | "random" | "sticky";
  /** Expect a PROXY protocol header on every connection. */
  proxyProtocol: boolean;
  /** Close a weight-0 version's connections after this many seconds; undefined: never. */
  drainAfterSeconds?: number;
  /** Connections per second a drain closes at most. */
  drainRate: number;
}

/** The gateway settings a route file carries (the rest shape its Deployment). */
export type GatewayRouteOptions = Pick<
  BundledGatewaySettings,
  "balance" | "proxyProtocol" | "drainAfterSeconds" | "drainRate"
>;

/** The CLB's settings (no credentials): the `clb*` keys and `allowedCidrs`. */
export type ClbSettings = Pick<
  TcpShiftConfig,
  | "clb"
  | "clbId"
  | "clbAddressType"
  | "clbVswitchId"
  | "clbInstanceChargeType"
  | "clbSpec"
  | "clbInternetChargeType"
  | "clbBandwidth"
  | "clbDeleteProtection"
  | "allowedCidrs"
>;

/** Where the data-plane cluster's kubeconfig comes from. */
export type DataPlaneAccess =
  /** `tcp-shift:kubeconfig` (a secret). */
  | { source: "kubeconfig" }
  /** The ACK cluster's credential, read through the Alibaba Cloud API. */
  | { source: "clusterId"; clusterId: string }
  /** The ambient kubeconfig (`KUBECONFIG` or ~/.kube/config), as kubectl would use. */
  | { source: "ambient" };

/** Where the ASM control plane's kubeconfig comes from. */
export type MeshAccess =
  /** `tcp-shift:meshKubeconfig` (a secret). */
  | { source: "kubeconfig" }
  /** The ASM instance's kubeconfig, read through the Alibaba Cloud API. */
  | { source: "meshId"; meshId: string };

/** What every mode has. */
interface CommonSettings {
  /** Percent of new TCP connections sent to v2. */
  weightV2: number;
  app: AppSettings;
  ingress: IngressSettings;
  clb: ClbSettings;
  /**
   * Namespace whose pods may scrape metrics (the bundled gateway's admin port, Istio sidecars'
   * metrics port) besides the app's own; the NetworkPolicies admit it.
   */
  metricsNamespace?: string;
}

/** ASM: Istio objects and IstioGateway on the ASM control plane, the app on the ACK cluster. */
export interface AsmSettings extends CommonSettings, MeshRouting {
  mode: "asm";
  /** The ACK cluster ASM deploys the ingress gateway to. */
  clusterId: string;
  access: { dataPlane: DataPlaneAccess; mesh: MeshAccess };
  /** Present with `splitter: gateway`. */
  gateway?: BundledGatewaySettings;
}

/** Plain Istio: everything on one cluster. */
export interface IstioSettings extends CommonSettings, MeshRouting {
  mode: "istio";
  access: { dataPlane: DataPlaneAccess };
  /** Present with `splitter: gateway`. */
  gateway?: BundledGatewaySettings;
}

/** No mesh: the bundled gateway is the ingress. */
export interface StandaloneSettings extends CommonSettings {
  mode: "standalone";
  access: { dataPlane: DataPlaneAccess };
  gateway: BundledGatewaySettings;
}

/** The stack's settings, one shape per mode. */
export type StackSettings = AsmSettings | IstioSettings | StandaloneSettings;
export type Mode = StackSettings["mode"];

/** `1h30m` → 5400. The schema has checked the format. */
export function durationSeconds(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match) throw new RangeError(`not a duration: ${text}`);
  const [, hours = "0", minutes = "0", seconds = "0"] = match;
  return Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds);
}

function appSettings(config: TcpShiftConfig): AppSettings {
  return {
    name: config.appName,
    namespace: config.namespace,
    port: config.appPort,
    images: { v1: config.imageV1, v2: config.imageV2 },
    prefixes: { v1: config.prefixV1, v2: config.prefixV2 },
    replicas: config.replicas,
    podDisruptionBudget: config.podDisruptionBudget,
    resources: {
      cpuRequest: config.cpuRequest,
      memoryRequest: config.memoryRequest,
      cpuLimit: config.cpuLimit,
      memoryLimit: config.memoryLimit,
    },
  };
}

function gatewayResources(config: TcpShiftConfig): ContainerResources {
  return {
    cpuRequest: config.gatewayCpuRequest,
    memoryRequest: config.gatewayMemoryRequest,
    cpuLimit: config.gatewayCpuLimit,
    memoryLimit: config.gatewayMemoryLimit,
  };
}

/**
 * The bundled gateway's listener options from flat config: the same for the cluster's gateway and
 * local mode's in-process one (which has no cluster access to shape).
 */
export function gatewayRouteOptions(
  config: Pick<
    TcpShiftConfig,
    "gatewayBalance" | "gatewayProxyProtocol" | "drainAfter" | "drainRate"
  >,
): GatewayRouteOptions {
  return {
    balance: config.gatewayBalance,
    proxyProtocol: config.gatewayProxyProtocol,
    ...(config.drainAfter === undefined
      ? {}
      : { drainAfterSeconds: durationSeconds(config.drainAfter) }),
    drainRate: config.drainRate,
  };
}

/** The bundled gateway's settings; the schema guarantees `gatewayImage` where one runs. */
function bundledGateway(config: TcpShiftConfig): BundledGatewaySettings {
  if (!config.gatewayImage) throw new Error("the schema requires gatewayImage here");
  return {
    image: config.gatewayImage,
    ...(config.gatewayBuild && config.registryUsername
      ? { build: { username: config.registryUsername } }
      : {}),
    replicas: config.gatewayReplicas,
    resources: gatewayResources(config),
    ...gatewayRouteOptions(config),
  };
}

function dataPlaneAccess(config: TcpShiftConfig): DataPlaneAccess {
  if (config.kubeconfig !== undefined) return { source: "kubeconfig" };
  if (config.clusterId) return { source: "clusterId", clusterId: config.clusterId };
  return { source: "ambient" };
}

function meshRouting(config: TcpShiftConfig): MeshRouting {
  return {
    routing:
      config.routingApi === "gateway-api"
        ? {
            api: "gateway-api",
            gatewayClassName: config.gatewayClassName,
            tcpRouteApiVersion: config.tcpRouteApiVersion,
            istioApiVersion: config.istioApiVersion,
          }
        : { api: "istio", apiVersion: config.istioApiVersion },
    splitter: config.splitter,
  };
}

/**
 * Shape validated config by mode. Call after `parseConfig` and the cluster-access check (which
 * guarantee what each mode requires); a missing requirement here is a bug, not a user error.
 */
export function toStackSettings(config: TcpShiftConfig): StackSettings {
  const common: CommonSettings = {
    weightV2: config.weightV2,
    app: appSettings(config),
    ingress: {
      port: config.ingressPort,
      replicas: config.gatewayReplicas,
      resources: gatewayResources(config),
    },
    clb: {
      clb: config.clb,
      clbId: config.clbId,
      clbAddressType: config.clbAddressType,
      clbVswitchId: config.clbVswitchId,
      clbInstanceChargeType: config.clbInstanceChargeType,
      clbSpec: config.clbSpec,
      clbInternetChargeType: config.clbInternetChargeType,
      clbBandwidth: config.clbBandwidth,
      clbDeleteProtection: config.clbDeleteProtection,
      allowedCidrs: config.allowedCidrs,
    },
    ...(config.metricsNamespace ? { metricsNamespace: config.metricsNamespace } : {}),
  };
  const splitterGateway = config.splitter === "gateway" ? { gateway: bundledGateway(config) } : {};
  switch (config.mode) {
    case "asm": {
      if (!config.clusterId) throw new Error("the access check requires clusterId in asm mode");
      const mesh: MeshAccess =
        config.meshKubeconfig !== undefined
          ? { source: "kubeconfig" }
          : config.meshId
            ? { source: "meshId", meshId: config.meshId }
            : (() => {
                throw new Error("the access check requires meshId or meshKubeconfig in asm mode");
              })();
      return {
        mode: "asm",
        ...common,
        ...meshRouting(config),
        clusterId: config.clusterId,
        access: { dataPlane: dataPlaneAccess(config), mesh },
        ...splitterGateway,
      };
    }
    case "istio":
      return {
        mode: "istio",
        ...common,
        ...meshRouting(config),
        access: { dataPlane: dataPlaneAccess(config) },
        ...splitterGateway,
      };
    case "standalone":
      return {
        mode: "standalone",
        ...common,
        access: { dataPlane: dataPlaneAccess(config) },
        gateway: bundledGateway(config),
      };
  }
}
