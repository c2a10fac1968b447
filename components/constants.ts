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

/** The two versions traffic shifts between, in order. */
export const VERSIONS = ["v1", "v2"] as const;
export type Version = (typeof VERSIONS)[number];

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
/** ASM names the Deployment/Service `istio-<name>`; `ingressgateway` gives the usual labels. */
export const ASM_GATEWAY_NAME = "ingressgateway";

/** Istio networking API versions accepted for Gateway / VirtualService / DestinationRule. */
export const ISTIO_NETWORKING_API_VERSIONS = [
  "networking.istio.io/v1beta1",
  "networking.istio.io/v1",
  "networking.istio.io/v1alpha3",
] as const;
export type IstioNetworkingApiVersion = (typeof ISTIO_NETWORKING_API_VERSIONS)[number];

/** Annotation prefix the ACK cloud controller reads on LoadBalancer Services. */
export const CLB_ANNOTATION_PREFIX = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";
/** A CLB TCP listener idles connections out after this many seconds. */
export const CLB_TCP_IDLE_SECONDS = 900;

/** Admin (health, metrics) port of the bundled gateway in standalone mode. */
export const GATEWAY_ADMIN_PORT = 9901;
/** Where the standalone gateway reads its route file (a mounted ConfigMap). */
export const GATEWAY_ROUTES_DIR = "/etc/tcp-shift";
export const GATEWAY_ROUTES_FILE = "routes.yaml";
