import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ACCESS_ENV } from "../config/clusterAccess";
import { ISTIO_SYSTEM_NAMESPACE } from "../constants";
import {
  type AsmIngressConfig,
  asmIngressGateway,
  asmIngressGatewayName,
  asmIngressServiceName,
} from "../manifests/ingressManifests";
import { provisionedServiceAddress } from "./provisionedServiceAddress";

/** Arguments of {@link AsmIngress}. */
export interface AsmIngressArgs {
  /** The app, port, replicas, resources and the ACK cluster id of the gateway. */
  config: AsmIngressConfig;
  /** CLB annotations for the gateway Service (from `Clb`; per-key Outputs). */
  serviceAnnotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** The ASM control plane, where the `IstioGateway` is declared. */
  meshProvider: k8s.Provider;
  /**
   * The CLB's address when known (created or reused); otherwise it is read from the Service ASM
   * creates in the ACK cluster, once the cloud controller has assigned it.
   */
  address?: pulumi.Output<string>;
  /** Kubeconfig (secret) of the ACK cluster: needed to read that Service when `address` is unset. */
  dataPlaneKubeconfig?: pulumi.Output<string>;
  /** How long `up` waits for ASM's Service and its address. */
  waitSeconds: number;
}

/**
 * ASM's ingress gateway for this app: an `IstioGateway <app>-ingressgateway` of its own
 * (REFERENCE section 3) with the ingress port, the CLB annotations and a pod label the app's
 * Istio Gateway selects. ASM runs its pods and the Service `istio-<app>-ingressgateway` in the
 * ACK cluster. The mesh's shared default `ingressgateway` is left exactly as it is: the stack
 * never creates, patches or deletes what it does not own.
 *
 * Without a known CLB address (`clb: controller`), `host` comes from that Service: `up` waits for
 * ASM to create it and the cloud controller to give it an address (bounded, with progress); a
 * preview reads it once and leaves the address unknown when it is not there yet.
 */
export class AsmIngress extends pulumi.ComponentResource {
  /** Address clients connect to. */
  readonly host: pulumi.Output<string>;

  constructor(name: string, args: AsmIngressArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:ingress:AsmIngress", name, {}, opts);
    const gateway = new k8s.apiextensions.CustomResource(
      `${name}-istio-gateway`,
      asmIngressGateway(args.config, args.serviceAnnotations),
      { parent: this, provider: args.meshProvider },
    );
    this.host = args.address ?? this.serviceAddress(gateway, args);
    this.registerOutputs({ host: this.host });
  }

  /** The address of the Service ASM creates, once it exists and the CLB has one. */
  private serviceAddress(
    gateway: k8s.apiextensions.CustomResource,
    args: AsmIngressArgs,
  ): pulumi.Output<string> {
    const { appName, clusterId } = args.config;
    return provisionedServiceAddress({
      owner: gateway,
      namespace: ISTIO_SYSTEM_NAMESPACE,
      name: asmIngressServiceName(appName),
      kubeconfig: args.dataPlaneKubeconfig,
      missingKubeconfig: `asm mode with clb controller reads the gateway's address from the ACK cluster and needs its kubeconfig (${ACCESS_ENV.kubeconfig} or ${ACCESS_ENV.clusterId})`,
      cluster: `ACK cluster ${clusterId}`,
      creator: `ASM (IstioGateway ${ISTIO_SYSTEM_NAMESPACE}/${asmIngressGatewayName(appName)})`,
      checks: [
        `the IstioGateway's clusterIds lists ${clusterId}, and that cluster is added to the ASM instance`,
        `its status and events in the ASM console (ASM Gateways), and kubectl -n ${ISTIO_SYSTEM_NAMESPACE} get deploy,svc,events in the ACK cluster`,
        "the cloud controller's events on the Service (CLB quota, the annotations, the vSwitch)",
      ],
      waitSeconds: args.waitSeconds,
    });
  }
}
