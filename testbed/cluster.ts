/**
 * `npm run cluster -- up|env|status|down`: local control planes for the real `pulumi` engine.
 *
 * A development and test harness. It EMULATES Alibaba Cloud: `mesh` stands for the ASM control
 * plane and `data` for the ACK cluster (two real kube-apiservers on 127.0.0.1, one etcd), and a
 * small emulator does what ASM and ACK's cloud controller would (see testbed/emulator.ts).
 *
 *   npm run cluster -- up [--data-port N] [--mesh-port N] [--no-default-gateway]
 *                         [--asm-delay 8s] [--clb-delay 3s] [--pod-delay 1s]
 *   eval "$(npm run -s cluster -- env)"
 *   npm run cluster -- status
 *   npm run cluster -- down
 *
 * State (PIDs, logs, kubeconfigs, the `file://` Pulumi backend): `$TCP_SHIFT_CLUSTER_DIR`, else
 * `.cluster/` in the repository (git-ignored). `down` removes it, stacks included.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXIT_CODES } from "../contract/exitCodes";
import { parseDuration } from "../dataplane/shared/commandFlags";
import { installAlicloudEmulator } from "./alicloudEmulator";
import {
  CLUSTER_ROLES,
  ClusterError,
  type ControlPlaneState,
  clusterClient,
  controlPlaneTools,
  isOurProcess,
  LOCAL_CLUSTER_IDS,
  readState,
  startControlPlanes,
  stopControlPlanes,
  TESTBED_STATE_ENV,
} from "./controlPlanes";
import { CrdSourceError } from "./crds";
import {
  ensureTools,
  NO_DOWNLOAD_ENV,
  pulumiHome,
  ToolBuildError,
  type ToolPaths,
  toolPaths,
} from "./toolchain";

const REPO_ROOT = resolve(__dirname, "..");

/** The state directory of `npm run cluster`. */
export function clusterStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TCP_SHIFT_CLUSTER_DIR || join(REPO_ROOT, ".cluster"));
}

/** Passphrase of the local `file://` backend's stacks (local only, nothing secret in them). */
export const LOCAL_PASSPHRASE = "tcp-shift-local";

const USAGE = `usage: npm run cluster -- <command> [options]

Local control planes for the real pulumi engine. EMULATES Alibaba Cloud: "mesh" stands for the
ASM control plane, "data" for the ACK cluster; an emulator stands in for ASM, ACK's cloud
controller, the scheduler and the kubelet. A development and test harness, not ASM.

commands:
  up       build missing tools, start etcd, two kube-apiservers, a controller manager and the
           emulator on 127.0.0.1 (idempotent)
  env      print export lines for a shell: eval "$(npm run -s cluster -- env)"
  status   what runs where
  down     stop everything up started (by PID) and remove its state, stacks included

options of up:
  --data-port N          port of the data API server (default: a free one)
  --mesh-port N          port of the mesh API server (default: a free one)
  --no-default-gateway   do not create the mesh's default IstioGateway "ingressgateway"
  --asm-delay 8s         how long ASM takes to deploy a gateway's Service (default 8s)
  --clb-delay 3s         how long the cloud controller takes to give a CLB address (default 3s)
  --pod-delay 1s         how long a pod takes to become ready (default 1s)
  --ready-timeout 90s    how long each server may take to become ready (default 90s)

state: $TCP_SHIFT_CLUSTER_DIR, else .cluster/ in the repository`;

function usageError(message: string): ClusterError & { usage: true } {
  return Object.assign(new ClusterError(`${message}\n\n${USAGE}`), { usage: true as const });
}

/** `8s`, `500ms`, `2m` or `0` to milliseconds (a bare `8` is refused: 8 ms or 8 s?). */
export function parseDelay(text: string, option: string): number {
  const ms = text.trim() === "0" ? 0 : parseDuration(text);
  if (ms === undefined) {
    throw usageError(`${option} ${text}: expected a duration such as 500ms, 8s or 1m`);
  }
  return ms;
}

function parsePort(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`${option} ${text}: expected a port from 1 to 65535`);
  }
  return port;
}

/** Every tool the by-hand session needs: the control planes, kubectl, pulumi and its provider. */
async function buildTools(): Promise<ToolPaths> {
  return ensureTools({
    only: ["etcd", "kubernetes", "pulumi", "pulumi-resource-kubernetes"],
    progress: "text",
  });
}

/** The `export` lines `env` prints. */
export function envLines(stateDir: string, paths: ToolPaths): string[] {
  const state = readState(stateDir);
  if (!state) {
    throw new ClusterError(`no local control planes in ${stateDir}: run npm run cluster -- up`);
  }
  const missing = (["pulumi", "kubectl"] as const).filter((name) => !paths[name]);
  if (missing.length > 0) {
    throw new ClusterError(`${missing.join(", ")} not built: run npm run cluster -- up`);
  }
  const dirs = [
    ...new Set(
      [paths.pulumi, paths.kubectl, paths.etcd].filter(Boolean).map((p) => dirname(p as string)),
    ),
  ];
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const vars: Array<[string, string]> = [
    ["KUBECONFIG", state.clusters.data.kubeconfig],
    ["TCP_SHIFT_KUBECONFIG", state.clusters.data.kubeconfig],
    ["TCP_SHIFT_MESH_KUBECONFIG", state.clusters.mesh.kubeconfig],
    ["TCP_SHIFT_CLUSTER_ID", LOCAL_CLUSTER_IDS.data],
    ["TCP_SHIFT_MESH_ID", LOCAL_CLUSTER_IDS.mesh],
    ["PULUMI_HOME", pulumiHome()],
    ["PULUMI_BACKEND_URL", `file://${join(stateDir, "backend")}`],
    ["PULUMI_CONFIG_PASSPHRASE", LOCAL_PASSPHRASE],
    // The emulated alicloud provider finds the local clusters here.
    [TESTBED_STATE_ENV, stateDir],
    ...Object.entries(NO_DOWNLOAD_ENV),
  ];
  return [
    // $PATH is expanded by the shell that evals this, not here (npm's PATH has its own entries).
    `export PATH=${quote(dirs.join(":"))}:"$PATH"`,
    ...vars.map(([name, value]) => `export ${name}=${quote(value)}`),
  ];
}

async function up(argv: string[], stateDir: string): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-port": { type: "string" },
      "mesh-port": { type: "string" },
      "no-default-gateway": { type: "boolean", default: false },
      "asm-delay": { type: "string", default: "8s" },
      "clb-delay": { type: "string", default: "3s" },
      "pod-delay": { type: "string", default: "1s" },
      "ready-timeout": { type: "string", default: "90s" },
    },
    strict: true,
  });
  const ports = {
    data: parsePort(values["data-port"], "--data-port"),
    mesh: parsePort(values["mesh-port"], "--mesh-port"),
  };
  const delays = {
    asmDelayMs: parseDelay(values["asm-delay"], "--asm-delay"),
    ccmDelayMs: parseDelay(values["clb-delay"], "--clb-delay"),
    podReadyDelayMs: parseDelay(values["pod-delay"], "--pod-delay"),
  };
  const readyTimeoutMs = parseDelay(values["ready-timeout"], "--ready-timeout");
  const existing = readState(stateDir);
  if (existing) {
    const dead = Object.entries(existing.processes).filter(([, p]) => !isOurProcess(p));
    if (dead.length === 0) {
      process.stdout.write(`already running (${stateDir}):\n`);
      printStatus(existing);
      return;
    }
    process.stdout.write(
      `stale state in ${stateDir} (${dead.map(([name]) => name).join(", ")} not running): restarting\n`,
    );
    await stopControlPlanes(stateDir);
  } else if (existsSync(join(stateDir, "processes.json"))) {
    await stopControlPlanes(stateDir); // an interrupted up
  }
  process.stdout.write("tools: building what is missing (the first build takes long)\n");
  const tools = await buildTools();
  const controlPlaneExecutables = controlPlaneTools(tools);
  const plugin = installAlicloudEmulator(tools.pulumi as string, pulumiHome());
  process.stdout.write(
    `alicloud provider: EMULATED (testbed/alicloudEmulator.ts), installed in ${plugin}\n`,
  );
  const t0 = performance.now();
  const state = await startControlPlanes({
    stateDir,
    tools: controlPlaneExecutables,
    ports,
    ...delays,
    defaultGateway: !values["no-default-gateway"],
    readyTimeoutMs,
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  // The `file://` backend of the by-hand session (env's PULUMI_BACKEND_URL); gone with `down`.
  mkdirSync(join(stateDir, "backend"), { recursive: true });
  process.stdout.write(
    `up in ${((performance.now() - t0) / 1000).toFixed(1)} s. EMULATED: "mesh" stands for the ASM control plane, "data" for the ACK cluster (${state.clusters.data.clusterId}).\n`,
  );
  printStatus(state);
  process.stdout.write(`\nuse it from a shell:\n  eval "$(npm run -s cluster -- env)"\n`);
}

/** Prints what runs where; true when every process of `state` runs. */
function printStatus(state: ControlPlaneState): boolean {
  let healthy = true;
  for (const [name, record] of Object.entries(state.processes)) {
    const alive = isOurProcess(record);
    healthy &&= alive;
    process.stdout.write(
      `  ${name.padEnd(24)} pid ${String(record.pid).padEnd(8)} ${alive ? "running" : "NOT RUNNING"}  log ${record.log}\n`,
    );
  }
  for (const role of CLUSTER_ROLES) {
    const cluster = state.clusters[role];
    const stands = role === "data" ? "the ACK cluster" : "the ASM control plane";
    process.stdout.write(
      `  ${role.padEnd(5)} ${cluster.server}  (stands for ${stands}, id ${cluster.clusterId})  kubeconfig ${cluster.kubeconfig}\n`,
    );
  }
  process.stdout.write(`  data, second endpoint ${state.dataAlternateServer}\n`);
  process.stdout.write(
    `  emulator delays: ASM ${state.emulator.asmDelayMs} ms, CLB ${state.emulator.ccmDelayMs} ms, pods ${state.emulator.podReadyDelayMs} ms; default gateway ${state.defaultGateway ? "created" : "not created"}\n`,
  );
  return healthy;
}

async function status(stateDir: string): Promise<number> {
  const state = readState(stateDir);
  if (!state) {
    process.stdout.write(`not running (no state in ${stateDir})\n`);
    return EXIT_CODES.failure;
  }
  if (!printStatus(state)) return EXIT_CODES.failure;
  for (const role of CLUSTER_ROLES) {
    const ok = await clusterClient(state, role)
      .request<string>("/readyz", { text: true, timeoutMs: 3000 })
      .then((text) => text === "ok")
      .catch(() => false);
    process.stdout.write(`  ${role} API server ready: ${ok ? "yes" : "NO"}\n`);
    if (!ok) return EXIT_CODES.failure;
  }
  return EXIT_CODES.ok;
}

/** The command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const [command, ...rest] = args;
  const stateDir = clusterStateDir();
  try {
    switch (command) {
      case "up":
        await up(rest, stateDir);
        return EXIT_CODES.ok;
      case "env":
        if (rest.length > 0) throw usageError(`env takes no arguments: ${rest.join(" ")}`);
        process.stdout.write(`${envLines(stateDir, toolPaths()).join("\n")}\n`);
        return EXIT_CODES.ok;
      case "status":
        return await status(stateDir);
      case "down": {
        const stopped = await stopControlPlanes(stateDir);
        process.stdout.write(
          stopped.length > 0
            ? `stopped ${stopped.join(", ")}; removed ${stateDir}\n`
            : `nothing was running; removed ${stateDir}\n`,
        );
        return EXIT_CODES.ok;
      }
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`);
        return EXIT_CODES.ok;
      default:
        throw usageError(command ? `unknown command ${command}` : "a command is required");
    }
  } catch (error) {
    if ((error as { usage?: boolean }).usage) {
      process.stderr.write(`${(error as Error).message}\n`);
      return EXIT_CODES.usage;
    }
    if (
      error instanceof TypeError &&
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return EXIT_CODES.usage;
    }
    if (
      error instanceof ClusterError ||
      error instanceof ToolBuildError ||
      error instanceof CrdSourceError
    ) {
      process.stderr.write(`cluster ${command}: ${error.message}\n`);
      return EXIT_CODES.failure;
    }
    throw error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`cluster failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = EXIT_CODES.internal;
    },
  );
}
