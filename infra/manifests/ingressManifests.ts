/**
 * The two mesh ingresses as plain data. asm mode: an `IstioGateway` of the app's own on the ASM
 * control plane, which makes ASM run `istio-<app>-ingressgateway` in the ACK cluster with the CLB
 * annotations on its Service; the mesh's shared default `ingressgateway` is never declared,
 * patched or deleted. istio mode: a dedicated LoadBalancer Service in istio-system selecting the
 * ingress gateway pods, so Istio's own Service is left alone.
 */
import { UserError } from "../../contract/userError";
import type { IngressSettings } from "../config/settings";
import {
  ASM_GATEWAY_API_VERSION,
  ASM_GATEWAY_KIND,
  ASM_GATEWAY_SUFFIX,
  ASM_INGRESS_POD_LABEL,
  ISTIO_SYSTEM_NAMESPACE,
  PROJECT_NAME,
} from "../constants";
import { type MeshIngressPods, meshIngressPods } from "./meshManifests";
import { objectNames } from "./objectNames";
import { containerResources, tcpServicePort } from "./podSecurity";

/** Longest DNS-1035 label: ASM names the gateway's Service `istio-<IstioGateway name>`. */
const SERVICE_NAME_LIMIT = 63;

/**
 * The app's own IstioGateway: `<app>-ingressgateway` (ASM's Service and Deployment become
 * `istio-<app>-ingressgateway`). Throws a `UserError` (`E_CONFIG`) naming the limit when
 * `appName` is too long for that.
 */
export function asmIngressGatewayName(appName: string): string {
  const name = `${appName}-${ASM_GATEWAY_SUFFIX}`;
  const longest = SERVICE_NAME_LIMIT - `istio--${ASM_GATEWAY_SUFFIX}`.length;
  if (appName.length > longest) {
    throw new UserError(
      "E_CONFIG",
      `${PROJECT_NAME}:appName = "${appName}": at most ${longest} characters in asm mode (ASM names the gateway's Service istio-${name}, a DNS label of at most ${SERVICE_NAME_LIMIT})`,
    );
  }
  return name;
}

/** Name of the Service (and Deployment) ASM creates for the app's IstioGateway. */
export function asmIngressServiceName(appName: string): string {
  return `istio-${asmIngressGatewayName(appName)}`;
}

/** The pods of the app's own ASM gateway, as the Istio Gateway and the NetworkPolicy select them. */
export function asmIngressPods(appName: string): MeshIngressPods {
  return {
    namespace: ISTIO_SYSTEM_NAMESPACE,
    labels: { [ASM_INGRESS_POD_LABEL]: asmIngressGatewayName(appName) },
  };
}

/** The ingress gateway pods of a mesh mode: the app's own in asm mode, Istio's default in istio mode. */
export function meshIngressPodsOf(mode: "asm" | "istio", appName: string): MeshIngressPods {
  return mode === "asm" ? asmIngressPods(appName) : meshIngressPods();
}

/** What ASM's ingress gateway is built from. */
export interface AsmIngressConfig {
  /** The app the gateway is for: names the IstioGateway and labels its pods. */
  appName: string;
  /** Port, replicas and resources of the gateway pods. */
  ingress: IngressSettings;
  /** ACK cluster ASM deploys the gateway to. */
  clusterId: string;
}

/**
 * The app's `IstioGateway <app>-ingressgateway` in istio-system: port `ingressPort`, CLB
 * annotations (`clbAnnotations`; per-key Outputs in the program, so known keys stay known in a
 * preview), pods labelled for the app's Istio Gateway.
 */
export function asmIngressGateway<A = Record<string, string>>(
  config: AsmIngressConfig,
  serviceAnnotations: A,
) {
  return {
    apiVersion: ASM_GATEWAY_API_VERSION,
    kind: ASM_GATEWAY_KIND,
    metadata: { name: asmIngressGatewayName(config.appName), namespace: ISTIO_SYSTEM_NAMESPACE },
    spec: {
      gatewayType: "ingress",
      clusterIds: [config.clusterId],
      replicaCount: config.ingress.replicas,
      ports: [tcpServicePort(config.ingress.port)],
      resources: containerResources(config.ingress.resources),
      serviceType: "LoadBalancer",
      serviceAnnotations,
      podLabels: asmIngressPods(config.appName).labels,
    },
  };
}

/** What a LoadBalancer Service for the ingress port needs: the CLB comes from `annotations`. */
export interface TcpLoadBalancerServiceArgs<A> {
  name: string;
  namespace: string;
  annotations: A;
  selector: Record<string, string>;
  port: number;
  /** Container port, by number or name. @default port */
  targetPort?: number | string;
}

/** A LoadBalancer Service with one TCP port; ACK's cloud controller binds it to the CLB. */
export function tcpLoadBalancerService<A>(args: TcpLoadBalancerServiceArgs<A>) {
  return {
    apiVersion: "v1" as const,
    kind: "Service" as const,
    metadata: { name: args.name, namespace: args.namespace, annotations: args.annotations },
    spec: {
      type: "LoadBalancer",
      selector: args.selector,
      ports: [tcpServicePort(args.port, args.targetPort ?? args.port)],
    },
  };
}

/** istio mode: a LoadBalancer Service on `ingressPort` in front of `istio: ingressgateway`. */
export function istioIngressService<A = Record<string, string>>(
  appName: string,
  ingressPort: number,
  annotations: A,
) {
  return tcpLoadBalancerService({
    name: objectNames(appName).ingressService,
    namespace: ISTIO_SYSTEM_NAMESPACE,
    annotations,
    selector: meshIngressPods().labels,
    port: ingressPort,
  });
}
