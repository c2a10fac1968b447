import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ISTIO_SYSTEM_NAMESPACE } from "../constants";
import {
  ASM_INGRESS_SERVICE_NAME,
  type AsmIngressConfig,
  asmIngressGateway,
} from "../manifests/ingressManifests";
import { loadBalancerHost } from "./loadBalancerHost";

/** Arguments of {@link AsmIngress}. */
export interface AsmIngressArgs {
  /** Port, replicas, resources and the ACK cluster id of the gateway. */
  config: AsmIngressConfig;
  /** CLB annotations for the gateway Service (from `Clb`). */
  serviceAnnotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** The ASM control plane, where `IstioGateway` is declared. */
  meshProvider: k8s.Provider;
  /** The ACK data plane, where ASM creates `istio-system/istio-ingressgateway`. */
  dataPlaneProvider: k8s.Provider;
  /**
   * The CLB's address when known (created or reused); otherwise it is read from the Service ASM
   * creates, once the controller has assigned it.
   */
  address?: pulumi.Output<string>;
}

/**
 * ASM's ingress gateway: an `IstioGateway ingressgateway` (REFERENCE section 3) with the ingress
 * port and the CLB annotations. ASM runs the gateway pods and Service in the ACK cluster.
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
    this.host =
      args.address ??
      loadBalancerHost(
        k8s.core.v1.Service.get(
          `${name}-service`,
          `${ISTIO_SYSTEM_NAMESPACE}/${ASM_INGRESS_SERVICE_NAME}`,
          { parent: this, provider: args.dataPlaneProvider, dependsOn: [gateway] },
        ),
      );
    this.registerOutputs({ host: this.host });
  }
}
