/**
 * The tcp-shift configuration: defined once, parsed by the pure `parseConfig(raw)`.
 *
 * `raw` maps key names without the `tcp-shift:` namespace to what a stack file or the Pulumi CLI
 * holds: strings (the CLI stores every value as a string), or YAML values from a stack file read
 * directly. Lists may come as JSON strings (`'["10.0.0.0/8"]'`) or YAML lists.
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UserError } from "../../contract/userError";
import {
  DEFAULT_APP_NAME,
  DEFAULT_APP_PORT,
  DEFAULT_ECHO_IMAGE,
  DEFAULT_PREFIXES,
  INGRESS_TCP_PORT,
  ISTIO_NETWORKING_API_VERSIONS,
  PROJECT_NAME,
  TCP_ROUTE_API_VERSIONS,
} from "../constants";

/** Error code for invalid configuration. */
export const CONFIG_ERROR_CODE = "E_CONFIG";

const MODES = ["asm", "istio", "standalone"] as const;
const CLB_SOURCES = ["create", "reuse", "controller"] as const;
const GATEWAY_BALANCES = ["smooth", "random", "sticky"] as const;
const SPLITTERS = ["mesh", "gateway"] as const;
const ROUTING_APIS = ["istio", "gateway-api"] as const;

/** Integers arrive as strings from the CLI; accept only whole decimal numbers. */
function toInteger(value: unknown): unknown {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return value;
}

function toBoolean(value: unknown): unknown {
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

function toList(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (text === "") return [];
  if (text.startsWith("[")) {
    try {
      return JSON.parse(text);
    } catch {
      return value;
    }
  }
  return text.split(",").map((item) => item.trim());
}

function integerRange(min: number, max: number) {
  const allowed = `must be an integer from ${min} to ${max}`;
  return z.preprocess(
    toInteger,
    z.number({ error: allowed }).int(allowed).min(min, allowed).max(max, allowed),
  );
}

function integer(min: number, max: number, fallback: number) {
  return integerRange(min, max).default(fallback);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) {
  return z
    .enum(values, { error: `must be one of ${values.join(", ")}` })
    .default(fallback as never);
}

function boolean(fallback: boolean) {
  return z.preprocess(toBoolean, z.boolean({ error: "must be true or false" })).default(fallback);
}

/**
 * An optional key. `Pulumi.yaml` declares it with `default: ""` (the CLI treats a declared key
 * without a default as required), so the empty string means "not set".
 */
function unset<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
}

/** True for kubeconfig text (YAML with a `clusters` list), false for e.g. a file path. */
export function isKubeconfigDocument(text: string): boolean {
  try {
    const document = parseYaml(text) as { clusters?: unknown } | null;
    return typeof document === "object" && document !== null && Array.isArray(document.clusters);
  } catch {
    return false;
  }
}

const KUBECONFIG_ALLOWED =
  "must be the text of a kubeconfig (YAML with clusters:), not a path; set it with: pulumi config set --secret <key> < kubeconfig.yaml";

function kubeconfigDocument() {
  return z.string({ error: KUBECONFIG_ALLOWED }).refine(isKubeconfigDocument, KUBECONFIG_ALLOWED);
}

function matching(pattern: RegExp, allowed: string) {
  const message = `must be ${allowed}`;
  return z.string({ error: message }).regex(pattern, message);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_LABEL_ALLOWED = "a DNS-1123 label (lowercase letters, digits and '-', at most 63)";
const HOST_COMPONENT = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
/** A first segment names a registry when it has a dot or a port, or is localhost (as Docker reads it). */
const IMAGE_HOST = String.raw`(?:(?:(?:localhost|${HOST_COMPONENT}(?:\.${HOST_COMPONENT})+)(?::[0-9]+)?|${HOST_COMPONENT}:[0-9]+)/)`;
const IMAGE_PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const IMAGE_DIGEST = "sha256:[a-f0-9]{64}";
/**
 * A container image reference as the distribution grammar defines it: an optional registry host
 * (with a port), lowercase path components, then a tag, a digest (`@sha256:` and 64 hex digits),
 * or both (`repo:tag@sha256:...`, where the digest is what is pulled).
 */
const IMAGE_REF = new RegExp(
  `^${IMAGE_HOST}?${IMAGE_PATH_COMPONENT}(?:/${IMAGE_PATH_COMPONENT})*(?::${IMAGE_TAG})?(?:@${IMAGE_DIGEST})?$`,
);
const IMAGE_ALLOWED =
  "a container image reference such as docker.io/istio/tcp-echo-server:1.1, repo@sha256:<64 hex digits> or repo:tag@sha256:<64 hex digits>";
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;
const QUANTITY_ALLOWED = "a Kubernetes quantity such as 100m, 0.5, 64Mi or 1Gi";
const PREFIX = /^[^\s]{1,64}$/;
const PREFIX_ALLOWED = "1 to 64 characters without spaces or newlines";
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_SUBDOMAIN_ALLOWED = "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')";
const DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;
const DURATION_ALLOWED = "a duration such as 30s, 10m, 1h or 1h30m (empty: never)";
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;

/**
 * Every `tcp-shift:` key. TSDoc per field is the reference; `Pulumi.yaml` repeats it for the CLI.
 */
const configShape = {
  /** Where the shift runs: ASM (managed Istio), plain Istio, or the bundled gateway. @default "asm" */
  mode: oneOf(MODES, "asm"),
  /** Percent of new TCP connections sent to v2; v1 gets the rest. @default 0 */
  weightV2: integer(0, 100, 0),
  /** Namespace of the app and its Istio routes. @default "default" */
  namespace: matching(DNS_LABEL, DNS_LABEL_ALLOWED).default("default"),
  /** App name: Deployments `<appName>-v1/-v2`, Service `<appName>`. @default "tcp-echo" */
  appName: matching(DNS_LABEL, DNS_LABEL_ALLOWED).default(DEFAULT_APP_NAME),
  /** Port the app listens on and its Service exposes. @default 9000 */
  appPort: integer(1, 65535, DEFAULT_APP_PORT),
  /** TCP port of the ingress gateway and the CLB listener. @default 31400 */
  ingressPort: integer(1, 65535, INGRESS_TCP_PORT),
  /** Image of version v1. @default "docker.io/istio/tcp-echo-server:1.1" */
  imageV1: matching(IMAGE_REF, IMAGE_ALLOWED).default(DEFAULT_ECHO_IMAGE),
  /** Image of version v2. @default "docker.io/istio/tcp-echo-server:1.1" */
  imageV2: matching(IMAGE_REF, IMAGE_ALLOWED).default(DEFAULT_ECHO_IMAGE),
  /** Reply prefix of v1 (tcp-echo's second argument). @default "one" */
  prefixV1: matching(PREFIX, PREFIX_ALLOWED).default(DEFAULT_PREFIXES.v1),
  /** Reply prefix of v2. @default "two" */
  prefixV2: matching(PREFIX, PREFIX_ALLOWED).default(DEFAULT_PREFIXES.v2),
  /** Pods per version. @default 1 */
  replicas: integer(1, 50, 1),
  /** Add a PodDisruptionBudget (maxUnavailable 1) per version; needs replicas >= 2. @default false */
  podDisruptionBudget: boolean(false),
  /** CPU request per app container. @default "10m" */
  cpuRequest: matching(QUANTITY, QUANTITY_ALLOWED).default("10m"),
  /** Memory request per app container. @default "16Mi" */
  memoryRequest: matching(QUANTITY, QUANTITY_ALLOWED).default("16Mi"),
  /** CPU limit per app container. @default "200m" */
  cpuLimit: matching(QUANTITY, QUANTITY_ALLOWED).default("200m"),
  /** Memory limit per app container. @default "64Mi" */
  memoryLimit: matching(QUANTITY, QUANTITY_ALLOWED).default("64Mi"),
  /** API version of Gateway, VirtualService and DestinationRule. @default "networking.istio.io/v1beta1" */
  istioApiVersion: oneOf(ISTIO_NETWORKING_API_VERSIONS, "networking.istio.io/v1beta1"),
  /**
   * Which objects route the ingress port (asm and istio modes): Istio's Gateway, VirtualService
   * and DestinationRule, or the Kubernetes Gateway API's Gateway and TCPRoute. @default "istio"
   */
  routingApi: oneOf(ROUTING_APIS, "istio"),
  /** Gateway class of the Gateway API `Gateway` (routingApi gateway-api). @default "istio" */
  gatewayClassName: matching(DNS_SUBDOMAIN, DNS_SUBDOMAIN_ALLOWED).default("istio"),
  /** API version of the TCPRoute (routingApi gateway-api). @default "gateway.networking.k8s.io/v1alpha2" */
  tcpRouteApiVersion: oneOf(TCP_ROUTE_API_VERSIONS, "gateway.networking.k8s.io/v1alpha2"),
  /**
   * Who applies the weights (asm and istio modes): `mesh`, the ingress Envoy's route (a weight
   * change rewrites its listener, which cuts open TCP connections), or `gateway`, the bundled
   * gateway behind one fixed mesh route (a weight change is one ConfigMap update; no connection
   * is cut). @default "mesh"
   */
  splitter: oneOf(SPLITTERS, "mesh"),
  /** Ingress gateway pods (ASM IstioGateway replicaCount, or the bundled gateway). @default 1 */
  gatewayReplicas: integer(1, 50, 1),
  /**
   * Where the CLB comes from: `create` (this stack creates it), `reuse` (an existing CLB given by
   * `clbId`), `controller` (the cluster's cloud controller creates one from annotations).
   * @default "create"
   */
  clb: oneOf(CLB_SOURCES, "create"),
  /** Id of an existing CLB to reuse (`lb-...`); only with `clb: reuse`. */
  clbId: unset(matching(/^lb-[a-z0-9]+$/, "a CLB id such as lb-2zeabc123")),
  /** CLB address type. @default "internet" */
  clbAddressType: oneOf(["internet", "intranet"] as const, "internet"),
  /** VSwitch of an intranet CLB that this stack creates (`vsw-...`). */
  clbVswitchId: unset(matching(/^vsw-[a-z0-9]+$/, "a vSwitch id such as vsw-2zeabc123")),
  /** CLB billing: pay by capacity units or by a fixed spec. @default "PayByCLCU" */
  clbInstanceChargeType: oneOf(["PayByCLCU", "PayBySpec"] as const, "PayByCLCU"),
  /** CLB spec, only with `clbInstanceChargeType: PayBySpec` (e.g. slb.s1.small). */
  clbSpec: unset(matching(/^slb\.s[0-9]\.[a-z0-9]+$/, "a CLB spec such as slb.s1.small")),
  /** Internet traffic billing. @default "paybytraffic" */
  clbInternetChargeType: oneOf(["paybytraffic", "paybybandwidth"] as const, "paybytraffic"),
  /** Peak bandwidth in Mbit/s; only with `clbInternetChargeType: paybybandwidth`. */
  clbBandwidth: unset(integerRange(1, 5120)),
  /** Protect the CLB from deletion. @default false */
  clbDeleteProtection: boolean(false),
  /**
   * Source CIDRs allowed to reach the ingress port (CLB access-control whitelist); needs `clb`
   * create or reuse. @default []
   */
  allowedCidrs: z
    .preprocess(
      toList,
      z.array(matching(IPV4_CIDR, "IPv4 CIDRs such as 203.0.113.0/24"), {
        error: 'must be a list of IPv4 CIDRs such as ["203.0.113.0/24"]',
      }),
    )
    .default([]),
  /** ACK cluster id (data plane); also the cluster ASM deploys the ingress gateway to. */
  clusterId: unset(matching(/^c[a-z0-9]{10,}$/, "an ACK cluster id such as c1234567890abcdef")),
  /** Kubeconfig of the ACK data-plane cluster (secret); default: from `clusterId`. */
  kubeconfig: unset(kubeconfigDocument()),
  /** ASM instance id; its control-plane kubeconfig is read through the Alibaba Cloud API. */
  meshId: unset(matching(/^c[a-z0-9]{10,}$/, "an ASM instance id such as c0123456789abcdef")),
  /** Kubeconfig of the ASM control plane (secret); default: from `meshId`. */
  meshKubeconfig: unset(kubeconfigDocument()),
  /** Image of the bundled gateway (standalone mode or splitter gateway). */
  gatewayImage: unset(matching(IMAGE_REF, IMAGE_ALLOWED)),
  /**
   * Build `dataplane/` and push it to `gatewayImage` during `pulumi up` (standalone mode or
   * splitter gateway). @default false
   */
  gatewayBuild: boolean(false),
  /** Registry user for `gatewayBuild`. */
  registryUsername: unset(
    z.string({ error: "must be a non-empty string" }).min(1, "must be a non-empty string"),
  ),
  /** Registry password for `gatewayBuild` (secret). */
  registryPassword: unset(
    z.string({ error: "must be a non-empty string" }).min(1, "must be a non-empty string"),
  ),
  /**
   * How the bundled gateway picks a version per connection: `smooth` (exact shares), `random`,
   * or `sticky` (by client address: a client keeps its version, a weight change moves clients one
   * way only). @default "smooth"
   */
  gatewayBalance: oneOf(GATEWAY_BALANCES, "smooth"),
  /**
   * The bundled gateway expects a PROXY protocol header (v1 or v2) on every connection, e.g. from
   * a CLB or Envoy that sends one, and takes the client address from it. @default false
   */
  gatewayProxyProtocol: boolean(false),
  /**
   * Once a version's weight has been 0 this long, the bundled gateway closes its open
   * connections (oldest first, at most `drainRate` per second) so clients reconnect to the
   * versions with weight. Empty: never.
   */
  drainAfter: unset(
    matching(DURATION, DURATION_ALLOWED).refine((text) => text !== "", DURATION_ALLOWED),
  ),
  /** Connections per second a drain closes at most (jittered). @default 10 */
  drainRate: integer(1, 10_000, 10),
  /**
   * Namespace allowed to reach the metrics ports (the bundled gateway's admin port, Istio
   * sidecars' 15020) besides the app's own, e.g. where Prometheus runs; the NetworkPolicies admit
   * only these.
   */
  metricsNamespace: unset(matching(DNS_LABEL, DNS_LABEL_ALLOWED)),
  /** CPU request per ingress gateway pod (ASM IstioGateway or the bundled gateway). @default "100m" */
  gatewayCpuRequest: matching(QUANTITY, QUANTITY_ALLOWED).default("100m"),
  /** Memory request per ingress gateway pod. @default "128Mi" */
  gatewayMemoryRequest: matching(QUANTITY, QUANTITY_ALLOWED).default("128Mi"),
  /** CPU limit per ingress gateway pod. @default "1" */
  gatewayCpuLimit: matching(QUANTITY, QUANTITY_ALLOWED).default("1"),
  /** Memory limit per ingress gateway pod. @default "512Mi" */
  gatewayMemoryLimit: matching(QUANTITY, QUANTITY_ALLOWED).default("512Mi"),
};

/** The schema: the keys above plus the rules that tie keys together. */
export const configSchema = z
  .object(configShape)
  .strict()
  .superRefine((config, ctx) => {
    const problem = (key: string, message: string) =>
      ctx.addIssue({ code: "custom", path: [key], message });
    if (config.clb === "reuse" && !config.clbId) problem("clbId", "is required when clb is reuse");
    if (config.clb !== "reuse" && config.clbId)
      problem("clbId", "is only allowed when clb is reuse");
    if (config.clb === "create" && config.clbAddressType === "intranet" && !config.clbVswitchId)
      problem("clbVswitchId", "is required for an intranet CLB that this stack creates");
    if (config.clbSpec && config.clbInstanceChargeType !== "PayBySpec")
      problem("clbSpec", "is only allowed when clbInstanceChargeType is PayBySpec");
    if (config.clbBandwidth !== undefined && config.clbInternetChargeType !== "paybybandwidth")
      problem("clbBandwidth", "is only allowed when clbInternetChargeType is paybybandwidth");
    if (config.allowedCidrs.length > 0 && config.clb === "controller")
      problem("allowedCidrs", "needs clb create or reuse (this stack creates the CLB access list)");
    if (config.podDisruptionBudget && config.replicas < 2)
      problem("podDisruptionBudget", "needs replicas of 2 or more (1 replica would block drains)");
    if (config.ingressPort === config.appPort && config.mode === "standalone")
      problem("ingressPort", "must differ from appPort in standalone mode");
    const bundledGateway = config.mode === "standalone" || config.splitter === "gateway";
    if (bundledGateway && !config.gatewayImage)
      problem(
        "gatewayImage",
        `is required ${config.mode === "standalone" ? "in standalone mode" : "with splitter gateway"} (the image built from dataplane/)`,
      );
    if (config.gatewayBuild && !bundledGateway)
      problem(
        "gatewayBuild",
        "is only allowed with the bundled gateway (standalone mode or splitter gateway)",
      );
    const bundledOnly =
      "is only allowed with the bundled gateway (standalone mode or splitter gateway)";
    if (!bundledGateway && config.gatewayBalance !== "smooth")
      problem("gatewayBalance", bundledOnly);
    if (!bundledGateway && config.gatewayProxyProtocol)
      problem("gatewayProxyProtocol", bundledOnly);
    if (!bundledGateway && config.drainAfter !== undefined) problem("drainAfter", bundledOnly);
    if (
      config.mode !== "standalone" &&
      config.splitter === "gateway" &&
      config.gatewayBalance === "sticky" &&
      !config.gatewayProxyProtocol
    )
      problem(
        "gatewayBalance",
        "sticky with splitter gateway needs gatewayProxyProtocol: true (behind the mesh's ingress gateway, the bundled gateway sees only the ingress gateway's address, not the client's)",
      );
    if (config.mode === "standalone" && config.splitter === "gateway")
      problem(
        "splitter",
        "is only allowed in asm and istio modes (standalone mode always splits in the bundled gateway)",
      );
    if (config.mode === "standalone" && config.routingApi !== "istio")
      problem(
        "routingApi",
        "is only allowed in asm and istio modes (standalone mode has no mesh routes)",
      );
    if (config.gatewayBuild && !(config.registryUsername && config.registryPassword))
      problem("registryPassword", "is required with gatewayBuild, as is registryUsername");
    if (config.prefixV1 === config.prefixV2)
      problem("prefixV2", "must differ from prefixV1 (replies tell the versions apart)");
  });

/** Validated configuration, with defaults filled in. */
export type TcpShiftConfig = z.infer<typeof configSchema>;

/** Keys that hold credentials: always Pulumi secrets, never printed. */
export const SECRET_KEYS = ["kubeconfig", "meshKubeconfig", "registryPassword"] as const;

/** Every config key, in schema order. */
export const CONFIG_KEYS = Object.keys(configShape) as (keyof TcpShiftConfig)[];

/** Edit distance of two short strings (keys), case-insensitive. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[y.length] ?? 0;
}

/** The config key `key` most likely means: the nearest one or two edits away, if any. */
export function closestConfigKey(key: string): keyof TcpShiftConfig | undefined {
  const [best] = CONFIG_KEYS.map((known) => ({ known, distance: editDistance(key, known) }))
    .filter((candidate) => candidate.distance <= 2)
    .sort((a, b) => a.distance - b.distance);
  return best?.known;
}

/** `; did you mean tcp-shift:weightV2?` for a key one or two edits from a known one. */
function suggestKey(key: string): string {
  const known = closestConfigKey(key);
  return known ? `; did you mean ${PROJECT_NAME}:${known}?` : "";
}

function showValue(key: string, value: unknown, secretKeys: readonly string[]): string {
  if (value === undefined) return "(unset)";
  if ((SECRET_KEYS as readonly string[]).includes(key) || secretKeys.includes(key))
    return "[secret]";
  return JSON.stringify(value);
}

/**
 * Validate raw config. Throws one `UserError` (code `E_CONFIG`) whose message lists every bad
 * key, the value given and what is allowed; `source` names the file or stack in that message.
 * Values of `SECRET_KEYS` and of `secretKeys` (e.g. a mistyped key set with `--secret`) are
 * never shown.
 */
export function parseConfig(
  raw: Record<string, unknown>,
  source = "stack config",
  secretKeys: readonly string[] = [],
): TcpShiftConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = new Set<string>();
  for (const issue of result.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        lines.add(
          `${PROJECT_NAME}:${key} = ${showValue(key, raw[key], secretKeys)}: unknown key; known keys are ${CONFIG_KEYS.join(", ")}${suggestKey(key)}`,
        );
      }
      continue;
    }
    const key = String(issue.path[0] ?? "");
    lines.add(`${PROJECT_NAME}:${key} = ${showValue(key, raw[key], secretKeys)}: ${issue.message}`);
  }
  throw new UserError(
    CONFIG_ERROR_CODE,
    `Invalid ${PROJECT_NAME} configuration in ${source}:\n${[...lines].map((l) => `  - ${l}`).join("\n")}`,
  );
}

/** Strip the `tcp-shift:` namespace from config keys; other namespaces are dropped. */
export function projectKeys(all: Record<string, unknown>): Record<string, unknown> {
  const prefix = `${PROJECT_NAME}:`;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(prefix)) out[key.slice(prefix.length)] = value;
  }
  return out;
}
