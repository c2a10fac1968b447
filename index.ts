/**
 * tcp-shift: the ASM tutorial "TCP application traffic shifting" as a Pulumi program.
 * `pulumi config set weightV2 20 && pulumi up` sends 20% of new TCP connections to v2.
 * Wiring only: settings shaped by mode in, components per mode, stack outputs out.
 */
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_PREFIXES } from "./contract/versions";
import { AsmIngress } from "./infra/components/asmIngress";
import { Clb } from "./infra/components/clb";
import { type ClusterProviders, createClusterProviders } from "./infra/components/clusterProviders";
import { EchoApp } from "./infra/components/echoApp";
import { warnAboutExposure } from "./infra/components/exposureWarnings";
import { GatewayApiRoutes } from "./infra/components/gatewayApiRoutes";
import { GatewayImage } from "./infra/components/gatewayImage";
import { IstioIngress } from "./infra/components/istioIngress";
import { MeshRoutes } from "./infra/components/meshRoutes";
import { SplitterGateway } from "./infra/components/splitterGateway";
import { StandaloneGateway } from "./infra/components/standaloneGateway";
import type { AsmSettings, BundledGatewaySettings, IstioSettings } from "./infra/config/settings";
import { loadStackConfig, type StackConfig, type StackSecrets } from "./infra/config/stackConfig";
import { ISTIO_SYSTEM_NAMESPACE } from "./infra/constants";
import { asmIngressServiceName, meshIngressPodsOf } from "./infra/manifests/ingressManifests";
import type { RouteTarget } from "./infra/manifests/routeTarget";
import { splitWeights } from "./infra/manifests/weights";

/** The bundled gateway's image: the configured tag, or the digest of a build during `up`. */
function gatewayImageRef(
  appName: string,
  gateway: BundledGatewaySettings,
  secrets: StackSecrets,
): pulumi.Input<string> {
  if (!gateway.build || !secrets.registryPassword) return gateway.image;
  return new GatewayImage(`${appName}-gateway-image`, {
    image: gateway.image,
    username: gateway.build.username,
    password: secrets.registryPassword,
  }).ref;
}

/** The bundled gateway as the mesh's splitter (`splitter: gateway`), or undefined. */
function splitterGateway(
  settings: AsmSettings | IstioSettings,
  secrets: StackSecrets,
  providers: ClusterProviders,
): SplitterGateway | undefined {
  if (settings.splitter !== "gateway" || !settings.gateway) return undefined;
  const { app, gateway } = settings;
  return new SplitterGateway(`${app.name}-gateway`, {
    config: { app, port: settings.ingress.port, weightV2: settings.weightV2, gateway },
    image: gatewayImageRef(app.name, gateway, secrets),
    metricsNamespace: settings.metricsNamespace,
    provider: providers.dataPlane,
  });
}

/**
 * The mesh's routes (Istio's objects or the Gateway API's), to the app's versions by weight or
 * to the splitter. Returns the address of a gateway the Gateway API implementation deployed.
 */
function declareMeshRoutes(
  settings: AsmSettings | IstioSettings,
  splitter: SplitterGateway | undefined,
  clb: Clb,
  providers: ClusterProviders,
  waitSeconds: number,
): pulumi.Output<string> | undefined {
  const { app, routing } = settings;
  const target: RouteTarget = splitter
    ? { kind: "service", name: splitter.serviceName, port: splitter.port }
    : { kind: "versions", weightV2: settings.weightV2 };
  const proxyProtocolToSplitter =
    splitter !== undefined && settings.gateway?.proxyProtocol === true;
  // The route moves to the splitter only once it runs.
  const routeAfter = splitter ? [splitter] : [];
  if (routing.api === "istio") {
    new MeshRoutes(`${app.name}-routes`, {
      config: {
        app,
        ingressPort: settings.ingress.port,
        target,
        apiVersion: routing.apiVersion,
        ingressPods: meshIngressPodsOf(settings.mode, app.name),
      },
      proxyProtocolToSplitter,
      routeAfter,
      provider: providers.mesh,
    });
    return undefined;
  }
  return new GatewayApiRoutes(`${app.name}-routes`, {
    config: {
      app,
      ingressPort: settings.ingress.port,
      target,
      gatewayClassName: routing.gatewayClassName,
      tcpRouteApiVersion: routing.tcpRouteApiVersion,
      // ASM deploys no gateway for a Gateway: it binds to ASM's ingress gateway.
      ...(settings.mode === "asm"
        ? {
            existingService: {
              name: asmIngressServiceName(app.name),
              namespace: ISTIO_SYSTEM_NAMESPACE,
            },
          }
        : {}),
    },
    provider: providers.mesh,
    routeAfter,
    ...(settings.mode === "istio"
      ? {
          provisioned: {
            annotations: clb.annotations,
            ...(clb.address ? { address: clb.address } : {}),
            ...(providers.dataPlaneKubeconfig
              ? { dataPlaneKubeconfig: providers.dataPlaneKubeconfig }
              : {}),
            waitSeconds,
          },
        }
      : {}),
    ...(proxyProtocolToSplitter
      ? { proxyProtocolToSplitter: { istioApiVersion: routing.istioApiVersion } }
      : {}),
  }).host;
}

/** Declare the app, its routes, the ingress and the CLB; returns the address clients use. */
function deployTcpShift(
  { settings, secrets, serviceWaitSeconds }: StackConfig,
  providers: ClusterProviders,
): pulumi.Output<string> {
  const { app } = settings;
  const mesh = settings.mode !== "standalone";
  new EchoApp(app.name, {
    app,
    provider: providers.dataPlane,
    // The bundled gateway and TCPRoutes reach each version through a Service of its own.
    versionServices:
      !mesh || settings.routing.api === "gateway-api" || settings.splitter === "gateway",
    networkPolicySources: {
      sidecar: mesh,
      ...(mesh ? { meshIngress: meshIngressPodsOf(settings.mode, app.name) } : {}),
      ...(settings.metricsNamespace ? { metricsNamespace: settings.metricsNamespace } : {}),
    },
  });
  const clb = new Clb(`${app.name}-clb`, { config: settings.clb });
  warnAboutExposure(settings.clb, settings.ingress.port);

  if (settings.mode === "standalone") {
    return new StandaloneGateway(`${app.name}-gateway`, {
      config: {
        app,
        port: settings.ingress.port,
        weightV2: settings.weightV2,
        gateway: settings.gateway,
      },
      image: gatewayImageRef(app.name, settings.gateway, secrets),
      annotations: clb.annotations,
      metricsNamespace: settings.metricsNamespace,
      provider: providers.dataPlane,
      address: clb.address,
    }).host;
  }

  const splitter = splitterGateway(settings, secrets, providers);
  const provisionedHost = declareMeshRoutes(settings, splitter, clb, providers, serviceWaitSeconds);
  if (settings.mode === "asm") {
    return new AsmIngress(`${app.name}-ingress`, {
      config: { appName: app.name, ingress: settings.ingress, clusterId: settings.clusterId },
      serviceAnnotations: clb.annotations,
      meshProvider: providers.mesh,
      address: clb.address,
      dataPlaneKubeconfig: providers.dataPlaneKubeconfig,
      waitSeconds: serviceWaitSeconds,
    }).host;
  }
  // istio mode with the Gateway API: Istio deployed the gateway and its LoadBalancer Service.
  if (provisionedHost) return provisionedHost;
  return new IstioIngress(`${app.name}-ingress`, {
    appName: app.name,
    port: settings.ingress.port,
    annotations: clb.annotations,
    provider: providers.dataPlane,
    address: clb.address,
  }).host;
}

const stack = loadStackConfig();
const { settings } = stack;

/** Address clients connect to (the CLB's). */
export const ingressHost = deployTcpShift(stack, createClusterProviders(stack));
/** TCP port of the ingress and the CLB listener. */
export const ingressPort = settings.ingress.port;
/** Percent of new connections per version. */
export const weights = splitWeights(settings.weightV2);
/** Where the shift runs: asm, istio or standalone. */
export const mode = settings.mode;
/** Non-default reply prefixes, so verify can tell the versions apart. */
const { prefixes } = settings.app;
const prefixFlags =
  prefixes.v1 === DEFAULT_PREFIXES.v1 && prefixes.v2 === DEFAULT_PREFIXES.v2
    ? ""
    : ` --prefix-v1 ${prefixes.v1} --prefix-v2 ${prefixes.v2}`;
/** Checks the split against the live address. */
export const verifyCommand = pulumi.interpolate`npm run verify -- --host ${ingressHost} --port ${ingressPort} -n 200 --expect-v2 ${settings.weightV2}${prefixFlags}`;
