/**
 * The real-engine tier's harness: a copy of the project per scenario with its own `file://`
 * backend, the real `pulumi` CLI run as a child process (every command bounded in time), and
 * reads of the objects back from the two API servers.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect, inject } from "vitest";
import { parseRouteFile, type RouteFile } from "../../contract/routeFile";
import {
  type ClusterRole,
  type ControlPlaneState,
  clusterClient,
  ensureNamespace,
  LOCAL_CLUSTER_IDS,
  type LocalUser,
  localKubeconfig,
  readState,
  TESTBED_STATE_ENV,
} from "../../testbed/controlPlanes";
import type { KubeClient, KubeObject } from "../../testbed/kubeClient";
import { KubeApiError, objectPath } from "../../testbed/kubeClient";
import { NO_DOWNLOAD_ENV } from "../../testbed/toolchain";
import "./tierContext";

/** The tier context, or a skip reason. */
export function tier() {
  return inject("tier");
}

/** Why the tier does not run here, or undefined. */
export function skipReason(): string | undefined {
  return tier().skip;
}

let runningState: ControlPlaneState | undefined;

/** The running control planes (read once per worker: they stay the same for the whole run). */
export function controlPlanes(): ControlPlaneState {
  if (runningState) return runningState;
  const context = tier();
  if (context.skip !== undefined) throw new Error(`tier skipped: ${context.skip}`);
  runningState = readState(context.stateDir);
  if (!runningState) throw new Error(`no control planes in ${context.stateDir}`);
  return runningState;
}

/** An API client of `role`. */
export function cluster(role: ClusterRole): KubeClient {
  return clusterClient(controlPlanes(), role);
}

/**
 * The scenarios, each with an app name and a namespace of its own, so they can share the control
 * planes (and run in parallel). `owns`: name parts that mark a scenario's objects in shared
 * namespaces (istio-system), for the "nothing else" checks of destroy.
 */
export const SCENARIOS = {
  istio: { app: "shift-istio", namespace: "shift-istio", owns: ["shift-istio"] },
  // The mesh's default gateway by its exact names: other asm-mode apps' own gateways
  // (`istio-system/<app>-ingressgateway`) are theirs, not this scenario's.
  asm: {
    app: "tcp-echo",
    namespace: "default",
    owns: ["tcp-echo", "istio-system/ingressgateway", "istio-system/istio-ingressgateway"],
  },
  standalone: {
    app: "shift-standalone",
    namespace: "shift-standalone",
    owns: ["shift-standalone"],
  },
  credentials: { app: "shift-creds", namespace: "shift-creds", owns: ["shift-creds"] },
  badConfig: { app: "shift-bad", namespace: "shift-bad", owns: ["shift-bad"] },
  annotations: { app: "shift-clb", namespace: "shift-clb", owns: ["shift-clb"] },
  gatewayApi: { app: "shift-gwapi", namespace: "shift-gwapi", owns: ["shift-gwapi"] },
  splitter: { app: "shift-split", namespace: "shift-split", owns: ["shift-split"] },
  progressive: { app: "shift-steps", namespace: "shift-steps", owns: ["shift-steps"] },
} as const;
export type ScenarioName = keyof typeof SCENARIOS;

/** What one CLI command did. */
export interface CommandResult {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Options of one command. */
export interface RunOptions {
  /** Extra environment (access variables, waits). */
  env?: Record<string, string>;
  /** Standard input. */
  input?: string;
  /** Kill the command (its whole process group) after this long. @default 5 min */
  timeoutMs?: number;
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
  op: string;
  urn: string;
  type: string;
  name: string;
  newState?: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  oldState?: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  diffReasons?: string[];
  replaceReasons?: string[];
}

/** The CLI's marker of a value unknown during a preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Files of the program a scenario copies. */
const PROJECT_FILES = [
  "Pulumi.yaml",
  "index.ts",
  "package.json",
  "tsconfig.json",
  "infra",
  "contract",
];

/** Options of `PulumiProject.create`. */
export interface ProjectOptions {
  /**
   * The environment's cluster access (TCP_SHIFT_* variables). @default the local data plane and
   * mesh by kubeconfig file and id (with TCP_SHIFT_TIER_ACCESS=config: as tcp-shift: keys)
   */
  access?: Record<string, string>;
  /** Run the CLI's TypeScript check of the program, as a user's `pulumi up` does. */
  typeCheck?: boolean;
}

/** One copy of the project with a fresh `file://` backend and one stack. */
export class PulumiProject {
  private constructor(
    readonly dir: string,
    readonly stack: string,
    private readonly baseEnv: Record<string, string>,
  ) {}

  /**
   * Copy the project and `pulumi stack init <stack>`. `access` sets the environment's cluster
   * access (default: the local data plane and mesh by kubeconfig file, both ids).
   */
  static async create(
    scenario: ScenarioName,
    stack: string,
    options: ProjectOptions = {},
  ): Promise<PulumiProject> {
    const context = tier();
    if (context.skip !== undefined) throw new Error(context.skip);
    const projects = join(context.scratch, "projects");
    mkdirSync(projects, { recursive: true });
    const dir = mkdtempSync(join(projects, `${scenario}-${stack}-`));
    for (const file of PROJECT_FILES) {
      cpSync(join(context.projectRoot, file), join(dir, file), { recursive: true });
    }
    symlinkSync(join(context.projectRoot, "node_modules"), join(dir, "node_modules"));
    const backend = join(dir, ".backend");
    mkdirSync(backend);
    const state = controlPlanes();
    const pulumiDir = dirname(context.tools.pulumi as string);
    const kubectlDir = dirname(context.tools.kubectl as string);
    const env: Record<string, string> = {
      // Only what a user's shell would have, plus the tier's: no ambient TCP_SHIFT_* or KUBECONFIG.
      PATH: [pulumiDir, kubectlDir, process.env.PATH ?? ""].join(":"),
      HOME: process.env.HOME ?? dir,
      PULUMI_HOME: context.pulumiHome,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: "tier",
      ...NO_DOWNLOAD_ENV,
      PULUMI_SKIP_CONFIRMATIONS: "true",
      // Type checking is `npm test`'s (tsc); the CLI's check runs in the scenarios that ask for it.
      ...(options.typeCheck ? {} : { PULUMI_NODEJS_TRANSPILE_ONLY: "true" }),
      NO_COLOR: "1",
      // The emulated alicloud provider finds the local clusters here.
      [TESTBED_STATE_ENV]: context.stateDir,
    };
    const accessInConfig = options.access === undefined && accessForm() === "config";
    const access = options.access ?? (accessInConfig ? {} : defaultAccess(state, dir));
    const project = new PulumiProject(dir, stack, { ...env, ...access });
    await project.ok(["stack", "init", stack]);
    if (accessInConfig) {
      await project.config({
        clusterId: LOCAL_CLUSTER_IDS.data,
        meshId: LOCAL_CLUSTER_IDS.mesh,
      });
      await project.config(
        {
          kubeconfig: localKubeconfig(state, "data"),
          meshKubeconfig: localKubeconfig(state, "mesh"),
        },
        { secret: true },
      );
    }
    return project;
  }

  /** The environment a command runs with. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.baseEnv, ...extra };
  }

  /** Run `pulumi <args>` in the project; never throws on a non-zero exit. */
  run(args: string[], options: RunOptions = {}): Promise<CommandResult> {
    return this.exec("pulumi", args, options);
  }

  /**
   * Run `program <args>` with the project's environment (the CLI on PATH, its backend and access),
   * in `cwd` (default: the project), bounded like `run`; never throws on a non-zero exit.
   */
  exec(
    program: string,
    args: string[],
    options: RunOptions & { cwd?: string } = {},
  ): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? 300_000;
    const command = `${program} ${args.join(" ")}`;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, {
        cwd: options.cwd ?? this.dir,
        env: this.env(options.env),
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      const timer = setTimeout(() => {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        reject(
          new Error(
            `${command} did not finish within ${timeoutMs / 1000} s\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({
          command,
          code: code ?? 1,
          stdout,
          stderr,
          seconds: (performance.now() - t0) / 1000,
        });
      });
      child.stdin.end(options.input ?? "");
    });
  }

  /** Run and require exit 0; the error carries the command's output. */
  async ok(args: string[], options: RunOptions = {}): Promise<CommandResult> {
    const result = await this.run(args, options);
    if (result.code !== 0) {
      throw new Error(
        `${result.command} exited ${result.code}\n--- stdout ---\n${result.stdout.slice(-6000)}\n--- stderr ---\n${result.stderr.slice(-4000)}`,
      );
    }
    return result;
  }

  /** `pulumi config set [--secret] tcp-shift:<key> <value>`. */
  async config(values: Record<string, string>, options: { secret?: boolean } = {}) {
    for (const [key, value] of Object.entries(values)) {
      const fullKey = key.includes(":") ? key : `tcp-shift:${key}`;
      // Values on standard input: kubeconfigs are multi-line.
      await this.ok(["config", "set", ...(options.secret ? ["--secret"] : []), fullKey], {
        input: value,
      });
    }
  }

  /** `pulumi preview --json [args]`: its steps. */
  async preview(args: string[] = [], options: RunOptions = {}) {
    const result = await this.ok(["preview", "--json", ...args], options);
    const parsed = JSON.parse(result.stdout) as {
      steps?: PreviewStep[];
      changeSummary?: Record<string, number>;
      diagnostics?: Array<{ message: string; severity: string }>;
    };
    const steps = (parsed.steps ?? []).map((step) => ({
      ...step,
      type: step.urn.split("::")[2]?.split("$").pop() ?? "",
      name: step.urn.split("::")[3] ?? "",
    }));
    return { steps, changeSummary: parsed.changeSummary ?? {}, result };
  }

  /** `pulumi up --yes --skip-preview [args]`. */
  up(args: string[] = [], options: RunOptions = {}) {
    return this.ok(["up", "--yes", "--skip-preview", ...args], options);
  }

  /** Stack outputs. */
  async outputs(): Promise<Record<string, unknown>> {
    const result = await this.ok(["stack", "output", "--json"]);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  /** Resources in the stack's state (`pulumi stack export`). */
  async stateResources(): Promise<Array<{ urn: string; type: string; id?: string }>> {
    const result = await this.ok(["stack", "export"]);
    const deployment = (
      JSON.parse(result.stdout) as {
        deployment?: { resources?: Array<{ urn: string; type: string; id?: string }> };
      }
    ).deployment;
    return deployment?.resources ?? [];
  }

  /** Write a file into the project directory (kubeconfig variants). */
  writeFile(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }
}

/** What `startScenario` made: the stack's project, and both clusters as they were before it. */
export interface ScenarioStart {
  project: PulumiProject;
  before: Snapshot;
}

/**
 * The start every scenario makes: its namespaces (`namespaces`, default the scenario's on `data`)
 * created, a snapshot of both clusters taken (for `expectUnchanged` once the stack is gone), then
 * a project for `stack` (see `PulumiProject.create`) with `config` set.
 */
export async function startScenario(
  scenario: ScenarioName,
  stack: string,
  config: Record<string, string>,
  options: ProjectOptions & { namespaces?: Array<[ClusterRole, string]> } = {},
): Promise<ScenarioStart> {
  const { namespaces = [["data", SCENARIOS[scenario].namespace]], ...createOptions } = options;
  for (const [role, namespace] of namespaces) await ensureNamespace(cluster(role), namespace);
  const before = await snapshot(scenario);
  const project = await PulumiProject.create(scenario, stack, createOptions);
  await project.config(config);
  return { project, before };
}

/**
 * Where scenarios put their cluster access: `env` (the default; TCP_SHIFT_* variables) or
 * `config` (`TCP_SHIFT_TIER_ACCESS=config`: the tcp-shift: keys, the only form a program before
 * the environment's access understands, to run the scenarios against it).
 */
export function accessForm(): "env" | "config" {
  return process.env.TCP_SHIFT_TIER_ACCESS === "config" ? "config" : "env";
}

/** The access every scenario uses unless it says otherwise: kubeconfig files plus both ids. */
function defaultAccess(state: ControlPlaneState, dir: string): Record<string, string> {
  const data = join(dir, "data.kubeconfig");
  const mesh = join(dir, "mesh.kubeconfig");
  writeFileSync(data, localKubeconfig(state, "data"), { mode: 0o600 });
  writeFileSync(mesh, localKubeconfig(state, "mesh"), { mode: 0o600 });
  return {
    TCP_SHIFT_KUBECONFIG: data,
    TCP_SHIFT_MESH_KUBECONFIG: mesh,
    TCP_SHIFT_CLUSTER_ID: LOCAL_CLUSTER_IDS.data,
    TCP_SHIFT_MESH_ID: LOCAL_CLUSTER_IDS.mesh,
  };
}

/** Kubeconfig text for the local `role` as `user`, optionally through another address or names. */
export function kubeconfigFor(
  role: ClusterRole,
  options: { user?: LocalUser; server?: string; contextName?: string } = {},
): string {
  return localKubeconfig(controlPlanes(), role, options);
}

/** GET an object, or undefined. */
export function find(
  role: ClusterRole,
  apiVersion: string,
  plural: string,
  namespace: string | undefined,
  name: string,
): Promise<KubeObject | undefined> {
  return cluster(role).find(objectPath(apiVersion, plural, namespace, name));
}

/** GET an object that must exist. */
export async function get(
  role: ClusterRole,
  apiVersion: string,
  plural: string,
  namespace: string | undefined,
  name: string,
): Promise<KubeObject> {
  const object = await find(role, apiVersion, plural, namespace, name);
  if (!object)
    throw new Error(`${role}: ${apiVersion} ${plural} ${namespace}/${name} does not exist`);
  return object;
}

/** The load balancer address the cloud controller gave a Service. */
export function loadBalancerIp(service: KubeObject): string | undefined {
  const status = service.status as
    | { loadBalancer?: { ingress?: Array<{ ip?: string }> } }
    | undefined;
  return status?.loadBalancer?.ingress?.[0]?.ip;
}

/**
 * What a rollout would change, for a Deployment of `data`: its generation, the names of its
 * ReplicaSets and the uids of their pods (a restart makes new pods, a template change a new
 * ReplicaSet).
 */
export async function deploymentRollout(namespace: string, name: string) {
  const deployment = await get("data", "apps/v1", "deployments", namespace, name);
  const ownedBy = (item: KubeObject, kind: string, uid: string | undefined) =>
    (
      (item.metadata.ownerReferences as Array<{ kind: string; uid: string }> | undefined) ?? []
    ).some((ref) => ref.kind === kind && ref.uid === uid);
  const replicaSets = (
    await cluster("data").list(`/apis/apps/v1/namespaces/${namespace}/replicasets`)
  ).items.filter((rs) => ownedBy(rs, "Deployment", deployment.metadata.uid));
  const pods = (await cluster("data").list(`/api/v1/namespaces/${namespace}/pods`)).items.filter(
    (pod) => replicaSets.some((rs) => ownedBy(pod, "ReplicaSet", rs.metadata.uid)),
  );
  return {
    generation: deployment.metadata.generation,
    replicaSets: replicaSets.map((rs) => rs.metadata.name).sort(),
    pods: pods.map((pod) => pod.metadata.uid).sort(),
  };
}

/** The route file the bundled gateway mounts: `routes.json` of its ConfigMap in `data`. */
export async function gatewayRouteFile(namespace: string, configMap: string): Promise<RouteFile> {
  const object = await get("data", "v1", "configmaps", namespace, configMap);
  const text = (object.data as Record<string, string> | undefined)?.["routes.json"];
  if (text === undefined) throw new Error(`ConfigMap ${namespace}/${configMap} has no routes.json`);
  return parseRouteFile(text, `ConfigMap ${namespace}/${configMap}`);
}

/** The versions of the CustomResourceDefinition `name` (plural.group) that `role` serves. */
export async function servedVersions(role: ClusterRole, name: string): Promise<string[]> {
  const crd = await get(
    role,
    "apiextensions.k8s.io/v1",
    "customresourcedefinitions",
    undefined,
    name,
  );
  const { versions } = crd.spec as { versions: Array<{ name: string; served: boolean }> };
  return versions.filter((version) => version.served).map((version) => version.name);
}

/** Kinds the "nothing else" checks list, per cluster. */
const SNAPSHOT_KINDS: Array<[string, string]> = [
  ["apps/v1", "deployments"],
  ["v1", "services"],
  ["v1", "configmaps"],
  ["v1", "namespaces"],
  ["networking.k8s.io/v1", "networkpolicies"],
  ["policy/v1", "poddisruptionbudgets"],
  ["networking.istio.io/v1", "gateways"],
  ["networking.istio.io/v1", "virtualservices"],
  ["networking.istio.io/v1", "destinationrules"],
  ["gateway.networking.k8s.io/v1", "gateways"],
  ["gateway.networking.k8s.io/v1alpha2", "tcproutes"],
];

/** Everything of the snapshot kinds on both clusters, keyed by cluster/kind/namespace/name. */
export type Snapshot = Map<string, string>;

/**
 * The objects of both clusters a scenario may touch (not those of the other scenarios), each
 * with what would show a change: uid, generation, labels, annotations and spec.
 */
export async function snapshot(scenario: ScenarioName): Promise<Snapshot> {
  const foreign = Object.entries(SCENARIOS)
    .filter(([name]) => name !== scenario)
    .flatMap(([, other]) => other.owns as readonly string[]);
  const mine = SCENARIOS[scenario].owns as readonly string[];
  const out: Snapshot = new Map();
  for (const role of ["data", "mesh"] as const) {
    const kinds: Array<[string, string]> = [
      ...SNAPSHOT_KINDS,
      ...(role === "mesh"
        ? [["istio.alibabacloud.com/v1beta1", "istiogateways"] as [string, string]]
        : []),
    ];
    for (const [apiVersion, plural] of kinds) {
      let items: KubeObject[];
      try {
        items = (await cluster(role).list(objectPath(apiVersion, plural, undefined))).items;
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 404) continue;
        throw error;
      }
      for (const item of items) {
        const { namespace = "", name } = item.metadata;
        const where = `${namespace}/${name}`;
        const ownedByOther =
          foreign.some((part) => where.includes(part)) &&
          !mine.some((part) => where.includes(part));
        // kube-root-ca.crt appears in every namespace, made by a controller.
        if (ownedByOther || name === "kube-root-ca.crt") continue;
        out.set(
          `${role} ${apiVersion}/${plural} ${where}`,
          JSON.stringify({
            uid: item.metadata.uid,
            generation: item.metadata.generation,
            labels: item.metadata.labels,
            annotations: item.metadata.annotations,
            spec: item.spec,
          }),
        );
      }
    }
  }
  return out;
}

/** What differs between two snapshots: added, removed and changed keys. */
export function snapshotDifference(before: Snapshot, after: Snapshot) {
  const added = [...after.keys()].filter((key) => !before.has(key)).sort();
  const removed = [...before.keys()].filter((key) => !after.has(key)).sort();
  const changed = [...after.keys()]
    .filter((key) => before.has(key) && before.get(key) !== after.get(key))
    .sort();
  return { added, removed, changed };
}

/** Both clusters hold what they held at `before`: nothing added, removed or changed. */
export async function expectUnchanged(scenario: ScenarioName, before: Snapshot): Promise<void> {
  expect(snapshotDifference(before, await snapshot(scenario))).toEqual({
    added: [],
    removed: [],
    changed: [],
  });
}

/** Poll `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Steps of a preview other than `same` (and the stack itself), as `op type name`. */
export function changes(steps: PreviewStep[]): string[] {
  return steps
    .filter((step) => step.op !== "same" && step.type !== "pulumi:pulumi:Stack")
    .map((step) => `${step.op} ${step.type} ${step.name}`);
}

/** Record a timing line for the tier's summary (artifacts/timings.txt). */
export function recordTiming(line: string): void {
  const context = tier();
  if (context.skip !== undefined) return;
  const file = join(context.artifactsDir, "timings.txt");
  writeFileSync(file, `${new Date().toISOString()} ${line}\n`, { flag: "a" });
}

/** Save an artifact (e.g. the real preview output for the README). */
export function saveArtifact(name: string, text: string): string {
  const context = tier();
  if (context.skip !== undefined) return "";
  const file = join(context.artifactsDir, name);
  writeFileSync(file, text);
  return file;
}
