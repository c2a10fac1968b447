/**
 * The bundled gateway as plain data: its route ConfigMap, Deployment and Service, and, with two or
 * more pods, a PodDisruptionBudget and a topology spread. Standalone mode exposes it through a
 * LoadBalancer Service with the CLB annotations; as the mesh's splitter it sits behind a ClusterIP
 * Service that the mesh's route points at. The route file is the only thing built from
 * `weightV2`, so a weight change rewrites the ConfigMap alone: the pod template does not change,
 * no pod restarts, and the gateway reloads the file that Kubernetes swaps into the mounted
 * directory.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { RouteFileInput } from "../../contract/routeFile";
import type { AppSettings, BundledGatewaySettings } from "../config/settings";
import {
  APP_LABEL,
  CLB_ANNOTATIONS,
  GATEWAY_ADMIN_PORT,
  GATEWAY_ADMIN_PORT_NAME,
  GATEWAY_DRAIN_SECONDS,
  GATEWAY_LIVENESS_PATH,
  GATEWAY_PRE_STOP_SECONDS,
  GATEWAY_PROGRAM,
  GATEWAY_READINESS_PATH,
  GATEWAY_ROUTES_DIR,
  GATEWAY_ROUTES_FILE,
  HOSTNAME_TOPOLOGY_KEY,
  ISTIO_EXCLUDE_INBOUND_PORTS_ANNOTATION,
  ISTIO_PROXY_CONFIG_ANNOTATION,
  TCP_PORT_NAME,
  VERSIONS,
  type Version,
  ZONE_TOPOLOGY_KEY,
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
  tcpServicePort,
} from "./podSecurity";

/**
 * Where the bundled gateway sits: `standalone`, the ingress itself (a LoadBalancer Service and the
 * CLB in front of it); `splitter`, inside the mesh behind its ingress gateway (a ClusterIP
 * Service, a sidecar like any workload).
 */
export type GatewayRole = "standalone" | "splitter";

/** What the bundled gateway's objects are built from. */
export interface GatewayConfig {
  /** Standalone ingress or the mesh's splitter. */
  role: GatewayRole;
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

/** Seconds a gateway pod may take to stop: preStop, then the gateway's drain, plus a margin. */
export const GATEWAY_TERMINATION_GRACE_SECONDS =
  GATEWAY_PRE_STOP_SECONDS + GATEWAY_DRAIN_SECONDS + 5;

/**
 * Pod annotations of the splitter's pods, for their Istio sidecar: the gateway starts once the
 * sidecar is ready (its first connections to the versions go through it), and the sidecar keeps
 * draining as long as the gateway may (Istio's default is 5 s, which would cut the gateway's open
 * connections while it drains). With PROXY protocol, the data port bypasses the sidecar (see
 * `gatewayProxyProtocolRule`). Standalone pods get none: there is no mesh.
 */
export function gatewayPodAnnotations(config: GatewayConfig): Record<string, string> | undefined {
  if (config.role !== "splitter") return undefined;
  return {
    [ISTIO_PROXY_CONFIG_ANNOTATION]: JSON.stringify({
      holdApplicationUntilProxyStarts: true,
      terminationDrainDuration: `${GATEWAY_TERMINATION_GRACE_SECONDS}s`,
    }),
    ...(config.gateway.proxyProtocol
      ? { [ISTIO_EXCLUDE_INBOUND_PORTS_ANNOTATION]: String(config.port) }
      : {}),
  };
}

/**
 * With two or more pods, spread them over zones and nodes where the scheduler can
 * (`ScheduleAnyway`: a full zone never blocks a rollout).
 */
export function gatewayTopologySpread(config: Pick<GatewayConfig, "app" | "gateway">) {
  if (config.gateway.replicas < 2) return undefined;
  const labelSelector = { matchLabels: gatewayPodLabels(config.app.name) };
  return [ZONE_TOPOLOGY_KEY, HOSTNAME_TOPOLOGY_KEY].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector,
  })) satisfies k8s.types.input.core.v1.TopologySpreadConstraint[];
}

/**
 * Deployment `<app>-gateway`. The ConfigMap is mounted as a directory, never with `subPath`:
 * only a directory mount receives updates (Kubernetes swaps a symlink in it).
 */
export function gatewayDeployment<I = string>(config: GatewayConfig, image: I) {
  const names = objectNames(config.app.name);
  const labels = gatewayPodLabels(config.app.name);
  const annotations = gatewayPodAnnotations(config);
  const topologySpreadConstraints = gatewayTopologySpread(config);
  return {
    apiVersion: "apps/v1" as const,
    kind: "Deployment" as const,
    metadata: { name: names.gateway, namespace: config.app.namespace },
    spec: {
      replicas: config.gateway.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, ...(annotations ? { annotations } : {}) },
        spec: {
          automountServiceAccountToken: false,
          // The kubelet waits preStop (endpoints catch up, new connections still accepted) plus
          // the gateway's drain; the grace period covers both.
          terminationGracePeriodSeconds: GATEWAY_TERMINATION_GRACE_SECONDS,
          securityContext: restrictedPodSecurityContext(),
          ...(topologySpreadConstraints ? { topologySpreadConstraints } : {}),
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

/**
 * Annotations the standalone gateway adds to the CLB's: with `gatewayProxyProtocol`, the CLB's
 * listener sends a PROXY v2 header (`…-proxy-protocol: "on"`), which is what the gateway then
 * expects on every connection.
 */
export function gatewayClbAnnotations(
  config: Pick<GatewayConfig, "gateway">,
): Record<string, string> {
  return config.gateway.proxyProtocol ? { [CLB_ANNOTATIONS.proxyProtocol]: "on" } : {};
}

/**
 * standalone: LoadBalancer Service `<app>-gateway` on the gateway's port, with the CLB
 * annotations (the caller adds `gatewayClbAnnotations`). `gatewayBalance: sticky` sets
 * `externalTrafficPolicy: Local`: nodes then deliver to their own gateway pods without SNAT, so
 * the gateway sees the client's address (the CLB sends only to nodes with a gateway pod).
 */
export function gatewayService<A = Record<string, string>>(
  config: Pick<GatewayConfig, "app" | "port" | "gateway">,
  annotations: A,
) {
  const service = tcpLoadBalancerService({
    name: objectNames(config.app.name).gateway,
    namespace: config.app.namespace,
    annotations,
    selector: gatewayPodLabels(config.app.name),
    port: config.port,
    targetPort: TCP_PORT_NAME,
  });
  if (config.gateway.balance !== "sticky") return service;
  return { ...service, spec: { ...service.spec, externalTrafficPolicy: "Local" } };
}

/**
 * splitter: ClusterIP Service `<app>-gateway` on the gateway's port, the one destination of the
 * mesh's route.
 */
export function gatewaySplitterService(config: Pick<GatewayConfig, "app" | "port">) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: objectNames(config.app.name).gateway, namespace: config.app.namespace },
    spec: {
      type: "ClusterIP",
      selector: gatewayPodLabels(config.app.name),
      ports: [tcpServicePort(config.port, TCP_PORT_NAME)],
    },
  } satisfies k8s.types.input.core.v1.Service;
}

/** With two or more pods: at most one down at a time during voluntary disruptions (drains). */
export function gatewayDisruptionBudget(config: Pick<GatewayConfig, "app" | "gateway">) {
  if (config.gateway.replicas < 2) return undefined;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: objectNames(config.app.name).gateway, namespace: config.app.namespace },
    spec: { maxUnavailable: 1, selector: { matchLabels: gatewayPodLabels(config.app.name) } },
  } satisfies k8s.types.input.policy.v1.PodDisruptionBudget;
}

/** Registry host of an image reference: the first path segment when it names a host. */
export function registryOf(image: string): string {
  const first = image.split("/")[0] ?? "";
  const isHost = image.includes("/") && (first.includes(".") || first.includes(":"));
  return isHost ? first : "docker.io";
}
