/**
 * The CustomResourceDefinitions the local control planes serve, read at run time (never
 * committed): Istio's from the `istio.io/api` Go module, the Gateway API's experimental channel
 * (for TCPRoute) from `sigs.k8s.io/gateway-api`, and an IstioGateway CRD written for the testbed
 * from ASM's documented fields (`testbed/crds/istiogateway.yaml`; ASM publishes no CRD).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "./kubeClient";

/** Istio's API module: `kubernetes/customresourcedefinitions.gen.yaml` holds every Istio CRD. */
export const ISTIO_API_MODULE = { path: "istio.io/api", version: "v1.28.0" } as const;
/**
 * Gateway API CRDs (experimental channel: TCPRoute). v1.6.3's TCPRoute CRD serves v1 and
 * v1alpha2 (so a `tcpRouteApiVersion` switch can be tested); v1.7.0 needs a newer Go than the
 * build machines have.
 */
export const GATEWAY_API_MODULE = { path: "sigs.k8s.io/gateway-api", version: "v1.6.3" } as const;

/** A Go module that cannot be located or downloaded. */
export class CrdSourceError extends Error {
  override name = "CrdSourceError";
}

function goEnvModCache(): string | undefined {
  const r = spawnSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  return undefined;
}

/**
 * Directory of `module@version` in the Go module cache, downloading it through the module proxy
 * when missing (`go mod download -json`). Without Go, a copy already in the default module cache
 * is used.
 */
export function goModuleDir(module: { path: string; version: string }): string {
  const id = `${module.path}@${module.version}`;
  const r = spawnSync("go", ["mod", "download", "-json", id], {
    encoding: "utf8",
    cwd: tmpdir(),
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
  });
  if (r.status === 0) {
    const info = JSON.parse(r.stdout) as { Dir?: string; Error?: string };
    if (info.Dir && existsSync(info.Dir)) return info.Dir;
    throw new CrdSourceError(`go mod download ${id}: ${info.Error ?? "no module directory"}`);
  }
  // No Go, or the proxy is unreachable: a module already downloaded still serves.
  // Module paths here are lowercase, so the cache path needs no case escaping.
  const cache = goEnvModCache() ?? process.env.GOMODCACHE ?? join(homedir(), "go", "pkg", "mod");
  const candidate = join(cache, id);
  if (existsSync(candidate)) return candidate;
  const reason = r.error ? r.error.message : r.stderr.trim().split("\n").slice(-3).join("; ");
  throw new CrdSourceError(`cannot download the Go module ${id} (${reason})`);
}

function documents(text: string, source: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((doc): doc is KubeObject => doc !== null && doc.kind === "CustomResourceDefinition")
    .map((doc) => {
      if (!doc.metadata?.name) throw new CrdSourceError(`${source}: a CRD without a name`);
      return doc;
    });
}

/** Istio's CRDs (networking, security, telemetry, extensions). */
export function istioCrds(): KubeObject[] {
  const file = join(
    goModuleDir(ISTIO_API_MODULE),
    "kubernetes",
    "customresourcedefinitions.gen.yaml",
  );
  return documents(readFileSync(file, "utf8"), file);
}

/** The Gateway API's experimental-channel CRDs (Gateway, GatewayClass, TCPRoute, ...). */
export function gatewayApiCrds(): KubeObject[] {
  const dir = join(goModuleDir(GATEWAY_API_MODULE), "config", "crd", "experimental");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".yaml") && name !== "kustomization.yaml")
    .sort()
    .flatMap((name) => documents(readFileSync(join(dir, name), "utf8"), join(dir, name)));
}

/** The testbed's IstioGateway CRD (from ASM's documented fields). */
export function istioGatewayCrd(): KubeObject[] {
  const file = join(__dirname, "crds", "istiogateway.yaml");
  return documents(readFileSync(file, "utf8"), file);
}
