/**
 * The only place that reads `new pulumi.Config()`, and the per-user cluster access of the
 * environment (`clusterAccess.ts`): every `tcp-shift:` key, validated by `parseConfig`, with the
 * access the environment adds; then the cluster-access check; then shaped by mode
 * (`toStackSettings`). Kubeconfigs are read here, reduced to their active context with files
 * inlined (`infra/cluster/kubeconfig.ts`), and handed on as secrets. Every failure is a
 * `pulumi.RunError` (message only, no stack trace) before the program registers any resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { UserError } from "../../contract/userError";
import {
  ambientKubeconfigFiles,
  KUBECONFIG_ERROR_CODE,
  type KubeconfigSource,
  kubeconfigFile,
  type ResolvedKubeconfig,
  resolveKubeconfig,
} from "../cluster/kubeconfig";
import { programHost } from "../cluster/programHost";
import { DEFAULT_SERVICE_WAIT_SECONDS } from "../cluster/serviceAddress";
import { DATA_PLANE_PROVIDER_NAME, MESH_PROVIDER_NAME, PROJECT_NAME } from "../constants";
import { asmIngressGatewayName } from "../manifests/ingressManifests";
import {
  ACCESS_ENV,
  describeMissingAccess,
  missingClusterAccess,
  SERVICE_WAIT_ENV,
} from "./clusterAccess";
import {
  CONFIG_KEYS,
  isKubeconfigDocument,
  parseConfig,
  projectKeys,
  type SECRET_KEYS,
  type TcpShiftConfig,
} from "./config";
import { type StackSettings, toStackSettings } from "./settings";

/** Credentials, kept as Pulumi secrets from where they were read to the providers that use them. */
export type StackSecrets = Partial<Record<(typeof SECRET_KEYS)[number], pulumi.Output<string>>>;

/** What names one cluster for its Kubernetes provider. */
export interface ClusterTarget {
  /**
   * Stable identity (the provider's `clusterIdentifier`): `ack:<clusterId>` / `asm:<meshId>`
   * when an id names the cluster, else the API server URL of its kubeconfig. A kubeconfig that
   * only differs in names, credentials or endpoint then changes nothing but the provider's
   * inputs. Undefined when neither is known (the provider's own heuristics apply).
   */
  identity?: string;
}

/** The validated config of the current stack, shaped by mode, and its credentials as secrets. */
export interface StackConfig {
  /** What to declare, one shape per mode; holds no credential. */
  settings: StackSettings;
  /**
   * The secret keys that are set, as secret Outputs. `kubeconfig` also holds the ambient
   * kubeconfig when that is what reaches the data plane.
   */
  secrets: StackSecrets;
  /** The data plane and (asm mode) the mesh. */
  clusters: { dataPlane: ClusterTarget; mesh?: ClusterTarget };
  /** How long `up` waits for a Service ASM creates. */
  serviceWaitSeconds: number;
}

/**
 * Whether the value of `tcp-shift:<key>` was set as a secret. The SDK's check is internal, so
 * when it is missing every unknown key counts as secret (its value is then not echoed).
 */
function isSecretConfigKey(key: string): boolean {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (fullKey: string) => boolean })
    .isConfigSecret;
  return check ? check(`${PROJECT_NAME}:${key}`) : true;
}

const unset = (value: unknown) => value === undefined || value === "";

/**
 * Adds the environment's access to `raw` where the stack's config leaves it unset, reading
 * kubeconfig files. Returns the keys it took from the environment (for error messages).
 */
function mergeEnvironmentAccess(
  raw: Record<string, unknown>,
  sources: Partial<Record<"kubeconfig" | "meshKubeconfig", KubeconfigSource>>,
): string[] {
  const host = programHost();
  const fromEnv: string[] = [];
  for (const key of ["clusterId", "meshId"] as const) {
    const value = host.env[ACCESS_ENV[key]]?.trim();
    if (unset(raw[key]) && value) {
      raw[key] = value;
      fromEnv.push(key);
    }
  }
  for (const key of ["kubeconfig", "meshKubeconfig"] as const) {
    const path = host.env[ACCESS_ENV[key]]?.trim();
    if (unset(raw[key]) && path) {
      const source = kubeconfigFile(path, `${ACCESS_ENV[key]}=${path}`, host.readFile);
      // Named here, with its path: the schema's message is about config text, not a file.
      if (!isKubeconfigDocument(source.text)) {
        throw new UserError(
          KUBECONFIG_ERROR_CODE,
          `${source.origin}: not a kubeconfig (YAML with a clusters list)`,
        );
      }
      sources[key] = source;
      raw[key] = source.text;
      fromEnv.push(key);
    }
  }
  return fromEnv;
}

/** `tcp-shift:clusterId = "x": ...` → `TCP_SHIFT_CLUSTER_ID = "x": ...` for keys from the environment. */
function nameEnvironmentSources(message: string, fromEnv: string[]): string {
  let named = message;
  for (const key of fromEnv) {
    const variable = ACCESS_ENV[key as keyof typeof ACCESS_ENV];
    named = named.replaceAll(
      `${PROJECT_NAME}:${key} = `,
      `${variable} (for ${PROJECT_NAME}:${key}) = `,
    );
  }
  return named;
}

function fileExists(path: string): boolean {
  try {
    programHost().readFile(path);
    return true;
  } catch {
    return false;
  }
}

/** A kubeconfig set as config text: relative file paths in it start from the project directory. */
function configKubeconfig(text: string, key: "kubeconfig" | "meshKubeconfig"): KubeconfigSource {
  return { text, baseDir: process.cwd(), origin: `${PROJECT_NAME}:${key}` };
}

/**
 * The data plane's kubeconfig (config, environment or ambient), resolved; undefined when the
 * ACK credential comes from `clusterId` or no kubeconfig is found (the provider's defaults).
 */
function dataPlaneKubeconfig(
  config: TcpShiftConfig,
  source: KubeconfigSource | undefined,
): ResolvedKubeconfig | undefined {
  const host = programHost();
  if (config.kubeconfig !== undefined) {
    const from = source ?? configKubeconfig(config.kubeconfig, "kubeconfig");
    return resolveKubeconfig([from], DATA_PLANE_PROVIDER_NAME, host.readFile);
  }
  if (config.clusterId) return undefined;
  const files = ambientKubeconfigFiles(host.env, host.homeDir, fileExists);
  if (files.length === 0) return undefined;
  const origin = host.env.KUBECONFIG ? `KUBECONFIG=${host.env.KUBECONFIG}` : (files[0] ?? "");
  return resolveKubeconfig(
    files.map((file) => kubeconfigFile(file, origin, host.readFile)),
    DATA_PLANE_PROVIDER_NAME,
    host.readFile,
  );
}

/** The ASM control plane's kubeconfig (config or environment), resolved; undefined for `meshId`. */
function meshKubeconfig(
  config: TcpShiftConfig,
  source: KubeconfigSource | undefined,
): ResolvedKubeconfig | undefined {
  if (config.meshKubeconfig === undefined) return undefined;
  const from = source ?? configKubeconfig(config.meshKubeconfig, "meshKubeconfig");
  return resolveKubeconfig([from], MESH_PROVIDER_NAME, programHost().readFile);
}

function serviceWaitSeconds(): number {
  const text = programHost().env[SERVICE_WAIT_ENV]?.trim();
  if (!text) return DEFAULT_SERVICE_WAIT_SECONDS;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new UserError(
      "E_CONFIG",
      `${SERVICE_WAIT_ENV} = ${JSON.stringify(text)}: must be a whole number of seconds, at least 1`,
    );
  }
  return seconds;
}

function load(): StackConfig {
  const store = new pulumi.Config();
  // Every `tcp-shift:` key, as the CLI stored it: known keys and typos such as `weightv2`
  // alike, which parseConfig reports. A mistyped key set as a secret is never echoed.
  const raw = projectKeys(pulumi.runtime.allConfig());
  const known = new Set<string>(CONFIG_KEYS);
  const unknownSecrets = Object.keys(raw).filter(
    (key) => !known.has(key) && isSecretConfigKey(key),
  );
  const kubeconfigSources: Partial<Record<"kubeconfig" | "meshKubeconfig", KubeconfigSource>> = {};
  const fromEnv = mergeEnvironmentAccess(raw, kubeconfigSources);
  let config: TcpShiftConfig;
  try {
    config = parseConfig(raw, `stack "${pulumi.getStack()}"`, unknownSecrets);
  } catch (error) {
    if (error instanceof UserError) {
      throw new UserError(error.code, nameEnvironmentSources(error.message, fromEnv));
    }
    throw error;
  }
  const missing = describeMissingAccess(missingClusterAccess(config));
  if (missing) throw new UserError("E_ACCESS", missing);
  // ASM names the app's gateway Service after the app: a name too long for it fails here.
  if (config.mode === "asm") asmIngressGatewayName(config.appName);

  const secrets: StackSecrets = {};
  if (config.registryPassword !== undefined) {
    secrets.registryPassword = store.requireSecret("registryPassword");
  }
  const dataPlane = dataPlaneKubeconfig(config, kubeconfigSources.kubeconfig);
  if (dataPlane) secrets.kubeconfig = pulumi.secret(dataPlane.text);
  const clusters: StackConfig["clusters"] = {
    dataPlane: { identity: config.clusterId ? `ack:${config.clusterId}` : dataPlane?.server },
  };
  if (config.mode === "asm") {
    const mesh = meshKubeconfig(config, kubeconfigSources.meshKubeconfig);
    if (mesh) secrets.meshKubeconfig = pulumi.secret(mesh.text);
    clusters.mesh = { identity: config.meshId ? `asm:${config.meshId}` : mesh?.server };
  }
  return {
    settings: toStackSettings(config),
    secrets,
    clusters,
    serviceWaitSeconds: serviceWaitSeconds(),
  };
}

/**
 * Read and validate the stack's config and the environment's cluster access. Unknown
 * `tcp-shift:` keys (typos) are reported with the rest. Throws `pulumi.RunError` listing every
 * bad key, naming the access to set, or saying which kubeconfig cannot be used.
 */
export function loadStackConfig(): StackConfig {
  try {
    return load();
  } catch (error) {
    if (error instanceof UserError) throw new pulumi.RunError(error.message);
    throw error;
  }
}
