import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  type GatewayConfig,
  gatewayClbAnnotations,
  gatewayService,
} from "../manifests/gatewayManifests";
import { declareBundledGateway } from "./bundledGateway";
import { loadBalancerHost } from "./loadBalancerHost";

/** Arguments of {@link StandaloneGateway}. */
export interface StandaloneGatewayArgs {
  /** The app it routes to, its port, `weightV2`, and the gateway's pods and listener options. */
  config: Omit<GatewayConfig, "role">;
  /** The gateway image: `gatewayImage`, or the digest-pinned ref of a `GatewayImage` build. */
  image: pulumi.Input<string>;
  /**
   * CLB annotations (from `Clb`, one Output per key); the gateway adds its PROXY protocol one when
   * enabled.
   */
  annotations: Record<string, pulumi.Input<string>>;
  /** Namespace that may scrape the admin port besides the gateway's own (`metricsNamespace`). */
  metricsNamespace?: string;
  /** The cluster. */
  provider: k8s.Provider;
  /** The CLB's address when known; otherwise the Service's load-balancer status. */
  address?: pulumi.Output<string>;
}

/**
 * standalone mode's ingress: the bundled weighted TCP gateway behind a LoadBalancer Service.
 * `weightV2` reaches it only through the route ConfigMap, which the gateway watches and reloads:
 * a weight change restarts nothing.
 */
export class StandaloneGateway extends pulumi.ComponentResource {
  /** Address clients connect to. */
  readonly host: pulumi.Output<string>;

  constructor(name: string, args: StandaloneGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:gateway:StandaloneGateway", name, {}, opts);
    const config: GatewayConfig = { ...args.config, role: "standalone" };
    // Key by key: in a preview, only the id of a CLB not created yet is unknown.
    const annotations = { ...args.annotations, ...gatewayClbAnnotations(config) };
    const { service } = declareBundledGateway(this, name, {
      config,
      image: args.image,
      service: gatewayService(config, annotations),
      networkPolicySources: { sidecar: false, metricsNamespace: args.metricsNamespace },
      provider: args.provider,
    });
    this.host = args.address ?? loadBalancerHost(service);
    this.registerOutputs({ host: this.host });
  }
}
