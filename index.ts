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
import { GatewayImage } from "./infra/components/gatewayImage";
import { IstioIngress } from "./infra/components/istioIngress";
import { MeshRoutes } from "./infra/components/meshRoutes";
import { StandaloneGateway } from "./infra/components/standaloneGateway";
import type { BundledGatewaySettings, StackSettings } from "./infra/config/settings";
import { loadStackConfig, type StackSecrets } from "./infra/config/stackConfig";
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

/** Declare the app, its routes, the ingress and the CLB; returns the address clients use. */
function deployTcpShift(
  settings: StackSettings,
  secrets: StackSecrets,
  providers: ClusterProviders,
): pulumi.Output<string> {
  const { app } = settings;
  new EchoApp(app.name, {
    app,
    provider: providers.dataPlane,
    versionServices: settings.mode === "standalone",
  });
  const clb = new Clb(`${app.name}-clb`, { config: settings.clb });

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
      provider: providers.dataPlane,
      address: clb.address,
    }).host;
  }

  if (settings.routing.api !== "istio" || settings.splitter !== "mesh")
    throw new pulumi.RunError(
      "routingApi gateway-api and splitter gateway are not implemented yet in this build",
    );
  new MeshRoutes(`${app.name}-routes`, {
    config: {
      app,
      ingressPort: settings.ingress.port,
      weightV2: settings.weightV2,
      apiVersion: settings.routing.apiVersion,
    },
    provider: providers.mesh,
  });
  if (settings.mode === "asm") {
    return new AsmIngress(`${app.name}-ingress`, {
      config: { ingress: settings.ingress, clusterId: settings.clusterId },
      serviceAnnotations: clb.annotations,
      meshProvider: providers.mesh,
      dataPlaneProvider: providers.dataPlane,
      address: clb.address,
    }).host;
  }
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
export const ingressHost = deployTcpShift(settings, stack.secrets, createClusterProviders(stack));
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
