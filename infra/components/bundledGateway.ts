/**
 * The bundled gateway's objects, shared by the two components that run it (`StandaloneGateway`,
 * `SplitterGateway`): route ConfigMap, Deployment, Service, NetworkPolicy and, with two or more
 * pods, a PodDisruptionBudget. Each component declares them as its own children under the same
 * role names, so standalone's resource names (URNs) are what they were before the split.
 */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import {
  type GatewayConfig,
  gatewayDeployment,
  gatewayDisruptionBudget,
  gatewayRoutesConfigMap,
} from "../manifests/gatewayManifests";
import { gatewayNetworkPolicy, type NetworkPolicySources } from "../manifests/networkPolicies";

/** Arguments of {@link declareBundledGateway}. */
export interface BundledGatewayArgs {
  /** Role, app, port, `weightV2` and the gateway's pods and listener options. */
  config: GatewayConfig;
  /** The gateway image: `gatewayImage`, or the digest-pinned ref of a `GatewayImage` build. */
  image: pulumi.Input<string>;
  /** The Service in front of the pods: a LoadBalancer (standalone) or a ClusterIP (splitter). */
  service: k8s.core.v1.ServiceArgs;
  /** Who may reach the admin port besides the gateway's namespace. */
  networkPolicySources: NetworkPolicySources;
  /** The data-plane cluster. */
  provider: k8s.Provider;
}

/** What {@link declareBundledGateway} declared that its component hands on. */
export interface BundledGatewayResources {
  service: k8s.core.v1.Service;
}

/**
 * Declare the bundled gateway as children of `parent`, named `${name}-<role>`. `weightV2` reaches
 * only the ConfigMap: a weight change is one in-place ConfigMap update, no rollout.
 */
export function declareBundledGateway(
  parent: pulumi.ComponentResource,
  name: string,
  args: BundledGatewayArgs,
): BundledGatewayResources {
  const childOpts = { parent, provider: args.provider };
  const { config } = args;
  const routes = new k8s.core.v1.ConfigMap(
    `${name}-routes`,
    gatewayRoutesConfigMap(config),
    childOpts,
  );
  new k8s.apps.v1.Deployment(`${name}-deployment`, gatewayDeployment(config, args.image), {
    ...childOpts,
    dependsOn: [routes],
  });
  const service = new k8s.core.v1.Service(`${name}-service`, args.service, childOpts);
  const budget = gatewayDisruptionBudget(config);
  if (budget) new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, budget, childOpts);
  new k8s.networking.v1.NetworkPolicy(
    `${name}-network-policy`,
    gatewayNetworkPolicy(config, args.networkPolicySources),
    childOpts,
  );
  return { service };
}
