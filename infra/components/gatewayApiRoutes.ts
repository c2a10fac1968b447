import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ACCESS_ENV } from "../config/clusterAccess";
import type { IstioNetworkingApiVersion } from "../constants";
import {
  type GatewayApiRoutesConfig,
  gatewayApiGateway,
  tcpRoute,
  tcpRouteApiVersionAliases,
} from "../manifests/gatewayApiManifests";
import { gatewayProxyProtocolRule, istioApiVersionAliases } from "../manifests/meshManifests";
import { objectNames } from "../manifests/objectNames";
import { provisionedServiceAddress } from "./provisionedServiceAddress";

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
    /**
     * The CLB's address when known (created or reused); otherwise it is read from the Service
     * Istio creates, once the cloud controller has assigned it.
     */
    address?: pulumi.Output<string>;
    /** Kubeconfig (secret) of the cluster: needed to read that Service when `address` is unset. */
    dataPlaneKubeconfig?: pulumi.Output<string>;
    /** How long `up` waits for Istio's Service and its address. */
    waitSeconds: number;
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
 *
 * istio mode without a known CLB address (`clb: controller`): `host` comes from the Service Istio
 * deploys for the Gateway. `up` waits for it and its address (bounded, with progress); a preview
 * reads it once and leaves the address unknown when it is not there yet.
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
      this.host = provisioned.address ?? this.serviceAddress(gateway, config, provisioned);
    }
    this.registerOutputs({ tcpRouteName: this.tcpRouteName, host: this.host });
  }

  /** The address of the Service Istio deploys for the Gateway, once it exists and has one. */
  private serviceAddress(
    gateway: k8s.apiextensions.CustomResource,
    config: GatewayApiRoutesConfig,
    provisioned: NonNullable<GatewayApiRoutesArgs["provisioned"]>,
  ): pulumi.Output<string> {
    const { namespace } = config.app;
    const className = config.gatewayClassName;
    const names = objectNames(config.app.name);
    const gatewayName = names.gatewayApiGateway;
    const serviceName = names.provisionedGateway(className);
    return provisionedServiceAddress({
      owner: gateway,
      namespace,
      name: serviceName,
      kubeconfig: provisioned.dataPlaneKubeconfig,
      missingKubeconfig: `istio mode with routingApi gateway-api and clb controller reads the gateway's address from the Service Istio creates (${namespace}/${serviceName}) and needs the cluster's kubeconfig: set ${ACCESS_ENV.kubeconfig} (or tcp-shift:kubeconfig), ${ACCESS_ENV.clusterId} for an ACK cluster, or KUBECONFIG; or set clb to create or reuse, whose address is known`,
      cluster: "the data-plane cluster",
      creator: `Istio (Gateway ${namespace}/${gatewayName}, class ${className})`,
      checks: [
        `kubectl -n ${namespace} get gateway ${gatewayName} -o yaml: its status conditions (Accepted, Programmed) say why Istio deployed nothing`,
        `the GatewayClass ${className} exists and its controllerName is istio.io/gateway-controller (Istio installs the class istio)`,
        `kubectl -n ${namespace} get deploy,svc,events`,
        "the cloud controller's events on the Service (CLB quota, the annotations, the vSwitch)",
      ],
      waitSeconds: provisioned.waitSeconds,
    });
  }
}
