import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type GatewayConfig, gatewaySplitterService } from "../manifests/gatewayManifests";
import { objectNames } from "../manifests/objectNames";
import { declareBundledGateway } from "./bundledGateway";

/** Arguments of {@link SplitterGateway}. */
export interface SplitterGatewayArgs {
  /** The app it routes to, its port, `weightV2`, and the gateway's pods and listener options. */
  config: Omit<GatewayConfig, "role">;
  /** The gateway image: `gatewayImage`, or the digest-pinned ref of a `GatewayImage` build. */
  image: pulumi.Input<string>;
  /** Namespace that may scrape the admin port besides the gateway's own (`metricsNamespace`). */
  metricsNamespace?: string;
  /** The data-plane cluster. */
  provider: k8s.Provider;
}

/**
 * `splitter: gateway`: the bundled gateway inside the mesh, behind a ClusterIP Service that the
 * mesh's route (VirtualService or TCPRoute) points at, fixed. The gateway splits between the
 * per-version Services with the weights of its ConfigMap, so a weight change is one ConfigMap
 * update: no Envoy listener is rewritten, no open connection is cut.
 */
export class SplitterGateway extends pulumi.ComponentResource {
  /** Name of the ClusterIP Service the mesh's route sends the ingress port to. */
  readonly serviceName: string;
  /** Port of that Service. */
  readonly port: number;

  constructor(name: string, args: SplitterGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:gateway:SplitterGateway", name, {}, opts);
    const config: GatewayConfig = { ...args.config, role: "splitter" };
    declareBundledGateway(this, name, {
      config,
      image: args.image,
      service: gatewaySplitterService(config),
      networkPolicySources: { sidecar: true, metricsNamespace: args.metricsNamespace },
      provider: args.provider,
    });
    this.serviceName = objectNames(config.app.name).gateway;
    this.port = config.port;
    this.registerOutputs({ serviceName: this.serviceName, port: this.port });
  }
}
