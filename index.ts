/**
 * tcp-shift: the ASM tutorial "TCP application traffic shifting" as a Pulumi program.
 * `pulumi config set weightV2 20 && pulumi up` sends 20% of new TCP connections to v2.
 * Wiring only: validated config in, components per mode, stack outputs out.
 */
import * as pulumi from "@pulumi/pulumi";
import { AsmIngress } from "./infra/components/asmIngress";
import { Clb } from "./infra/components/clb";
import { createClusterProviders } from "./infra/components/clusterProviders";
import { EchoApp } from "./infra/components/echoApp";
import { GatewayImage } from "./infra/components/gatewayImage";
import { IstioIngress } from "./infra/components/istioIngress";
import { MeshRoutes } from "./infra/components/meshRoutes";
import { StandaloneGateway } from "./infra/components/standaloneGateway";
import { loadStackConfig } from "./infra/config/stackConfig";
import { DEFAULT_PREFIXES } from "./infra/constants";
import { splitWeights } from "./infra/manifests/weights";

const stack = loadStackConfig();
const { config, secrets } = stack;
const providers = createClusterProviders(stack);

new EchoApp(config.appName, {
  config,
  provider: providers.dataPlane,
  podDisruptionBudget: config.podDisruptionBudget,
  versionServices: config.mode === "standalone",
});

const clb = new Clb(`${config.appName}-clb`, { config });

function ingressHostOf(): pulumi.Output<string> {
  switch (config.mode) {
    case "asm": {
      new MeshRoutes(`${config.appName}-routes`, { config, provider: providers.mesh });
      // missingClusterAccess guarantees clusterId in asm mode.
      const clusterId = config.clusterId ?? "";
      return new AsmIngress(`${config.appName}-ingress`, {
        config: { ...config, clusterId },
        serviceAnnotations: clb.annotations,
        meshProvider: providers.mesh,
        dataPlaneProvider: providers.dataPlane,
        address: clb.address,
      }).host;
    }
    case "istio": {
      new MeshRoutes(`${config.appName}-routes`, { config, provider: providers.mesh });
      return new IstioIngress(`${config.appName}-ingress`, {
        config,
        annotations: clb.annotations,
        provider: providers.dataPlane,
        address: clb.address,
      }).host;
    }
    case "standalone": {
      // The schema requires gatewayImage in standalone mode.
      const imageTag = config.gatewayImage ?? "";
      const image =
        config.gatewayBuild && config.registryUsername && secrets.registryPassword
          ? new GatewayImage(`${config.appName}-gateway-image`, {
              image: imageTag,
              username: config.registryUsername,
              password: secrets.registryPassword,
            }).ref
          : imageTag;
      return new StandaloneGateway(`${config.appName}-gateway`, {
        config,
        image,
        annotations: clb.annotations,
        provider: providers.dataPlane,
        address: clb.address,
      }).host;
    }
  }
}

/** Address clients connect to (the CLB's). */
export const ingressHost = ingressHostOf();
/** TCP port of the ingress and the CLB listener. */
export const ingressPort = config.ingressPort;
/** Percent of new connections per version. */
export const weights = splitWeights(config.weightV2);
/** Where the shift runs: asm, istio or standalone. */
export const mode = config.mode;
/** Non-default reply prefixes, so verify can tell the versions apart. */
const prefixFlags =
  config.prefixV1 === DEFAULT_PREFIXES.v1 && config.prefixV2 === DEFAULT_PREFIXES.v2
    ? ""
    : ` --prefix-v1 ${config.prefixV1} --prefix-v2 ${config.prefixV2}`;
/** Checks the split against the live address. */
export const verifyCommand = pulumi.interpolate`npm run verify -- --host ${ingressHost} --port ${ingressPort} -n 200 --expect-v2 ${config.weightV2}${prefixFlags}`;
