/**
 * The tcp-echo app as plain Kubernetes objects: the tutorial's two Deployments and its Service,
 * hardened (restricted pod security, resources, probes), plus what standalone mode and
 * `podDisruptionBudget` add. Shared by the `EchoApp` component, render and the tests.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { AppSettings } from "../config/settings";
import { APP_LABEL, VERSION_LABEL, type Version } from "../constants";
import { objectNames } from "./objectNames";
import {
  containerResources,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  tcpProbes,
  tcpServicePort,
} from "./podSecurity";

/** The app's name, namespace and port: what Services and endpoints need. */
export type AppAddress = Pick<AppSettings, "name" | "namespace" | "port">;

/** Pod labels of one version, exactly the tutorial's: `{app, version}`. */
export function echoPodLabels(app: Pick<AppSettings, "name">, version: Version) {
  return { [APP_LABEL]: app.name, [VERSION_LABEL]: version };
}

/** Selector of the Service over both versions: `{app}` (the tutorial selects on `app` only). */
export function echoServiceSelector(app: Pick<AppSettings, "name">) {
  return { [APP_LABEL]: app.name };
}

/** The Deployment of one version: the tutorial's, plus restricted security, resources, probes. */
export function echoDeployment(app: AppSettings, version: Version) {
  const labels = echoPodLabels(app, version);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: objectNames(app.name).version(version), namespace: app.namespace },
    spec: {
      replicas: app.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext(),
          containers: [
            {
              name: app.name,
              image: app.images[version],
              imagePullPolicy: "IfNotPresent",
              args: [String(app.port), app.prefixes[version]],
              ports: [{ containerPort: app.port }],
              resources: containerResources(app.resources),
              securityContext: restrictedContainerSecurityContext(),
              ...tcpProbes(app.port),
            },
          ],
        },
      },
    },
  } satisfies k8s.types.input.apps.v1.Deployment;
}

/** The tutorial's Service `tcp-echo`: port `appPort` named `tcp`, selecting both versions. */
export function echoService(app: AppAddress) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: objectNames(app.name).service, namespace: app.namespace },
    spec: {
      type: "ClusterIP",
      selector: echoServiceSelector(app),
      ports: [tcpServicePort(app.port)],
    },
  } satisfies k8s.types.input.core.v1.Service;
}

/** A Service per version (`tcp-echo-v1`): the bundled gateway's endpoints. */
export function echoVersionService(app: AppAddress, version: Version) {
  const labels = echoPodLabels(app, version);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: objectNames(app.name).version(version),
      namespace: app.namespace,
      labels,
    },
    spec: {
      type: "ClusterIP",
      selector: labels,
      ports: [tcpServicePort(app.port)],
    },
  } satisfies k8s.types.input.core.v1.Service;
}

/** In-cluster address of one version's Service, `host:port`, for the gateway's route file. */
export function echoVersionEndpoint(app: AppAddress, version: Version): string {
  const name = objectNames(app.name).version(version);
  return `${name}.${app.namespace}.svc.cluster.local:${app.port}`;
}

/** A PodDisruptionBudget per version: at most one pod of it down during voluntary disruptions. */
export function echoDisruptionBudget(
  app: Pick<AppSettings, "name" | "namespace">,
  version: Version,
) {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: objectNames(app.name).version(version), namespace: app.namespace },
    spec: { maxUnavailable: 1, selector: { matchLabels: echoPodLabels(app, version) } },
  } satisfies k8s.types.input.policy.v1.PodDisruptionBudget;
}
