import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  destinationRule,
  istioApiVersionAliases,
  istioGateway,
  type MeshRoutesConfig,
  virtualService,
} from "../manifests/meshManifests";

/** Arguments of {@link MeshRoutes}. */
export interface MeshRoutesArgs {
  /** App names and ports, the Istio API version and `weightV2`. */
  config: MeshRoutesConfig;
  /** The cluster that serves Istio's API: the ASM control plane, or the Istio cluster. */
  provider: k8s.Provider;
}

/**
 * The tutorial's Istio routing: Gateway, VirtualService (the weights) and DestinationRule. A
 * change of `weightV2` changes the VirtualService's `spec` only: an in-place update.
 */
export class MeshRoutes extends pulumi.ComponentResource {
  /** Name of the VirtualService that carries the weights. */
  readonly virtualServiceName: pulumi.Output<string>;

  constructor(name: string, args: MeshRoutesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:mesh:MeshRoutes", name, {}, opts);
    const declare = (
      role: string,
      manifest: { apiVersion: string; kind: string },
      dependsOn: pulumi.Resource[] = [],
    ) =>
      new k8s.apiextensions.CustomResource(`${name}-${role}`, manifest, {
        parent: this,
        provider: args.provider,
        aliases: istioApiVersionAliases(manifest.apiVersion, manifest.kind),
        dependsOn,
      });
    const gateway = declare("gateway", istioGateway(args.config));
    const destinations = declare("destination-rule", destinationRule(args.config));
    // Subsets and the gateway exist before traffic is routed to them.
    const routes = declare("virtual-service", virtualService(args.config), [gateway, destinations]);
    this.virtualServiceName = routes.metadata.name;
    this.registerOutputs({ virtualServiceName: this.virtualServiceName });
  }
}
