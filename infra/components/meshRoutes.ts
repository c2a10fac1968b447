import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  destinationRule,
  gatewayProxyProtocolRule,
  istioApiVersionAliases,
  istioGateway,
  type MeshRoutesConfig,
  virtualService,
} from "../manifests/meshManifests";

/** Arguments of {@link MeshRoutes}. */
export interface MeshRoutesArgs {
  /** App names and ports, the Istio API version and the route's target (versions or splitter). */
  config: MeshRoutesConfig;
  /**
   * Make the ingress Envoy send a PROXY header to the splitter (`gatewayProxyProtocol` with
   * `splitter: gateway`): a DestinationRule for the bundled gateway's Service.
   * @default false
   */
  proxyProtocolToSplitter?: boolean;
  /**
   * What must run before traffic is routed to it (the splitter): the route (VirtualService or
   * TCPRoute) is applied after these.
   * @default []
   */
  routeAfter?: pulumi.Resource[];
  /** The cluster that serves Istio's API: the ASM control plane, or the Istio cluster. */
  provider: k8s.Provider;
}

/**
 * The tutorial's Istio routing: Gateway, VirtualService (the weights) and DestinationRule. A
 * change of `weightV2` changes the VirtualService's `spec` only: an in-place update. With the
 * bundled gateway as the splitter, the VirtualService points at its Service and never changes on
 * a shift; the subsets' DestinationRule is then left out (nothing routes by subset).
 */
export class MeshRoutes extends pulumi.ComponentResource {
  /** Name of the VirtualService that carries the weights (or the fixed route). */
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
    const { config } = args;
    const gateway = declare("gateway", istioGateway(config));
    // What the route refers to exists before traffic is routed to it.
    const prerequisites: pulumi.Resource[] = [gateway, ...(args.routeAfter ?? [])];
    if (config.target.kind === "versions")
      prerequisites.push(declare("destination-rule", destinationRule(config)));
    if (args.proxyProtocolToSplitter)
      prerequisites.push(declare("gateway-destination-rule", gatewayProxyProtocolRule(config)));
    const routes = declare("virtual-service", virtualService(config), prerequisites);
    this.virtualServiceName = routes.metadata.name;
    this.registerOutputs({ virtualServiceName: this.virtualServiceName });
  }
}
