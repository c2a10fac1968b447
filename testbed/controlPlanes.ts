/**
 * Two local Kubernetes control planes for the real-engine tier, on 127.0.0.1 only:
 *
 * - `data` stands for the ACK cluster: kube-apiserver + kube-controller-manager (the real
 *   Deployment, ReplicaSet, Endpoints, EndpointSlice, namespace and garbage collection
 *   controllers). Istio's and the Gateway API's CRDs are installed (istio mode uses one cluster).
 * - `mesh` stands for the ASM control plane: kube-apiserver with Istio's CRDs, the Gateway API's
 *   and the testbed's IstioGateway CRD, and a kube-controller-manager for garbage collection and
 *   namespaces (Pulumi deletes with foreground propagation, which waits for the collector).
 * - one etcd 3.6 serves both API servers under two key prefixes;
 * - the cloud emulator (`emulator.ts`) stands in for ASM, ACK's cloud controller, the scheduler
 *   and the kubelet.
 *
 * Everything lives in one state directory: PIDs and ports (`state.json`), logs, keys, the
 * generated kubeconfigs. `stopControlPlanes` stops what `state.json` lists, by PID, and removes
 * the directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { gatewayApiCrds, istioCrds, istioGatewayCrd } from "./crds";
import type { EmulatorConfig } from "./emulator";
import { KubeApiError, KubeClient, type KubeEndpoint, type KubeObject } from "./kubeClient";
import type { ToolPaths } from "./toolchain";

/** Repository root (this file lives in `<root>/testbed`). */
const REPO_ROOT = resolve(__dirname, "..");

/** The two clusters. */
export const CLUSTER_ROLES = ["data", "mesh"] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

/**
 * Ids the local clusters answer to: the ACK cluster id (IstioGateway `clusterIds`, the data
 * plane's identity) and the ASM instance id. They pass the config schema and reach no cloud.
 */
export const LOCAL_CLUSTER_IDS: Record<ClusterRole, string> = {
  data: "ctestbeddata01",
  mesh: "ctestbedmesh01",
};

/** Users of the local API servers (all in system:masters; tokens are random per start). */
export const LOCAL_USERS = ["admin", "operator", "emulator"] as const;
export type LocalUser = (typeof LOCAL_USERS)[number];

/**
 * Environment variable naming the state directory, for the processes that need the running control
 * planes (the emulated alicloud provider, started by `pulumi`).
 */
export const TESTBED_STATE_ENV = "TCP_SHIFT_TESTBED_STATE";

/** A user-facing failure: its message is printed without a stack. */
export class ClusterError extends Error {
  override name = "ClusterError";
}

/** Executables the control planes need. */
export interface ControlPlaneTools {
  etcd: string;
  "kube-apiserver": string;
  "kube-controller-manager": string;
}

/** The control planes' executables among built tools; throws {@link ClusterError} naming a missing one. */
export function controlPlaneTools(paths: ToolPaths): ControlPlaneTools {
  const pick = (name: keyof ControlPlaneTools) => {
    const path = paths[name];
    if (!path) throw new ClusterError(`${name} was not built`);
    return path;
  };
  return {
    etcd: pick("etcd"),
    "kube-apiserver": pick("kube-apiserver"),
    "kube-controller-manager": pick("kube-controller-manager"),
  };
}

/** Options of {@link startControlPlanes}. */
export interface StartOptions {
  stateDir: string;
  tools: ControlPlaneTools;
  /** API server ports; 0 (default) picks free ones. */
  ports?: Partial<Record<ClusterRole, number>>;
  /** Emulator delays. */
  asmDelayMs?: number;
  ccmDelayMs?: number;
  podReadyDelayMs?: number;
  /** Create the mesh's default `IstioGateway istio-system/ingressgateway` (ports 80/443). */
  defaultGateway?: boolean;
  /** How long each API server may take to become ready. @default 90 s */
  readyTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One process the launcher started. */
export interface ProcessRecord {
  pid: number;
  /** The executable (checked before a PID is signalled, so a reused PID is never killed). */
  executable: string;
  log: string;
}

/** One API server. */
export interface ClusterRecord {
  server: string;
  port: number;
  /** Admin kubeconfig (inline CA and token). */
  kubeconfig: string;
  clusterId: string;
}

/** What `state.json` holds. */
export interface ControlPlaneState {
  version: 1;
  stateDir: string;
  startedAt: string;
  processes: Record<string, ProcessRecord>;
  etcd: { clientUrl: string };
  clusters: Record<ClusterRole, ClusterRecord>;
  /** The data API server through a second port (same cluster, another endpoint). */
  dataAlternateServer: string;
  /** PEM of each API server's CA. */
  ca: Record<ClusterRole, string>;
  tokens: Record<LocalUser, string>;
  emulator: { asmDelayMs: number; ccmDelayMs: number; podReadyDelayMs: number };
  defaultGateway: boolean;
}

export const STATE_FILE = "state.json";

/**
 * Controllers per cluster. data: everything a cluster runs, except what needs kubelets (node
 * lifecycle would evict every pod, node IPAM and volume attachment have nothing to do). mesh:
 * what an API server of Istio objects needs: garbage collection, namespaces, service accounts.
 */
const CONTROLLERS: Record<ClusterRole, string> = {
  data: "*,-node-lifecycle-controller,-node-ipam-controller,-persistentvolume-attach-detach-controller,-ttl-controller",
  mesh: "garbage-collector-controller,namespace-controller,serviceaccount-controller",
};

/** The state of a running set of control planes, or undefined. */
export function readState(stateDir: string): ControlPlaneState | undefined {
  const file = join(stateDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ControlPlaneState;
}

/** An API client for `role` as `user`. */
export function clusterClient(
  state: ControlPlaneState,
  role: ClusterRole,
  user: LocalUser = "admin",
): KubeClient {
  return new KubeClient(endpointOf(state, role, user));
}

export function endpointOf(
  state: ControlPlaneState,
  role: ClusterRole,
  user: LocalUser = "admin",
): KubeEndpoint {
  return { server: state.clusters[role].server, ca: state.ca[role], token: state.tokens[user] };
}

/** True when `pid` runs `executable` (from /proc; elsewhere: when it is alive). */
export function isOurProcess(record: ProcessRecord): boolean {
  try {
    process.kill(record.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, "utf8");
    return cmdline.split("\0").some((arg) => arg === record.executable);
  } catch {
    return true;
  }
}

/** Free TCP port on 127.0.0.1, from the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolvePort(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

/** Throws {@link ClusterError} when `port` on 127.0.0.1 cannot be bound. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new ClusterError(
          error.code === "EADDRINUSE"
            ? `port ${port} on 127.0.0.1 (${what}) is in use by another process: choose another port or stop that process`
            : `cannot bind 127.0.0.1:${port} (${what}): ${error.message}`,
        ),
      );
    });
    server.listen({ host: "127.0.0.1", port }, () => server.close(() => resolvePort()));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Stops every process of `state`, newest first, by PID; waits for each to exit. */
async function stopProcesses(processes: Record<string, ProcessRecord>): Promise<void> {
  for (const [name, record] of Object.entries(processes).reverse()) {
    if (!isOurProcess(record)) continue;
    try {
      process.kill(record.pid, "SIGTERM");
    } catch {
      continue;
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && isOurProcess(record)) await sleep(100);
    if (isOurProcess(record)) {
      try {
        process.kill(record.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      await sleep(200);
    }
    if (isOurProcess(record)) throw new ClusterError(`could not stop ${name} (pid ${record.pid})`);
  }
}

/**
 * Stop what the state directory lists and remove the directory. Returns the names of the
 * processes that were running.
 */
export async function stopControlPlanes(stateDir: string): Promise<string[]> {
  const state = readState(stateDir);
  const processes = state?.processes ?? readPartialProcesses(stateDir);
  const running = Object.entries(processes)
    .filter(([, record]) => isOurProcess(record))
    .map(([name]) => name);
  await stopProcesses(processes);
  rmSync(stateDir, { recursive: true, force: true });
  return running;
}

/** PIDs recorded while starting (before state.json exists). */
function readPartialProcesses(stateDir: string): Record<string, ProcessRecord> {
  const file = join(stateDir, "processes.json");
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, ProcessRecord>;
}

function kubeconfigText(
  name: string,
  server: string,
  ca: string,
  user: string,
  token: string,
): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name,
        cluster: {
          server,
          "certificate-authority-data": Buffer.from(ca).toString("base64"),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: `${name}-${user}` } }],
    "current-context": name,
    users: [{ name: `${name}-${user}`, user: { token } }],
  });
}

/** Kubeconfig text for `role` as `user`, optionally through another server URL or names. */
export function localKubeconfig(
  state: ControlPlaneState,
  role: ClusterRole,
  options: { user?: LocalUser; server?: string; contextName?: string } = {},
): string {
  const user = options.user ?? "admin";
  return kubeconfigText(
    options.contextName ?? `tcp-shift-local-${role}`,
    options.server ?? state.clusters[role].server,
    state.ca[role],
    user,
    state.tokens[user],
  );
}

/** Starts the control planes, or throws {@link ClusterError} having stopped what it started. */
export async function startControlPlanes(options: StartOptions): Promise<ControlPlaneState> {
  const log = options.log ?? (() => {});
  const stateDir = resolve(options.stateDir);
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  mkdirSync(join(stateDir, "logs"), { recursive: true });
  const processes: Record<string, ProcessRecord> = {};
  const recordProcesses = () =>
    writeFileSync(join(stateDir, "processes.json"), `${JSON.stringify(processes, null, 2)}\n`);

  const launch = (name: string, executable: string, args: string[], cwd = stateDir) => {
    const logFile = join(stateDir, "logs", `${name}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(executable, args, {
      cwd,
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, GOTOOLCHAIN: "local" },
    });
    closeSync(fd);
    if (child.pid === undefined) throw new ClusterError(`could not start ${name} (${executable})`);
    child.unref();
    processes[name] = { pid: child.pid, executable, log: logFile };
    recordProcesses();
    return { logFile, child };
  };

  /** Polls `check` until true; fails naming `what` and its log when `child` exits or time runs out. */
  const waitFor = async (
    what: string,
    logFile: string,
    child: ChildProcess,
    check: () => Promise<boolean>,
  ) => {
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new ClusterError(
          `${what} exited (${child.exitCode ?? child.signalCode}) before it was ready; last lines of ${logFile}:\n${tail(logFile)}`,
        );
      }
      try {
        if (await check()) return;
      } catch {
        // not up yet
      }
      await sleep(250);
    }
    throw new ClusterError(
      `${what} was not ready within ${Math.round(readyTimeoutMs / 1000)} s; last lines of ${logFile}:\n${tail(logFile)}`,
    );
  };

  try {
    // Read (and download) the CRDs once, before any process starts: a missing module fails here.
    const shared = [...istioCrds(), ...gatewayApiCrds()];
    const crds: Record<ClusterRole, KubeObject[]> = {
      data: shared,
      mesh: [...shared, ...istioGatewayCrd()],
    };
    const ports: Record<ClusterRole, number> = { data: 0, mesh: 0 };
    for (const role of CLUSTER_ROLES) {
      const wanted = options.ports?.[role] ?? 0;
      if (wanted) await assertPortFree(wanted, `the ${role} API server`);
      ports[role] = wanted || (await freePort());
    }
    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    const alternatePort = await freePort();

    // Keys and users: a service-account key pair, one token per user.
    const pki = join(stateDir, "pki");
    mkdirSync(pki, { recursive: true });
    const { publicKey, privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    writeFileSync(join(pki, "sa.pub"), publicKey);
    writeFileSync(join(pki, "sa.key"), privateKey, { mode: 0o600 });
    const tokens = Object.fromEntries(
      LOCAL_USERS.map((user) => [user, randomBytes(24).toString("hex")]),
    ) as Record<LocalUser, string>;
    writeFileSync(
      join(pki, "tokens.csv"),
      LOCAL_USERS.map((user) => `${tokens[user]},${user},${user}-uid,"system:masters"`).join("\n"),
      { mode: 0o600 },
    );

    // etcd: one member, both API servers under their own prefix.
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = launch("etcd", options.tools.etcd, [
      "--name=tcp-shift-testbed",
      `--data-dir=${join(stateDir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=tcp-shift-testbed=http://127.0.0.1:${etcdPeer}`,
      "--log-level=warn",
      // A test harness: losing the last writes on a crash is fine, fsync latency is not.
      "--unsafe-no-fsync",
    ]);
    log(`etcd           ${etcdUrl} (pid ${etcd.child.pid})`);
    await waitFor("etcd", etcd.logFile, etcd.child, async () => {
      const response = await fetch(`${etcdUrl}/health`);
      return response.ok && ((await response.json()) as { health?: string }).health === "true";
    });

    const ca = { data: "", mesh: "" };
    const servers = { data: "", mesh: "" };
    const started: Array<{ role: ClusterRole; logFile: string; child: ChildProcess }> = [];
    for (const role of CLUSTER_ROLES) {
      const certDir = join(stateDir, role, "pki");
      mkdirSync(certDir, { recursive: true });
      servers[role] = `https://127.0.0.1:${ports[role]}`;
      const apiserver = launch(`${role}-apiserver`, options.tools["kube-apiserver"], [
        `--etcd-servers=${etcdUrl}`,
        `--etcd-prefix=/tcp-shift/${role}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // A loopback advertise address needs no endpoint reconciler (nothing routes to it).
        "--endpoint-reconciler-type=none",
        `--secure-port=${ports[role]}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(pki, "tokens.csv")}`,
        "--anonymous-auth=false",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        `--service-account-key-file=${join(pki, "sa.pub")}`,
        `--service-account-signing-key-file=${join(pki, "sa.key")}`,
        `--service-cluster-ip-range=${role === "data" ? "10.96.0.0/16" : "10.97.0.0/16"}`,
        "--profiling=false",
      ]);
      log(`${role} apiserver ${servers[role]} (pid ${apiserver.child.pid})`);
      started.push({ role, ...apiserver });
    }
    for (const { role, logFile, child } of started) {
      await waitFor(`the ${role} API server`, logFile, child, async () => {
        const certFile = join(stateDir, role, "pki", "apiserver.crt");
        if (!existsSync(certFile)) return false;
        // The self-signed serving certificate is followed by the CA that signed it.
        const blocks = readFileSync(certFile, "utf8").match(
          /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g,
        );
        const caBlock = blocks?.[1] ?? blocks?.[0];
        if (!caBlock) return false;
        ca[role] = caBlock;
        const client = new KubeClient({ server: servers[role], ca: caBlock, token: tokens.admin });
        return (await client.request<string>("/readyz", { timeoutMs: 2000, text: true })) === "ok";
      });
    }

    const state: ControlPlaneState = {
      version: 1,
      stateDir,
      startedAt: new Date().toISOString(),
      processes,
      etcd: { clientUrl: etcdUrl },
      clusters: {
        data: {
          server: servers.data,
          port: ports.data,
          kubeconfig: join(stateDir, "data.kubeconfig"),
          clusterId: LOCAL_CLUSTER_IDS.data,
        },
        mesh: {
          server: servers.mesh,
          port: ports.mesh,
          kubeconfig: join(stateDir, "mesh.kubeconfig"),
          clusterId: LOCAL_CLUSTER_IDS.mesh,
        },
      },
      dataAlternateServer: `https://127.0.0.1:${alternatePort}`,
      ca,
      tokens,
      emulator: {
        asmDelayMs: options.asmDelayMs ?? 8000,
        ccmDelayMs: options.ccmDelayMs ?? 3000,
        podReadyDelayMs: options.podReadyDelayMs ?? 1000,
      },
      defaultGateway: options.defaultGateway ?? true,
    };
    for (const role of CLUSTER_ROLES) {
      writeFileSync(state.clusters[role].kubeconfig, localKubeconfig(state, role), {
        mode: 0o600,
      });
    }

    // Controllers: the data plane runs workloads; the mesh needs at least garbage collection
    // (Pulumi deletes with foreground propagation, which waits for the collector) and namespaces.
    const controllerManagers: Record<ClusterRole, ReturnType<typeof launch>> = {} as never;
    for (const role of CLUSTER_ROLES) {
      const kubeconfig = join(stateDir, role, "controller-manager.kubeconfig");
      writeFileSync(kubeconfig, localKubeconfig(state, role), { mode: 0o600 });
      controllerManagers[role] = launch(
        `${role}-controller-manager`,
        options.tools["kube-controller-manager"],
        [
          `--kubeconfig=${kubeconfig}`,
          "--bind-address=127.0.0.1",
          "--secure-port=0",
          "--leader-elect=false",
          `--controllers=${CONTROLLERS[role]}`,
          `--service-account-private-key-file=${join(pki, "sa.key")}`,
          `--root-ca-file=${join(stateDir, role, "pki", "apiserver.crt")}`,
          "--use-service-account-credentials=false",
        ],
      );
      log(`${role} controller-manager (pid ${controllerManagers[role].child.pid})`);
    }

    const data = clusterClient(state, "data");
    const mesh = clusterClient(state, "mesh");
    await installCrds(data, crds.data, log, "data");
    await installCrds(mesh, crds.mesh, log, "mesh");
    for (const client of [data, mesh]) await ensureNamespace(client, "istio-system");
    // The serviceaccount controller's first act: proves the controller manager runs.
    for (const role of CLUSTER_ROLES) {
      const { logFile, child } = controllerManagers[role];
      const client = role === "data" ? data : mesh;
      await waitFor(`the ${role} controller manager`, logFile, child, async () =>
        Boolean(await client.find("/api/v1/namespaces/default/serviceaccounts/default")),
      );
    }

    // The cloud emulator.
    const readyFile = join(stateDir, "emulator.ready");
    const emulatorConfig: EmulatorConfig = {
      data: endpointOf(state, "data", "emulator"),
      mesh: endpointOf(state, "mesh", "emulator"),
      dataClusterId: LOCAL_CLUSTER_IDS.data,
      nodeName: "testbed-node-1",
      ...state.emulator,
      dataPort: ports.data,
      alternateDataPort: alternatePort,
      readyFile,
    };
    const configFile = join(stateDir, "emulator.json");
    writeFileSync(configFile, `${JSON.stringify(emulatorConfig, null, 2)}\n`, { mode: 0o600 });
    const emulator = launch(
      "emulator",
      process.execPath,
      ["--import", "tsx", join(__dirname, "emulator.ts"), configFile],
      REPO_ROOT,
    );
    log(
      `emulator       ASM ${state.emulator.asmDelayMs} ms, CLB ${state.emulator.ccmDelayMs} ms, pods ${state.emulator.podReadyDelayMs} ms (pid ${emulator.child.pid})`,
    );
    await waitFor("the cloud emulator", emulator.logFile, emulator.child, async () =>
      existsSync(readyFile),
    );

    if (state.defaultGateway) await seedDefaultGateway(mesh);
    writeFileSync(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, {
      mode: 0o600,
    });
    rmSync(join(stateDir, "processes.json"), { force: true });
    return state;
  } catch (error) {
    await stopProcesses(processes).catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
}

/** Creates the namespace `name` unless it exists. */
export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  if (await client.find(`/api/v1/namespaces/${name}`)) return;
  await client.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
}

/** Creates (or replaces) the CRDs and waits until each is Established. */
async function installCrds(
  client: KubeClient,
  crds: KubeObject[],
  log: (line: string) => void,
  role: string,
): Promise<void> {
  const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  for (const crd of crds) {
    await client.apply(`${base}/${crd.metadata.name}`, crd, "tcp-shift-testbed");
  }
  const deadline = Date.now() + 60_000;
  for (const crd of crds) {
    for (;;) {
      const current = await client.get(`${base}/${crd.metadata.name}`);
      const conditions = (
        current.status as { conditions?: Array<{ type: string; status: string }> }
      )?.conditions;
      if (conditions?.some((c) => c.type === "Established" && c.status === "True")) {
        // Established is not servable yet: the storage answers 429 for a moment after it.
        if (await servesEveryVersion(client, current)) break;
      }
      if (Date.now() > deadline) {
        throw new ClusterError(`CRD ${crd.metadata.name} was not established on ${role} in 60 s`);
      }
      await sleep(200);
    }
  }
  log(`${role} CRDs     ${crds.length} installed`);
}

/** True when every served version of the CRD answers a list. */
async function servesEveryVersion(client: KubeClient, crd: KubeObject): Promise<boolean> {
  const spec = crd.spec as {
    group: string;
    names: { plural: string };
    versions: Array<{ name: string; served: boolean }>;
  };
  for (const version of spec.versions.filter((v) => v.served)) {
    try {
      await client.list(`/apis/${spec.group}/${version.name}/${spec.names.plural}?limit=1`);
    } catch (error) {
      if (error instanceof KubeApiError && [404, 429, 503].includes(error.status)) return false;
      throw error;
    }
  }
  return true;
}

/** The mesh's default ingress gateway, as most ASM instances have it (ports 80 and 443). */
export const DEFAULT_INGRESS_GATEWAY = {
  apiVersion: "istio.alibabacloud.com/v1beta1",
  kind: "IstioGateway",
  metadata: { name: "ingressgateway", namespace: "istio-system" },
  spec: {
    gatewayType: "ingress",
    clusterIds: [LOCAL_CLUSTER_IDS.data],
    replicaCount: 1,
    serviceType: "LoadBalancer",
    ports: [
      { name: "http2", port: 80, targetPort: 80, protocol: "HTTP2" },
      { name: "https", port: 443, targetPort: 443, protocol: "HTTPS" },
    ],
  },
} as const;

/** Creates the default `ingressgateway` on the mesh unless it exists (as ASM's console does). */
export async function seedDefaultGateway(mesh: KubeClient): Promise<void> {
  const path = "/apis/istio.alibabacloud.com/v1beta1/namespaces/istio-system/istiogateways";
  try {
    await mesh.create(path, DEFAULT_INGRESS_GATEWAY);
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.status !== 409) throw error;
  }
}
