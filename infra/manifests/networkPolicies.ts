/**
 * NetworkPolicies as plain data: who may open connections to the app's pods and to the bundled
 * gateway. Only ingress is restricted; a CNI that does not enforce NetworkPolicy (Flannel) ignores
 * them. Traffic from the node a pod runs on (kubelet probes, including Istio's rewritten ones on
 * the sidecar's port) is always allowed by Kubernetes' rules, so probes need no rule here.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { AppSettings } from "../config/settings";
import { GATEWAY_ADMIN_PORT, ISTIO_METRICS_PORT, NAMESPACE_NAME_LABEL } from "../constants";
import { echoServiceSelector } from "./echoManifests";
import { type GatewayConfig, gatewayPodLabels } from "./gatewayManifests";
import type { MeshIngressPods } from "./meshManifests";
import { objectNames } from "./objectNames";

type NetworkPolicyPeer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** Who besides the app's own namespace reaches the pods. */
export interface NetworkPolicySources {
  /**
   * The mesh's ingress gateway pods (asm and istio modes): they open the connections to the app
   * (or to the splitter). Unset in standalone mode, where only the bundled gateway does.
   */
  meshIngress?: MeshIngressPods;
  /** A namespace that scrapes metrics (the gateway's admin port, Istio's sidecar port). */
  metricsNamespace?: string;
  /** The pods carry an Istio sidecar (asm and istio modes): admit scrapes of its metrics port. */
  sidecar: boolean;
}

/** Every pod of the policy's own namespace. */
const SAME_NAMESPACE: NetworkPolicyPeer = { podSelector: {} };

function namespacePeer(namespace: string): NetworkPolicyPeer {
  return { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } } };
}

function tcpPorts(...ports: number[]) {
  return ports.map((port) => ({ port, protocol: "TCP" }));
}

/** Pods of the own namespace and of `metricsNamespace`: who may scrape metrics. */
function metricsPeers(sources: NetworkPolicySources): NetworkPolicyPeer[] {
  return [
    SAME_NAMESPACE,
    ...(sources.metricsNamespace ? [namespacePeer(sources.metricsNamespace)] : []),
  ];
}

/**
 * The app's pods (both versions): the app port from the own namespace (the bundled gateway, the
 * gateway Istio deploys for a Gateway API `Gateway`, in-namespace clients) and from the mesh's
 * ingress gateway pods in istio-system (the tutorial's path); with a sidecar, its metrics port
 * from the own namespace and `metricsNamespace`.
 */
export function appNetworkPolicy(
  app: Pick<AppSettings, "name" | "namespace" | "port">,
  sources: NetworkPolicySources,
) {
  const ingress = sources.meshIngress;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: objectNames(app.name).appNetworkPolicy, namespace: app.namespace },
    spec: {
      podSelector: { matchLabels: echoServiceSelector(app) },
      policyTypes: ["Ingress"],
      ingress: [
        {
          ports: tcpPorts(app.port),
          from: [
            SAME_NAMESPACE,
            ...(ingress
              ? [
                  {
                    ...namespacePeer(ingress.namespace),
                    podSelector: { matchLabels: ingress.labels },
                  },
                ]
              : []),
          ],
        },
        ...(sources.sidecar
          ? [{ ports: tcpPorts(ISTIO_METRICS_PORT), from: metricsPeers(sources) }]
          : []),
      ],
    },
  } satisfies k8s.types.input.networking.v1.NetworkPolicy;
}

/**
 * The bundled gateway's pods: the data port from anywhere (the CLB's backends, or the mesh's
 * ingress gateway); the admin port (health, `/metrics`) and, with a sidecar, its metrics port only
 * from the own namespace and `metricsNamespace`.
 */
export function gatewayNetworkPolicy(
  config: Pick<GatewayConfig, "app" | "port">,
  sources: NetworkPolicySources,
) {
  const { app } = config;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: objectNames(app.name).gateway, namespace: app.namespace },
    spec: {
      podSelector: { matchLabels: gatewayPodLabels(app.name) },
      policyTypes: ["Ingress"],
      ingress: [
        { ports: tcpPorts(config.port) },
        {
          ports: tcpPorts(GATEWAY_ADMIN_PORT, ...(sources.sidecar ? [ISTIO_METRICS_PORT] : [])),
          from: metricsPeers(sources),
        },
      ],
    },
  } satisfies k8s.types.input.networking.v1.NetworkPolicy;
}
