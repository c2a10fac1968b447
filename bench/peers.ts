/**
 * The peers of the benchmark, each listening on 127.0.0.1 with its own config in a temp folder
 * and stopped at the end: the two tcp-echo backends, the project's gateway, HAProxy (`mode tcp`,
 * `nbthread 1`), nginx stream (1 worker, `proxy_half_close on`) and direct-to-backend.
 * All proxies use the same weights (v1 = `one` 80, v2 = `two` 20) over the same backend
 * addresses: each backend listens on every address of {@link BACKEND_HOSTS} and every peer
 * lists them all (port space, see addressPlan.ts).
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { createWriteStream, existsSync, renameSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { DataPath } from "../dataplane/gateway/gatewayConnection";
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from "../dataplane/gateway/gatewayNodeFlags";
import { BACKEND_HOSTS, LISTEN_HOST } from "./addressPlan";
import { startChild, stderrOf, stopChild } from "./children";
import { ECHO_BIN } from "./loadgen";
import { pidsListeningOn, processTree } from "./procStats";

/** Loopback only: the benchmark never sends traffic anywhere else. */
export const HOST = LISTEN_HOST;
/** The issue's split: v1 gets 80 %, v2 20 %. */
export const WEIGHTS = { one: 80, two: 20 } as const;
export const NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
export const INSTALL_HINT = "apt-get install haproxy nginx-light libnginx-mod-stream";

export type PeerName = "gateway" | "haproxy" | "nginx" | "direct";

/**
 * Listen ports come from below the ephemeral range (32768–60999 here): the load phases open
 * tens of thousands of outgoing connections, and one of them can take an OS-picked port in the
 * gap between this check and the peer's bind.
 */
const PORT_RANGE = { from: 20_000, to: 32_000 } as const;

function canListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback port that is free now on every one of `hosts` (closed again before use). */
export async function freePort(hosts: readonly string[] = [HOST]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate =
      PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    let free = true;
    for (const host of hosts) free = free && (await canListen(candidate, host)) !== undefined;
    if (free) return candidate;
  }
  throw new Error(`no port free on ${hosts.join(", ")} in ${PORT_RANGE.from}–${PORT_RANGE.to}`);
}

/** Resolve once `port` accepts a TCP connection; reject after `timeoutMs` or if `child` dies. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  child?: ChildProcess,
  host: string = HOST,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`exited (${child.exitCode ?? child.signalCode}): ${stderrOf(child)}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      socket.setTimeout(500);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.once("timeout", () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** First executable called `name` in PATH, /usr/sbin or /usr/bin. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin"];
  return dirs
    .filter((dir) => dir !== "")
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path));
}

/** The two tcp-echo backends, each its own process listening on every one of `hosts`. */
export interface Backends {
  kind: "c" | "node";
  /** Loopback addresses both backends listen on (each on its own port). */
  hosts: readonly string[];
  one: { port: number; child: ChildProcess };
  two: { port: number; child: ChildProcess };
  stop(): Promise<void>;
}

/** Options of {@link startBackends}. */
export interface BackendOptions {
  /**
   * C echo only: start it with `--report` and hand over each per-connection line
   * (`{"conn":...}`, see echo.c) as it comes. The Node echo has no such report.
   */
  onReport?: (prefix: "one" | "two", line: string) => void;
}

/** Where the backends listen: what a peer's config needs. */
export interface BackendAddresses {
  hosts: readonly string[];
  one: { port: number };
  two: { port: number };
}

/** `host:port` of every address of a backend. */
export function endpointsOf(backends: Pick<Backends, "hosts">, port: number): string[] {
  return backends.hosts.map((host) => `${host}:${port}`);
}

/**
 * Start both backends: the C epoll echo (default, bench/echo.c, listening on every address of
 * {@link BACKEND_HOSTS}) or the project's Node echo (`node dist/dataplane/echo/echoMain.js PORT
 * PREFIX`, per-line logs silenced with LOG_LEVEL=warn; it listens on every address).
 */
export async function startBackends(
  kind: "c" | "node",
  repoRoot: string,
  options: BackendOptions = {},
): Promise<Backends> {
  const hosts = BACKEND_HOSTS;
  const { onReport } = options;
  const start = async (prefix: "one" | "two") => {
    const port = await freePort(hosts);
    const report = kind === "c" && onReport !== undefined;
    const child =
      kind === "c"
        ? startChild({
            command: ECHO_BIN,
            args: [...(report ? ["--report"] : []), String(port), prefix, ...hosts],
            label: `echo ${prefix}`,
          })
        : startChild({
            command: process.execPath,
            args: [join(repoRoot, "dist/dataplane/echo/echoMain.js"), String(port), prefix],
            env: { LOG_LEVEL: "warn" },
            label: `echo ${prefix}`,
          });
    if (report && child.stdout)
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (line.startsWith('{"conn"')) onReport(prefix, line);
      });
    else child.stdout?.resume();
    child.stdin?.end();
    for (const host of hosts) await waitForPort(port, 10_000, child, host);
    return { port, child };
  };
  const one = await start("one");
  const two = await start("two");
  return {
    kind,
    hosts,
    one,
    two,
    stop: async () => {
      await Promise.all([stopChild(one.child), stopChild(two.child)]);
    },
  };
}

/** A started peer. */
export interface RunningPeer {
  name: PeerName;
  /** Load generator targets: the proxy's listener, or the backends with weights (direct). */
  targets: string[];
  /** Root pid of the proxy process tree; undefined for direct. */
  pid?: number;
  stop(): Promise<void>;
}

/** The gateway, plus what the reload phase needs. */
export interface RunningGateway extends RunningPeer {
  routeFile: string;
  /** Admin address `127.0.0.1:PORT` (/metrics, /readyz). */
  admin: string;
  /** Atomically replace the route file (write + rename, as a ConfigMap update does). */
  writeRoutes(weights: { one: number; two: number }): void;
}

/** What every peer's start needs. */
export interface PeerContext {
  backends: Backends;
  /** A fresh temp folder for this peer's config, pid and log files. */
  dir: string;
  repoRoot: string;
  /** Idle connections the RSS phase opens (sizes HAProxy maxconn, nginx worker_connections). */
  idleConnections: number;
  /** Extra `node` flags for the gateway (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** The gateway's `--data-path`. @default the gateway's own default */
  dataPath?: DataPath;
  /** Where the gateway's JSON log lines (stdout and stderr) go. @default discarded */
  logFile?: string;
  /** The weights at start (the gateway, and HAProxy and nginx). @default WEIGHTS */
  initialWeights?: { one: number; two: number };
  /** Listener fields of the gateway's route file. @default balance smooth, no drain */
  listener?: GatewayListenerOptions;
}

/** Route-file listener fields the drain and sticky checks set (contract/routeFile.ts). */
export interface GatewayListenerOptions {
  balance?: "smooth" | "random" | "sticky";
  drainAfterSeconds?: number;
  drainRate?: number;
}

/** Why a peer cannot run here (missing binary or build), or undefined when it can. */
export function unavailableReason(name: PeerName, repoRoot: string): string | undefined {
  if (name === "haproxy" && !findBinary("haproxy")) return `haproxy not found: ${INSTALL_HINT}`;
  if (name === "nginx") {
    if (!findBinary("nginx")) return `nginx not found: ${INSTALL_HINT}`;
    if (!existsSync(NGINX_STREAM_MODULE))
      return `${NGINX_STREAM_MODULE} not found: ${INSTALL_HINT}`;
  }
  if (name === "gateway" && !existsSync(join(repoRoot, "dist/dataplane/gateway/gatewayMain.js")))
    return "dist/dataplane/gateway/gatewayMain.js not built (npm run build)";
  return undefined;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () => stopChild(child, 5000);
}

/** Route file of the gateway: one listener, v1/v2 with the given weights. */
export function gatewayRoutes(
  listenPort: number,
  backends: BackendAddresses,
  weights: { one: number; two: number },
  maxConnections: number,
  listener: GatewayListenerOptions = {},
) {
  return {
    listeners: [
      {
        name: "bench",
        listen: `${HOST}:${listenPort}`,
        balance: "smooth",
        ...listener,
        maxConnections,
        routes: [
          { name: "v1", weight: weights.one, endpoints: endpointsOf(backends, backends.one.port) },
          { name: "v2", weight: weights.two, endpoints: endpointsOf(backends, backends.two.port) },
        ],
      },
    ],
  };
}

/**
 * One server line per backend address, each with its version's weight (80/20 over 4 addresses
 * is 4 × 80 and 4 × 20: still 80/20), so the proxy's backend side gets the same address pairs as
 * the gateway's round robin over a route's endpoints.
 */
export function weightedServers(
  backends: BackendAddresses,
  weights: { one: number; two: number } = WEIGHTS,
): { name: string; address: string; weight: number }[] {
  const servers: { name: string; address: string; weight: number }[] = [];
  for (const [version, port, weight] of [
    ["v1", backends.one.port, weights.one],
    ["v2", backends.two.port, weights.two],
  ] as const) {
    endpointsOf(backends, port).forEach((address, i) => {
      servers.push({ name: `${version}-${i + 1}`, address, weight });
    });
  }
  return servers;
}

export async function startGateway(ctx: PeerContext): Promise<RunningGateway> {
  const port = await freePort();
  const adminPort = await freePort();
  const routeFile = join(ctx.dir, "routes.json");
  const maxConnections = Math.max(20_000, ctx.idleConnections * 2);
  const writeRoutes = (weights: { one: number; two: number }) => {
    const tmp = `${routeFile}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify(gatewayRoutes(port, ctx.backends, weights, maxConnections, ctx.listener)),
    );
    renameSync(tmp, routeFile);
  };
  writeRoutes(ctx.initialWeights ?? WEIGHTS);
  const child = startChild({
    command: process.execPath,
    args: [
      // As the image runs it (dataplane/docker-entrypoint.sh).
      ...GATEWAY_NODE_FLAGS,
      ...(ctx.nodeFlags ?? []),
      join(ctx.repoRoot, "dist/dataplane/gateway/gatewayMain.js"),
      "--config",
      routeFile,
      "--admin",
      `${HOST}:${adminPort}`,
      "--drain-seconds",
      "1",
      ...(ctx.dataPath ? ["--data-path", ctx.dataPath] : []),
    ],
    cwd: ctx.dir,
    env: { ...GATEWAY_ENV },
    label: "gateway",
  });
  // JSON logs: kept for diagnosis when asked, else drained so they never block the gateway
  if (ctx.logFile) {
    const log = createWriteStream(ctx.logFile);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  } else child.stdout?.resume();
  child.stdin?.end();
  await waitForPort(port, 15_000, child);
  return {
    name: "gateway",
    targets: [`${HOST}:${port}`],
    pid: child.pid,
    routeFile,
    admin: `${HOST}:${adminPort}`,
    writeRoutes,
    stop: stopper(child),
  };
}

/**
 * An HAProxy config of one tcp-mode frontend on `port` and one round-robin backend of `servers`
 * (its `server` lines): one thread, long timeouts (the idle phase).
 */
export function haproxyTcpConfig(
  port: number,
  maxconn: number,
  names: { frontend: string; backend: string },
  servers: string,
): string {
  return `global
  nbthread 1
  maxconn ${maxconn}

defaults
  mode tcp
  timeout connect 5s
  timeout client 900s
  timeout server 900s
  maxconn ${maxconn}

frontend ${names.frontend}
  bind ${HOST}:${port}
  default_backend ${names.backend}

backend ${names.backend}
  balance roundrobin
${servers}
`;
}

/** HAProxy in front of the echo backends, weighted round robin (see `haproxyTcpConfig`). */
export function haproxyConfig(
  port: number,
  backends: BackendAddresses,
  maxconn: number,
  weights: { one: number; two: number } = WEIGHTS,
): string {
  const servers = weightedServers(backends, weights)
    .map((s) => `  server ${s.name} ${s.address} weight ${s.weight}`)
    .join("\n");
  return haproxyTcpConfig(port, maxconn, { frontend: "bench", backend: "echo" }, servers);
}

/** nginx config: stream module, 1 worker, weighted upstream, half-close carried through. */
export function nginxConfig(
  dir: string,
  port: number,
  backends: BackendAddresses,
  conns: number,
  weights: { one: number; two: number } = WEIGHTS,
): string {
  const servers = weightedServers(backends, weights)
    // nginx has no weight 0: such a server is marked down
    .map((s) => `    server ${s.address} ${s.weight > 0 ? `weight=${s.weight}` : "down"};`)
    .join("\n");
  return `load_module ${NGINX_STREAM_MODULE};
worker_processes 1;
worker_rlimit_nofile ${2 * conns + 100};
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;

events {
  worker_connections ${2 * conns + 50};
}

stream {
  upstream echo {
${servers}
  }
  server {
    listen ${HOST}:${port} backlog=4096;
    proxy_pass echo;
    proxy_half_close on;
    proxy_timeout 900s;
  }
}
`;
}

/** Direct to the backends: the load generator itself spreads 80/20 (smooth round robin). */
export function directPeer(backends: Backends): RunningPeer {
  return {
    name: "direct",
    targets: weightedServers(backends).map((s) => `${s.address}=${s.weight}`),
    stop: async () => {},
  };
}

/** Start peer `name`. */
export function startPeer(name: PeerName, ctx: PeerContext): Promise<RunningPeer> {
  switch (name) {
    case "gateway":
      return startGateway(ctx);
    case "haproxy":
      return startHaproxy(ctx);
    case "nginx":
      return startNginx(ctx);
    case "direct":
      return Promise.resolve(directPeer(ctx.backends));
  }
}

/** A proxy whose weights change through its own reload path (the shift check reloads it). */
export interface ReloadablePeer extends RunningPeer {
  /** Rewrite the config with `weights`, reload, resolve once the new config is in force. */
  reload(weights: { one: number; two: number }): Promise<void>;
  /** Pids of the peer's processes now, old ones still finishing their connections included. */
  processes(): number[];
}

async function waitUntil(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * HAProxy listening on a free port with `config(port, weights)` (default: in front of the echo
 * backends, see `haproxyConfig`), reloaded the classic way: a new process with the new config and
 * `-sf OLDPID`. The new process binds (SO_REUSEPORT), then tells the old one to finish: the old
 * one stops listening and keeps serving its open connections until they end. A reload is in
 * force once the new process listens and the old one no longer does.
 */
export async function startHaproxy(
  ctx: PeerContext,
  config: (port: number, weights: { one: number; two: number }) => string = (port, weights) =>
    haproxyConfig(port, ctx.backends, ctx.idleConnections + 50, weights),
): Promise<ReloadablePeer> {
  const port = await freePort();
  const file = join(ctx.dir, "haproxy.cfg");
  const write = (w: { one: number; two: number }) => writeFileSync(file, config(port, w));
  const children: ChildProcess[] = [];
  const spawnOne = (previous?: number) => {
    const child = startChild({
      command: findBinary("haproxy") ?? "haproxy",
      args: ["-f", file, "-db", ...(previous ? ["-sf", String(previous)] : [])],
      cwd: ctx.dir,
      label: "haproxy",
    });
    child.stdout?.resume();
    child.stdin?.end();
    children.push(child);
    return child;
  };
  write(ctx.initialWeights ?? WEIGHTS);
  let current = spawnOne();
  await waitForPort(port, 10_000, current);
  const alive = () =>
    children
      .filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined)
      .map((c) => c.pid as number);
  return {
    name: "haproxy",
    targets: [`${HOST}:${port}`],
    pid: current.pid,
    processes: alive,
    reload: async (w) => {
      write(w);
      const old = current.pid as number;
      const next = spawnOne(old);
      const nextPid = next.pid as number;
      await waitUntil("haproxy -sf reload", 5000, () => {
        if (next.exitCode !== null) throw new Error(`haproxy reload failed: ${stderrOf(next)}`);
        const listening = pidsListeningOn(port, [old, nextPid]);
        return listening.includes(nextPid) && !listening.includes(old);
      });
      current = next;
    },
    stop: async () => {
      await Promise.all(children.map((c) => stopChild(c, 5000)));
    },
  };
}

/**
 * nginx stream in front of the echo backends (see `nginxConfig`), reloaded with `nginx -s reload`
 * (SIGHUP to the master): the master reads the new config and starts a new worker; the old
 * worker stops accepting and keeps its open connections until they end (no
 * `worker_shutdown_timeout`). In force once a new worker is running.
 */
export async function startNginx(ctx: PeerContext): Promise<ReloadablePeer> {
  const port = await freePort();
  const config = join(ctx.dir, "nginx.conf");
  const binary = findBinary("nginx") ?? "nginx";
  const baseArgs = ["-e", join(ctx.dir, "error.log"), "-c", config, "-p", ctx.dir];
  const write = (w: { one: number; two: number }) =>
    writeFileSync(config, nginxConfig(ctx.dir, port, ctx.backends, ctx.idleConnections + 50, w));
  write(ctx.initialWeights ?? WEIGHTS);
  const child = startChild({
    command: binary,
    args: [...baseArgs, "-g", "daemon off;"],
    cwd: ctx.dir,
    label: "nginx",
  });
  child.stdout?.resume();
  child.stdin?.end();
  await waitForPort(port, 10_000, child);
  const master = child.pid as number;
  return {
    name: "nginx",
    targets: [`${HOST}:${port}`],
    pid: master,
    processes: () => processTree(master),
    reload: async (w) => {
      write(w);
      const before = new Set(processTree(master));
      execFileSync(binary, [...baseArgs, "-s", "reload"], { stdio: "pipe" });
      await waitUntil("nginx -s reload", 5000, () =>
        processTree(master).some((pid) => !before.has(pid)),
      );
    },
    stop: stopper(child),
  };
}
