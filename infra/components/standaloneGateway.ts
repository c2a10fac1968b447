import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  type GatewayConfig,
  gatewayDeployment,
  gatewayRoutesConfigMap,
  gatewayService,
} from "../manifests/gatewayManifests";
import { loadBalancerHost } from "./loadBalancerHost";

/** Arguments of {@link StandaloneGateway}. */
export interface StandaloneGatewayArgs {
  /** The app it routes to, its port, `weightV2`, and the gateway's pods and listener options. */
  config: GatewayConfig;
  /** The gateway image: `gatewayImage`, or the digest-pinned ref of a `GatewayImage` build. */
  image: pulumi.Input<string>;
  /** CLB annotations (from `Clb`). */
  annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** The cluster. */
  provider: k8s.Provider;
  /** The CLB's address when known; otherwise the Service's load-balancer status. */
  address?: pulumi.Output<string>;
}

/**
 * standalone mode's ingress: the bundled weighted TCP gateway. `weightV2` reaches it only through
 * the route ConfigMap, which the gateway watches and reloads: a weight change restarts nothing.
 */
export class StandaloneGateway extends pulumi.ComponentResource {
  /** Address clients connect to. */
  readonly host: pulumi.Output<string>;

  constructor(name: string, args: StandaloneGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:gateway:StandaloneGateway", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider };
    const routes = new k8s.core.v1.ConfigMap(
      `${name}-routes`,
      gatewayRoutesConfigMap(args.config),
      childOpts,
    );
    new k8s.apps.v1.Deployment(`${name}-deployment`, gatewayDeployment(args.config, args.image), {
      ...childOpts,
      dependsOn: [routes],
    });
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      gatewayService(args.config, args.annotations),
      childOpts,
    );
    this.host = args.address ?? loadBalancerHost(service);
    this.registerOutputs({ host: this.host });
  }
}
