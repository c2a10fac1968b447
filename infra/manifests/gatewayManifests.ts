/**
 * Standalone mode as plain data: the bundled gateway's route ConfigMap, its Deployment and its
 * LoadBalancer Service. The route file is the only thing built from `weightV2`, so a weight change
 * rewrites the ConfigMap alone: the pod template does not change, no pod restarts, and the gateway
 * reloads the file that Kubernetes swaps into the mounted directory.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { RouteFileInput } from "../../contract/routeFile";
import type { AppSettings, BundledGatewaySettings } from "../config/settings";
import {
  APP_LABEL,
  GATEWAY_ADMIN_PORT,
  GATEWAY_ADMIN_PORT_NAME,
  GATEWAY_DRAIN_SECONDS,
  GATEWAY_LIVENESS_PATH,
  GATEWAY_PRE_STOP_SECONDS,
  GATEWAY_PROGRAM,
  GATEWAY_READINESS_PATH,
  GATEWAY_ROUTES_DIR,
  GATEWAY_ROUTES_FILE,
  TCP_PORT_NAME,
  VERSIONS,
  type Version,
} from "../constants";
import { echoVersionEndpoint } from "./echoManifests";
import { buildGatewayRoutes } from "./gatewayRoutes";
import { tcpLoadBalancerService } from "./ingressManifests";
import { objectNames } from "./objectNames";
import {
  containerResources,
  httpProbes,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from "./podSecurity";

/** What the bundled gateway's objects are built from. */
export interface GatewayConfig {
  /** The app it routes to (name, namespace, port of the per-version Services). */
  app: Pick<AppSettings, "name" | "namespace" | "port">;
  /** Port the gateway accepts on (its Service and container port). */
  port: number;
  /** Percent of new connections to v2. */
  weightV2: number;
  /** Pods, resources, balance, PROXY protocol and drain. */
  gateway: BundledGatewaySettings;
}

/** Pod labels of the gateway: `{app: <app>-gateway}`. */
export function gatewayPodLabels(appName: string) {
  return { [APP_LABEL]: objectNames(appName).gateway };
}

/** The route file: listen on `port`, one route per version to its Service. */
export function gatewayRouteFile(config: GatewayConfig): RouteFileInput {
  const endpoints = Object.fromEntries(
    VERSIONS.map((version) => [version, [echoVersionEndpoint(config.app, version)]]),
  ) as Record<Version, string[]>;
  return buildGatewayRoutes({
    name: config.app.name,
    weightV2: config.weightV2,
    options: config.gateway,
    listen: `0.0.0.0:${config.port}`,
    endpoints,
  });
}

/** ConfigMap `<app>-routes` holding the route file (`routes.json`, indented for `kubectl get`). */
export function gatewayRoutesConfigMap(config: GatewayConfig) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: objectNames(config.app.name).gatewayRoutes, namespace: config.app.namespace },
    data: { [GATEWAY_ROUTES_FILE]: `${JSON.stringify(gatewayRouteFile(config), null, 2)}\n` },
  } satisfies k8s.types.input.core.v1.ConfigMap;
}

/**
 * Deployment `<app>-gateway`. The ConfigMap is mounted as a directory, never with `subPath`:
 * only a directory mount receives updates (Kubernetes swaps a symlink in it).
 */
export function gatewayDeployment<I = string>(config: GatewayConfig, image: I) {
  const names = objectNames(config.app.name);
  const labels = gatewayPodLabels(config.app.name);
  return {
    apiVersion: "apps/v1" as const,
    kind: "Deployment" as const,
    metadata: { name: names.gateway, namespace: config.app.namespace },
    spec: {
      replicas: config.gateway.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          // The kubelet waits preStop (endpoints catch up, new connections still accepted) plus
          // the gateway's drain; the grace period covers both.
          terminationGracePeriodSeconds: GATEWAY_PRE_STOP_SECONDS + GATEWAY_DRAIN_SECONDS + 5,
          securityContext: restrictedPodSecurityContext(),
          containers: [
            {
              name: names.gateway,
              image,
              imagePullPolicy: "IfNotPresent",
              // The image's entrypoint picks the program from the first argument.
              args: [
                GATEWAY_PROGRAM,
                "--config",
                `${GATEWAY_ROUTES_DIR}/${GATEWAY_ROUTES_FILE}`,
                "--admin",
                `0.0.0.0:${GATEWAY_ADMIN_PORT}`,
                "--drain-seconds",
                String(GATEWAY_DRAIN_SECONDS),
              ],
              // Keep accepting while the Service's endpoints drop this pod, then drain.
              lifecycle: {
                preStop: { exec: { command: ["sleep", String(GATEWAY_PRE_STOP_SECONDS)] } },
              },
              ports: [
                { name: TCP_PORT_NAME, containerPort: config.port, protocol: "TCP" },
                {
                  name: GATEWAY_ADMIN_PORT_NAME,
                  containerPort: GATEWAY_ADMIN_PORT,
                  protocol: "TCP",
                },
              ],
              resources: containerResources(config.gateway.resources),
              securityContext: restrictedContainerSecurityContext(),
              ...httpProbes(GATEWAY_ADMIN_PORT_NAME, GATEWAY_LIVENESS_PATH, GATEWAY_READINESS_PATH),
              volumeMounts: [
                { name: "routes", mountPath: GATEWAY_ROUTES_DIR, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "routes", configMap: { name: names.gatewayRoutes } },
            { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
          ],
        },
      },
    },
  };
}

/** LoadBalancer Service `<app>-gateway` on the gateway's port, with the CLB annotations. */
export function gatewayService<A = Record<string, string>>(
  config: Pick<GatewayConfig, "app" | "port">,
  annotations: A,
) {
  return tcpLoadBalancerService({
    name: objectNames(config.app.name).gateway,
    namespace: config.app.namespace,
    annotations,
    selector: gatewayPodLabels(config.app.name),
    port: config.port,
    targetPort: TCP_PORT_NAME,
  });
}

/** Registry host of an image reference: the first path segment when it names a host. */
export function registryOf(image: string): string {
  const first = image.split("/")[0] ?? "";
  const isHost = image.includes("/") && (first.includes(".") || first.includes(":"));
  return isHost ? first : "docker.io";
}
