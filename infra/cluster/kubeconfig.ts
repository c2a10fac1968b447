/**
 * Kubeconfigs as the program uses them: the active context's cluster and user only, with every
 * file it refers to inlined (as `kubectl config view --minify --flatten` prints it), under fixed
 * names. The Kubernetes provider then gets text that works wherever the engine runs, and two
 * kubeconfigs for the same cluster that differ only in context, cluster or user names give the
 * same text. Also: where the ambient kubeconfig is (`KUBECONFIG`, `~/.kube/config`), and the API
 * server URL a cluster identity can fall back to.
 */
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { UserError } from "../../contract/userError";

/** Error code of an unusable kubeconfig or kubeconfig file. */
export const KUBECONFIG_ERROR_CODE = "E_KUBECONFIG";

interface NamedEntry<T> {
  name?: string;
  cluster?: T;
  context?: T;
  user?: T;
}

interface ClusterEntry {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  [field: string]: unknown;
}

interface UserEntry {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  tokenFile?: string;
  token?: string;
  [field: string]: unknown;
}

interface ContextEntry {
  cluster?: string;
  user?: string;
  [field: string]: unknown;
}

/** A kubeconfig document, as far as this module reads it. */
interface KubeconfigDocument {
  clusters?: Array<NamedEntry<ClusterEntry>>;
  contexts?: Array<NamedEntry<ContextEntry>>;
  users?: Array<NamedEntry<UserEntry>>;
  "current-context"?: string;
}

/** One kubeconfig to read: its text, and the directory relative file paths start from. */
export interface KubeconfigSource {
  text: string;
  /** Directory of the file the text came from (relative paths inside it start there). */
  baseDir: string;
  /** How to name the source in errors, e.g. `TCP_SHIFT_KUBECONFIG=/home/me/ack.yaml`. */
  origin: string;
}

/** The active context of a kubeconfig, self-contained. */
export interface ResolvedKubeconfig {
  /** Kubeconfig text: one cluster, one user, one context, all named `name`, files inlined. */
  text: string;
  /** The API server URL, normalised (lowercase scheme and host, no trailing slash). */
  server: string;
}

function fail(origin: string, reason: string): never {
  throw new UserError(KUBECONFIG_ERROR_CODE, `${origin}: ${reason}`);
}

function parseDocument(source: KubeconfigSource): KubeconfigDocument {
  let document: unknown;
  try {
    document = parseYaml(source.text);
  } catch (error) {
    fail(source.origin, `not a kubeconfig (${(error as Error).message.split("\n")[0]})`);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    fail(source.origin, "not a kubeconfig (YAML with clusters, contexts and users)");
  }
  return document as KubeconfigDocument;
}

function entry<T>(list: Array<NamedEntry<T>> | undefined, name: string, key: keyof NamedEntry<T>) {
  return list?.find((item) => item.name === name)?.[key] as T | undefined;
}

/** API server URL in a comparable form. */
export function normalizeServer(server: string): string {
  try {
    const url = new URL(server);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`.toLowerCase();
  } catch {
    return server.trim().replace(/\/+$/, "").toLowerCase();
  }
}

/**
 * The active context of the merged `sources` (kubectl's rules: the first file that sets
 * `current-context` wins, and so does the first definition of each name), with the files it
 * names inlined, under the single name `name`.
 */
export function resolveKubeconfig(
  sources: KubeconfigSource[],
  name: string,
  readFile: (path: string) => string,
): ResolvedKubeconfig {
  const documents = sources.map((source) => ({ source, document: parseDocument(source) }));
  const origin = sources.map((s) => s.origin).join(", ");
  const current =
    documents.map((d) => d.document["current-context"]).find((c) => typeof c === "string" && c) ??
    (() => {
      const contexts = documents.flatMap((d) => d.document.contexts ?? []);
      return contexts.length === 1 ? contexts[0]?.name : undefined;
    })();
  if (!current) fail(origin, "no current-context (set one with kubectl config use-context)");
  const find = <T>(kind: "clusters" | "contexts" | "users", entryName: string) => {
    for (const { source, document } of documents) {
      const key = kind === "clusters" ? "cluster" : kind === "contexts" ? "context" : "user";
      const found = entry<T>(document[kind] as Array<NamedEntry<T>>, entryName, key);
      if (found) return { value: found, source };
    }
    return undefined;
  };
  const context = find<ContextEntry>("contexts", current);
  if (!context) fail(origin, `current-context "${current}" is not defined`);
  const clusterName = context.value.cluster ?? "";
  const cluster = find<ClusterEntry>("clusters", clusterName);
  if (!cluster?.value.server) fail(origin, `context "${current}" names no cluster with a server`);
  const user = context.value.user ? find<UserEntry>("users", context.value.user) : undefined;

  const inlineFile = (path: string, baseDir: string, what: string, entryOrigin: string) => {
    const file = isAbsolute(path) ? path : join(baseDir, path);
    try {
      return readFile(file);
    } catch (error) {
      fail(entryOrigin, `cannot read the ${what} ${file}: ${(error as Error).message}`);
    }
  };
  const clusterOut: ClusterEntry = { ...cluster.value };
  if (clusterOut["certificate-authority"]) {
    clusterOut["certificate-authority-data"] = Buffer.from(
      inlineFile(clusterOut["certificate-authority"], cluster.source.baseDir, "CA file", origin),
    ).toString("base64");
    delete clusterOut["certificate-authority"];
  }
  const userOut: UserEntry = { ...(user?.value ?? {}) };
  const userBase = user?.source.baseDir ?? cluster.source.baseDir;
  for (const [fileKey, dataKey, what] of [
    ["client-certificate", "client-certificate-data", "client certificate"],
    ["client-key", "client-key-data", "client key"],
  ] as const) {
    const path = userOut[fileKey];
    if (path) {
      userOut[dataKey] = Buffer.from(inlineFile(path, userBase, what, origin)).toString("base64");
      delete userOut[fileKey];
    }
  }
  if (userOut.tokenFile) {
    userOut.token = inlineFile(userOut.tokenFile, userBase, "token file", origin).trim();
    delete userOut.tokenFile;
  }
  const text = stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: clusterOut }],
    users: [{ name, user: userOut }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": name,
  });
  return { text, server: normalizeServer(cluster.value.server) };
}

/** One kubeconfig file as a source; throws naming `origin` when it cannot be read. */
export function kubeconfigFile(
  path: string,
  origin: string,
  readFile: (path: string) => string,
): KubeconfigSource {
  try {
    return { text: readFile(path), baseDir: dirname(path), origin };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(origin, code === "ENOENT" ? "no such file" : (error as Error).message);
  }
}

/**
 * The ambient kubeconfig files kubectl would use: each existing path of `KUBECONFIG`, else
 * `~/.kube/config` when it exists. Empty when there is none.
 */
export function ambientKubeconfigFiles(
  env: Readonly<Record<string, string | undefined>>,
  homeDir: string,
  exists: (path: string) => boolean,
): string[] {
  const list = env.KUBECONFIG?.split(":").filter(Boolean) ?? [];
  if (list.length > 0) return list.filter(exists);
  const fallback = join(homeDir, ".kube", "config");
  return exists(fallback) ? [fallback] : [];
}
