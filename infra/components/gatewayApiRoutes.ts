import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IstioNetworkingApiVersion } from "../constants";
import {
  type GatewayApiRoutesConfig,
  gatewayApiGateway,
  tcpRoute,
  tcpRouteApiVersionAliases,
} from "../manifests/gatewayApiManifests";
import { gatewayProxyProtocolRule, istioApiVersionAliases } from "../manifests/meshManifests";
import { objectNames } from "../manifests/objectNames";
import { loadBalancerHost } from "./loadBalancerHost";

/** Arguments of {@link GatewayApiRoutes}. */
export interface GatewayApiRoutesArgs {
  /** App, ingress port, gateway class, TCPRoute version, the route's target, the binding. */
  config: GatewayApiRoutesConfig;
  /**
   * What must run before traffic is routed to it (the splitter): the route (VirtualService or
   * TCPRoute) is applied after these.
   * @default []
   */
  routeAfter?: pulumi.Resource[];
  /** The cluster that serves the Gateway API: the ASM control plane, or the Istio cluster. */
  provider: k8s.Provider;
  /**
   * istio mode: Istio deploys the gateway and its LoadBalancer Service `<gateway>-<class>` in the
   * app's namespace and copies these annotations (the CLB's) onto it
   * (`spec.infrastructure.annotations`). Unset when the Gateway binds to an existing gateway
   * (`config.existingService`, asm mode).
   */
  provisioned?: {
    /** CLB annotations (from `Clb`). */
    annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The data-plane cluster, where Istio creates the Service. */
    dataPlaneProvider: k8s.Provider;
    /** The CLB's address when known; otherwise read from the Service Istio creates. */
    address?: pulumi.Output<string>;
  };
  /**
   * Make the ingress Envoy send a PROXY header to the splitter (`gatewayProxyProtocol` with
   * `splitter: gateway`): Istio's DestinationRule in this API version, the one Istio object of
   * this routing (the Gateway API has no equivalent).
   */
  proxyProtocolToSplitter?: { istioApiVersion: IstioNetworkingApiVersion };
}

/**
 * The Gateway API variant of the tutorial (Istio's `samples/tcp-echo/gateway-api/`): a `Gateway`
 * with a TCP listener on the ingress port and a `TCPRoute` that carries the weights. A change of
 * `weightV2` changes the TCPRoute's `spec` only: an in-place update.
 */
export class GatewayApiRoutes extends pulumi.ComponentResource {
  /** Name of the TCPRoute that carries the weights (or the fixed route). */
  readonly tcpRouteName: pulumi.Output<string>;
  /** Address of the gateway Istio deployed (with `provisioned`). */
  readonly host?: pulumi.Output<string>;

  constructor(name: string, args: GatewayApiRoutesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:mesh:GatewayApiRoutes", name, {}, opts);
    const { config } = args;
    const childOpts = { parent: this, provider: args.provider };
    const gateway = new k8s.apiextensions.CustomResource(
      `${name}-gateway`,
      gatewayApiGateway(config, args.provisioned?.annotations),
      childOpts,
    );
    const prerequisites: pulumi.Resource[] = [gateway, ...(args.routeAfter ?? [])];
    if (args.proxyProtocolToSplitter) {
      const rule = gatewayProxyProtocolRule({
        app: config.app,
        apiVersion: args.proxyProtocolToSplitter.istioApiVersion,
      });
      prerequisites.push(
        new k8s.apiextensions.CustomResource(`${name}-gateway-destination-rule`, rule, {
          ...childOpts,
          aliases: istioApiVersionAliases(rule.apiVersion, rule.kind),
        }),
      );
    }
    const route = new k8s.apiextensions.CustomResource(`${name}-tcp-route`, tcpRoute(config), {
      ...childOpts,
      aliases: tcpRouteApiVersionAliases(config.tcpRouteApiVersion),
      dependsOn: prerequisites,
    });
    this.tcpRouteName = route.metadata.name;
    const provisioned = args.provisioned;
    if (provisioned) {
      const serviceName = objectNames(config.app.name).provisionedGateway(config.gatewayClassName);
      this.host =
        provisioned.address ??
        loadBalancerHost(
          k8s.core.v1.Service.get(`${name}-service`, `${config.app.namespace}/${serviceName}`, {
            parent: this,
            provider: provisioned.dataPlaneProvider,
            dependsOn: [gateway],
          }),
        );
    }
    this.registerOutputs({ tcpRouteName: this.tcpRouteName, host: this.host });
  }
}
