/**
 * The tcp-echo app as plain Kubernetes objects: the tutorial's two Deployments and its Service,
 * hardened (restricted pod security, resources, probes), plus what standalone mode and
 * `podDisruptionBudget` add. Shared by the `EchoApp` component, render and the tests.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { TcpShiftConfig } from "../config/config";
import { APP_LABEL, VERSION_LABEL, type Version } from "../constants";
import { objectNames } from "./objectNames";
import {
  containerResources,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  tcpProbes,
  tcpServicePort,
} from "./podSecurity";

/** The config keys the echo app reads. */
export type EchoConfig = Pick<
  TcpShiftConfig,
  | "namespace"
  | "appName"
  | "appPort"
  | "imageV1"
  | "imageV2"
  | "prefixV1"
  | "prefixV2"
  | "replicas"
  | "cpuRequest"
  | "memoryRequest"
  | "cpuLimit"
  | "memoryLimit"
>;

/** Pod labels of one version, exactly the tutorial's: `{app, version}`. */
export function echoPodLabels(config: Pick<TcpShiftConfig, "appName">, version: Version) {
  return { [APP_LABEL]: config.appName, [VERSION_LABEL]: version };
}

/** Selector of the Service over both versions: `{app}` (the tutorial selects on `app` only). */
export function echoServiceSelector(config: Pick<TcpShiftConfig, "appName">) {
  return { [APP_LABEL]: config.appName };
}

/** The Deployment of one version: the tutorial's, plus restricted security, resources, probes. */
export function echoDeployment(config: EchoConfig, version: Version) {
  const labels = echoPodLabels(config, version);
  const image = version === "v1" ? config.imageV1 : config.imageV2;
  const prefix = version === "v1" ? config.prefixV1 : config.prefixV2;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: objectNames(config.appName).version(version), namespace: config.namespace },
    spec: {
      replicas: config.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext(),
          containers: [
            {
              name: config.appName,
              image,
              imagePullPolicy: "IfNotPresent",
              args: [String(config.appPort), prefix],
              ports: [{ containerPort: config.appPort }],
              resources: containerResources(config),
              securityContext: restrictedContainerSecurityContext(),
              ...tcpProbes(config.appPort),
            },
          ],
        },
      },
    },
  } satisfies k8s.types.input.apps.v1.Deployment;
}

/** The tutorial's Service `tcp-echo`: port `appPort` named `tcp`, selecting both versions. */
export function echoService(config: Pick<EchoConfig, "namespace" | "appName" | "appPort">) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: objectNames(config.appName).service, namespace: config.namespace },
    spec: {
      type: "ClusterIP",
      selector: echoServiceSelector(config),
      ports: [tcpServicePort(config.appPort)],
    },
  } satisfies k8s.types.input.core.v1.Service;
}

/** Standalone mode: a Service per version (`tcp-echo-v1`), the bundled gateway's endpoints. */
export function echoVersionService(
  config: Pick<EchoConfig, "namespace" | "appName" | "appPort">,
  version: Version,
) {
  const labels = echoPodLabels(config, version);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: objectNames(config.appName).version(version),
      namespace: config.namespace,
      labels,
    },
    spec: {
      type: "ClusterIP",
      selector: labels,
      ports: [tcpServicePort(config.appPort)],
    },
  } satisfies k8s.types.input.core.v1.Service;
}

/** In-cluster address of one version's Service, `host:port`, for the gateway's route file. */
export function echoVersionEndpoint(
  config: Pick<EchoConfig, "namespace" | "appName" | "appPort">,
  version: Version,
): string {
  const name = objectNames(config.appName).version(version);
  return `${name}.${config.namespace}.svc.cluster.local:${config.appPort}`;
}

/** A PodDisruptionBudget per version: at most one pod of it down during voluntary disruptions. */
export function echoDisruptionBudget(
  config: Pick<EchoConfig, "namespace" | "appName">,
  version: Version,
) {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: objectNames(config.appName).version(version), namespace: config.namespace },
    spec: { maxUnavailable: 1, selector: { matchLabels: echoPodLabels(config, version) } },
  } satisfies k8s.types.input.policy.v1.PodDisruptionBudget;
}
