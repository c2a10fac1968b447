import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AppSettings } from "../config/settings";
import { VERSIONS } from "../constants";
import {
  echoDeployment,
  echoDisruptionBudget,
  echoService,
  echoVersionService,
} from "../manifests/echoManifests";
import { appNetworkPolicy, type NetworkPolicySources } from "../manifests/networkPolicies";

/** Arguments of {@link EchoApp}. */
export interface EchoAppArgs {
  /** Names, images, prefixes, replicas, resources and disruption budgets of the two versions. */
  app: AppSettings;
  /** The data-plane cluster. */
  provider: k8s.Provider;
  /**
   * Add a Service per version (`<app>-v1`, `<app>-v2`): the bundled gateway's endpoints.
   * @default false
   */
  versionServices?: boolean;
  /** Who may connect to the app's pods besides their own namespace (a NetworkPolicy). */
  networkPolicySources: NetworkPolicySources;
}

/**
 * The tcp-echo app on the data plane: Deployments `<app>-v1`/`<app>-v2` and Service `<app>`, as
 * in the ASM tutorial, plus per-version Services and PodDisruptionBudgets when asked, and a
 * NetworkPolicy that admits only the namespace and the mesh's ingress gateway.
 */
export class EchoApp extends pulumi.ComponentResource {
  /** Name of the Service over both versions (the VirtualService host). */
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: EchoAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:app:EchoApp", name, {}, opts);
    const podDisruptionBudget = args.app.podDisruptionBudget;
    const versionServices = args.versionServices ?? false;
    const childOpts = { parent: this, provider: args.provider };

    for (const version of VERSIONS) {
      new k8s.apps.v1.Deployment(
        `${name}-${version}`,
        echoDeployment(args.app, version),
        childOpts,
      );
      if (versionServices) {
        new k8s.core.v1.Service(
          `${name}-${version}-service`,
          echoVersionService(args.app, version),
          childOpts,
        );
      }
      if (podDisruptionBudget) {
        new k8s.policy.v1.PodDisruptionBudget(
          `${name}-${version}-pdb`,
          echoDisruptionBudget(args.app, version),
          childOpts,
        );
      }
    }
    const service = new k8s.core.v1.Service(`${name}-service`, echoService(args.app), childOpts);
    new k8s.networking.v1.NetworkPolicy(
      `${name}-network-policy`,
      appNetworkPolicy(args.app, args.networkPolicySources),
      childOpts,
    );
    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
