/**
 * Names, labels, ports and annotation keys shared by the Pulumi components, the render script,
 * local mode and the tests. Nothing else spells these literals.
 */

/** Pulumi project name; config keys live under this namespace (`tcp-shift:weightV2`). */
export const PROJECT_NAME = "tcp-shift";

/** Default application name: Deployments `<app>-v1`/`<app>-v2`, Service `<app>`. */
export const DEFAULT_APP_NAME = "tcp-echo";
/** Port the tcp-echo containers listen on and the Service exposes (the tutorial's 9000). */
export const DEFAULT_APP_PORT = 9000;
/** TCP port of the Istio Gateway server, the ingress gateway and the CLB listener. */
export const INGRESS_TCP_PORT = 31400;
/** Name of the TCP port on Services and gateways (Istio uses the name to pick the protocol). */
export const TCP_PORT_NAME = "tcp";
/** The upstream tcp-echo image the ASM tutorial deploys. */
export const DEFAULT_ECHO_IMAGE = "docker.io/istio/tcp-echo-server:1.1";

export { DEFAULT_PREFIXES, VERSIONS, type Version } from "../contract/versions";

/** Pod label keys used by the tutorial (Service selects `app`, subsets select `version`). */
export const APP_LABEL = "app";
export const VERSION_LABEL = "version";

/** Istio objects the tutorial creates. */
export const ISTIO_GATEWAY_SUFFIX = "gateway";
export const DESTINATION_RULE_SUFFIX = "destination";
/** Selector of Istio's (and ASM's) default ingress gateway pods. */
export const INGRESS_GATEWAY_SELECTOR = { istio: "ingressgateway" } as const;
/** Namespace where ASM and Istio run ingress gateways. */
export const ISTIO_SYSTEM_NAMESPACE = "istio-system";

/** ASM's own ingress gateway resource (control-plane API server). */
export const ASM_GATEWAY_API_VERSION = "istio.alibabacloud.com/v1beta1";
export const ASM_GATEWAY_KIND = "IstioGateway";
/**
 * The app's own ASM ingress gateway is `IstioGateway <app>-ingressgateway`; ASM names its
 * Deployment and Service `istio-<that name>`. The mesh's shared `ingressgateway` is never declared.
 */
export const ASM_GATEWAY_SUFFIX = "ingressgateway";
/** Pod label of the app's own ASM gateway pods (through `podLabels`); its Istio Gateway selects it. */
export const ASM_INGRESS_POD_LABEL = "tcp-shift/ingress-gateway";

/** Istio networking API versions accepted for Gateway / VirtualService / DestinationRule. */
export const ISTIO_NETWORKING_API_VERSIONS = [
  "networking.istio.io/v1beta1",
  "networking.istio.io/v1",
  "networking.istio.io/v1alpha3",
] as const;
export type IstioNetworkingApiVersion = (typeof ISTIO_NETWORKING_API_VERSIONS)[number];

/** Gateway API versions that serve TCPRoute: experimental v1alpha2, or v1 where promoted. */
export const TCP_ROUTE_API_VERSIONS = [
  "gateway.networking.k8s.io/v1alpha2",
  "gateway.networking.k8s.io/v1",
] as const;
export type TcpRouteApiVersion = (typeof TCP_ROUTE_API_VERSIONS)[number];
/** API version of the Gateway API `Gateway` (standard channel, Gateway API v1.0 and later). */
export const GATEWAY_API_GATEWAY_VERSION = "gateway.networking.k8s.io/v1";
/** Cluster DNS suffix of in-cluster Service host names. */
export const CLUSTER_DOMAIN = "svc.cluster.local";

/**
 * Istio's merged Prometheus port on a sidecar-injected pod (`prometheus.io/port` of the
 * injector): NetworkPolicies let `metricsNamespace` scrape it.
 */
export const ISTIO_METRICS_PORT = 15020;
/** Pod annotation: ports whose inbound traffic bypasses the Istio sidecar. */
export const ISTIO_EXCLUDE_INBOUND_PORTS_ANNOTATION =
  "traffic.sidecar.istio.io/excludeInboundPorts";
/** Pod annotation: the sidecar's proxy settings, as JSON. */
export const ISTIO_PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config";
/** Label every namespace carries (Kubernetes 1.21+), for NetworkPolicy namespace selectors. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
/** Topology keys the bundled gateway spreads its pods over. */
export const ZONE_TOPOLOGY_KEY = "topology.kubernetes.io/zone";
export const HOSTNAME_TOPOLOGY_KEY = "kubernetes.io/hostname";

/**
 * Annotation that makes the Kubernetes provider force its server-side apply: the stack's fields
 * win over another field manager's (an edit in the ASM console, kubectl edit) instead of failing
 * the update with a conflict.
 */
export const PULUMI_PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/** Annotation prefix the ACK cloud controller reads on LoadBalancer Services. */
export const CLB_ANNOTATION_PREFIX = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";
/** A CLB TCP listener idles connections out after this many seconds. */
export const CLB_TCP_IDLE_SECONDS = 900;

/** Admin (health, metrics) port of the bundled gateway in standalone mode. */
export const GATEWAY_ADMIN_PORT = 9901;
/** Where the standalone gateway reads its route file (a mounted ConfigMap). */
export const GATEWAY_ROUTES_DIR = "/etc/tcp-shift";
/**
 * The route file's name in the ConfigMap. JSON: the gateway reads it with `JSON.parse` and never
 * loads its YAML parser (about 1.5 MB less RSS per gateway pod, contract/routeFile.ts).
 */
export const GATEWAY_ROUTES_FILE = "routes.json";
/** First argument that makes the image's entrypoint run the gateway (see dataplane/docker-entrypoint.sh). */
export const GATEWAY_PROGRAM = "gateway";
/** Seconds the standalone gateway lets open connections finish after SIGTERM. */
export const GATEWAY_DRAIN_SECONDS = 25;
/** Seconds a terminating gateway pod keeps accepting while endpoints are updated. */
export const GATEWAY_PRE_STOP_SECONDS = 5;

/** Annotation keys on a LoadBalancer Service that the ACK cloud controller turns into a CLB. */
export const CLB_ANNOTATIONS = {
  /** Reuse this CLB instead of creating one. */
  id: `${CLB_ANNOTATION_PREFIX}id`,
  /** Let the controller create or overwrite listeners on a reused CLB. */
  forceOverrideListeners: `${CLB_ANNOTATION_PREFIX}force-override-listeners`,
  addressType: `${CLB_ANNOTATION_PREFIX}address-type`,
  chargeType: `${CLB_ANNOTATION_PREFIX}charge-type`,
  instanceChargeType: `${CLB_ANNOTATION_PREFIX}instance-charge-type`,
  spec: `${CLB_ANNOTATION_PREFIX}spec`,
  bandwidth: `${CLB_ANNOTATION_PREFIX}bandwidth`,
  vswitchId: `${CLB_ANNOTATION_PREFIX}vswitch-id`,
  aclStatus: `${CLB_ANNOTATION_PREFIX}acl-status`,
  aclId: `${CLB_ANNOTATION_PREFIX}acl-id`,
  aclType: `${CLB_ANNOTATION_PREFIX}acl-type`,
  /** "on": the listener sends a PROXY protocol v2 header to the backends. */
  proxyProtocol: `${CLB_ANNOTATION_PREFIX}proxy-protocol`,
} as const;

/** Numeric non-root user and group of every pod this project runs ("restricted" PSS). */
export const NON_ROOT_UID = 65532; // also the USER of dataplane/Dockerfile

/** Kubernetes provider of the ACK data-plane cluster (the only cluster in istio/standalone mode). */
export const DATA_PLANE_PROVIDER_NAME = "data-plane";
/** Kubernetes provider of the ASM control plane (asm mode only). */
export const MESH_PROVIDER_NAME = "mesh";

/** Name of the admin port on the standalone gateway container. */
export const GATEWAY_ADMIN_PORT_NAME = "admin";
/** Admin endpoints the standalone gateway's probes use. */
export const GATEWAY_LIVENESS_PATH = "/healthz";
export const GATEWAY_READINESS_PATH = "/readyz";
/** Where the gateway Dockerfile lives, relative to the build context (the repository root). */
export const GATEWAY_DOCKERFILE = "dataplane/Dockerfile";
