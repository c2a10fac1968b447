/**
 * The two mesh ingresses as plain data. asm mode: ASM's `IstioGateway` (control plane), which
 * makes ASM run `istio-ingressgateway` in the ACK cluster with the CLB annotations on its Service.
 * istio mode: a dedicated LoadBalancer Service in istio-system selecting the ingress gateway pods,
 * so Istio's own Service is left alone.
 */
import type { IngressSettings } from "../config/settings";
import {
  ASM_GATEWAY_API_VERSION,
  ASM_GATEWAY_KIND,
  ASM_GATEWAY_NAME,
  INGRESS_GATEWAY_SELECTOR,
  ISTIO_SYSTEM_NAMESPACE,
} from "../constants";
import { objectNames } from "./objectNames";
import { containerResources, tcpServicePort } from "./podSecurity";

/** What ASM's ingress gateway is built from. */
export interface AsmIngressConfig {
  /** Port, replicas and resources of the gateway pods. */
  ingress: IngressSettings;
  /** ACK cluster ASM deploys the gateway to. */
  clusterId: string;
}

/**
 * ASM's `IstioGateway ingressgateway` in istio-system: port `ingressPort`, CLB annotations
 * (`clbAnnotations`; the program passes them as an Output because the CLB id is one).
 */
export function asmIngressGateway<A = Record<string, string>>(
  config: AsmIngressConfig,
  serviceAnnotations: A,
) {
  return {
    apiVersion: ASM_GATEWAY_API_VERSION,
    kind: ASM_GATEWAY_KIND,
    metadata: { name: ASM_GATEWAY_NAME, namespace: ISTIO_SYSTEM_NAMESPACE },
    spec: {
      gatewayType: "ingress",
      clusterIds: [config.clusterId],
      replicaCount: config.ingress.replicas,
      ports: [tcpServicePort(config.ingress.port)],
      resources: containerResources(config.ingress.resources),
      serviceType: "LoadBalancer",
      serviceAnnotations,
    },
  };
}

/** Name of the Service ASM creates for `asmIngressGateway` (`istio-<name>`). */
export const ASM_INGRESS_SERVICE_NAME = `istio-${ASM_GATEWAY_NAME}`;

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
    selector: { ...INGRESS_GATEWAY_SELECTOR },
    port: ingressPort,
  });
}
