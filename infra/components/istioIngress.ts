import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { istioIngressService } from "../manifests/ingressManifests";
import { loadBalancerHost } from "./loadBalancerHost";

/** Arguments of {@link IstioIngress}. */
export interface IstioIngressArgs {
  /** App name: names the Service `<app>-ingress`. */
  appName: string;
  /** TCP port of the ingress and the CLB listener. */
  port: number;
  /** CLB annotations (from `Clb`). */
  annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** The Istio cluster. */
  provider: k8s.Provider;
  /** The CLB's address when known; otherwise the Service's load-balancer status. */
  address?: pulumi.Output<string>;
}

/**
 * istio mode's ingress: a dedicated LoadBalancer Service `<app>-ingress` in istio-system on the
 * ingress port, selecting the `istio: ingressgateway` pods, with the CLB annotations. Istio's own
 * `istio-ingressgateway` Service (owned by its installer) is left untouched.
 */
export class IstioIngress extends pulumi.ComponentResource {
  /** Address clients connect to. */
  readonly host: pulumi.Output<string>;

  constructor(name: string, args: IstioIngressArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:ingress:IstioIngress", name, {}, opts);
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      istioIngressService(args.appName, args.port, args.annotations),
      { parent: this, provider: args.provider },
    );
    this.host = args.address ?? loadBalancerHost(service);
    this.registerOutputs({ host: this.host });
  }
}
