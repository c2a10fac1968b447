/**
 * Local mode: the whole shift on one machine. tcp-echo v1 and v2 and the bundled gateway, run
 * from a stack file's own config, with the gateway's route file built by the same function as
 * the cluster's. Editing `weightV2` (or `gatewayBalance`, `gatewayProxyProtocol`, `drainAfter`,
 * `drainRate`) in the stack file reloads the gateway in place; the file is followed by the
 * data plane's own file watcher (dataplane/shared/fileWatcher.ts).
 *
 * With `admin`, the gateway's admin endpoints (`/healthz`, `/readyz`, `/metrics`) are served
 * by the gateway's own admin server (dataplane/gateway/adminServer.ts), so `npm run shift
 * --metrics` works against local mode as against a deployed gateway.
 *
 * `startLocalStack()` holds all of it so tests drive it in-process; `start.ts` is the CLI.
 */

import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { basename, dirname } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { parse as parseYaml } from "yaml";
import { formatAddress, joinHostPort } from "../../contract/hostPort";
import { type RouteFile, validateRouteFile } from "../../contract/routeFile";
import { UserError } from "../../contract/userError";
import { createEchoServer, type EchoServer } from "../../dataplane/echo/echoServer";
import { type AdminServer, createAdminServer } from "../../dataplane/gateway/adminServer";
import {
  createGateway,
  LISTEN_ERROR_CODE,
  type TcpGateway,
} from "../../dataplane/gateway/tcpGateway";
import { type FileWatchError, watchFile } from "../../dataplane/shared/fileWatcher";
import { createLogger, type Logger } from "../../dataplane/shared/jsonLogger";
import { DESCRIPTOR_RESERVE, openFilesLimit } from "../../dataplane/shared/openFiles";
import {
  closestConfigKey,
  parseConfig,
  SECRET_KEYS,
  type TcpShiftConfig,
} from "../../infra/config/config";
import { gatewayRouteOptions } from "../../infra/config/settings";
import {
  isSecureValue,
  parseStackConfig,
  STACK_FILE_ERROR_CODE,
  secureValueStandIn,
  stackFilePath,
  stacksIn,
} from "../../infra/config/stackFile";
import { PROJECT_NAME, VERSIONS, type Version } from "../../infra/constants";
import { buildGatewayRoutes } from "../../infra/manifests/gatewayRoutes";
import { splitWeights, type VersionWeights } from "../../infra/manifests/weights";

/** Options of `startLocalStack`. */
export interface LocalStackOptions {
  /** Stack name: config comes from `Pulumi.<stack>.yaml`. @default "dev" */
  stack?: string;
  /** Directory holding the stack file. @default process.cwd() */
  dir?: string;
  /** Address the gateway accepts on. @default "127.0.0.1" */
  host?: string;
  /** Gateway port; 0 lets the OS choose. @default the stack's `ingressPort` (31400) */
  port?: number;
  /**
   * `host:port` of the gateway's admin endpoints (`/healthz`, `/readyz`, `/metrics`, as the
   * deployed gateway serves them; port 0 lets the OS choose). @default none: not served
   */
  admin?: string;
  /**
   * What to do without a stack file: `defaults` runs with the schema's defaults (a fresh clone
   * works) and picks the file up once it appears; `error` refuses to start.
   * @default "defaults"
   */
  missingStackFile?: "defaults" | "error";
  /** Human-readable lines (listeners, weights). @default stdout */
  print?: (line: string) => void;
  /** Human-readable problems (an invalid edit). @default stderr */
  printError?: (line: string) => void;
  /** The gateway's and echo servers' JSON logs. @default warnings and errors to stderr */
  logger?: Logger;
  /** Wait this long after the last file event before re-reading (editors write in steps). */
  debounceMs?: number;
  /** How long a file rewritten in place must stay the same before it is used. @default 250 */
  stableMs?: number;
}

/** A running local stack. */
export interface LocalStack {
  /** The gateway's bound address (the real port when `port` was 0). */
  readonly host: string;
  readonly port: number;
  /** The echo servers' bound addresses. */
  readonly echo: Readonly<Record<Version, AddressInfo>>;
  /** The admin server's bound address, with `admin`. */
  readonly admin?: AddressInfo;
  /** Path of the watched stack file. */
  readonly stackFile: string;
  /** Weights in force. */
  readonly weights: VersionWeights;
  /** Config last read from the stack file (secrets replaced by stand-ins). */
  readonly config: TcpShiftConfig;
  /** Open connections through the gateway. */
  readonly activeConnections: number;
  /** Stop watching, stop accepting, drain open connections within `graceMs`, stop the servers. */
  close(graceMs?: number): Promise<void>;
}

/** Drain time for Ctrl-C: long enough for a reply in flight, short enough for a terminal. */
export const DEFAULT_GRACE_MS = 5_000;

/** Config keys local mode acts on; everything else only matters to the cloud deployment. */
const LOCAL_KEYS = [
  "weightV2",
  "prefixV1",
  "prefixV2",
  "appName",
  "ingressPort",
  "gatewayBalance",
  "gatewayProxyProtocol",
  "drainAfter",
  "drainRate",
];

/**
 * Keys of the stack file's `config:` block without a namespace (`weightV2: "30"` instead of
 * `tcp-shift:weightV2`): Pulumi reads only `namespace:key`, so such a key is a mistake, said like
 * an unknown key, with the key it most likely means.
 */
export function unnamespacedKeys(text: string, path: string): string[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch {
    return []; // parseStackConfig reports the syntax error
  }
  const config = (document as { config?: unknown } | null)?.config;
  if (typeof config !== "object" || config === null || Array.isArray(config)) return [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (key.includes(":")) continue;
    const known = closestConfigKey(key);
    const hint = known
      ? `did you mean ${PROJECT_NAME}:${known}?`
      : `config keys are namespace:key, e.g. ${PROJECT_NAME}:weightV2`;
    problems.push(
      `${key} = ${isSecureValue(value) ? "[secret]" : JSON.stringify(value)}: key without a namespace (Pulumi ignores it); ${hint}`,
    );
  }
  if (problems.length === 0) return [];
  return [`Invalid ${PROJECT_NAME} configuration in ${path}:`, ...problems.map((p) => `  - ${p}`)];
}

/**
 * Stack file text to validated config, with the schema of the Pulumi program. Secrets
 * (`{secure: ...}`) need the Pulumi CLI to decrypt, and no local listener uses them: a stand-in
 * keeps the cross-key rules (e.g. gatewayBuild needs registryPassword) satisfied, and their values
 * are never shown. A key local mode acts on (weightV2, prefixes, ...) cannot be a secret here.
 */
export function localConfig(text: string | undefined, path: string): TcpShiftConfig {
  const raw = text === undefined ? {} : parseStackConfig(text, path);
  const bare = text === undefined ? [] : unnamespacedKeys(text, path);
  if (bare.length > 0) {
    // Said together with the other problems of the file, if any.
    let others: string[] = [];
    try {
      localConfigOf(raw, path);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      others = error.message.split("\n").slice(1);
    }
    throw new UserError(STACK_FILE_ERROR_CODE, [...bare, ...others].join("\n"));
  }
  return localConfigOf(raw, path);
}

function localConfigOf(raw: Record<string, unknown>, path: string): TcpShiftConfig {
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!isSecureValue(value)) continue;
    if (LOCAL_KEYS.includes(key))
      throw new UserError(
        STACK_FILE_ERROR_CODE,
        `${path}: ${PROJECT_NAME}:${key} is encrypted ({secure: ...}) and local mode cannot decrypt it; set it in plain text (only credentials such as ${SECRET_KEYS.join(", ")} need to be secrets)`,
      );
    raw[key] = secureValueStandIn(key);
    secretKeys.push(key);
  }
  return parseConfig(raw, path, secretKeys);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserError(STACK_FILE_ERROR_CODE, `Cannot read stack file ${path}: ${String(error)}`);
  }
}

function formatWeights(weights: VersionWeights, file: string): string {
  return `weights v1=${weights.v1} v2=${weights.v2} (${file})`;
}

/** `gateway: balance sticky, PROXY protocol on, drain after 30s at 10/s` */
function formatGateway(config: TcpShiftConfig, file: string): string {
  const drain =
    config.drainAfter === undefined
      ? "no drain"
      : `drain after ${config.drainAfter} at ${config.drainRate}/s`;
  return `gateway: balance ${config.gatewayBalance}, PROXY protocol ${config.gatewayProxyProtocol ? "on" : "off"}, ${drain} (${file})`;
}

/** The deployed gateway's default; local mode stays below it when descriptors are short. */
const GATEWAY_MAX_CONNECTIONS = 10_000;

/**
 * The gateway's connection limit in local mode: every connection holds three descriptors in
 * this one process (client and backend sockets in the gateway, the echo server's end), so the
 * limit follows the open-files limit instead of warning that 10,000 cannot be carried.
 */
export function localMaxConnections(openFiles: number | undefined): number {
  if (openFiles === undefined) return GATEWAY_MAX_CONNECTIONS;
  return Math.max(
    1,
    Math.min(GATEWAY_MAX_CONNECTIONS, Math.floor((openFiles - DESCRIPTOR_RESERVE) / 3)),
  );
}

/** Start the echo servers and the gateway from the stack file; resolves once all listen. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stack = options.stack ?? "dev";
  const stackFile = stackFilePath(stack, options.dir);
  const fileName = basename(stackFile);
  const host = options.host ?? "127.0.0.1";
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const printError = options.printError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const logger =
    options.logger ?? createLogger({ stream: process.stderr, level: "warn", name: "local" });

  const initialText = readText(stackFile);
  if (initialText === undefined) {
    if (options.missingStackFile === "error") {
      const stacks = stacksIn(dirname(stackFile));
      throw new UserError(
        STACK_FILE_ERROR_CODE,
        stacks.length > 0
          ? `No stack file ${stackFile}; the stacks in ${dirname(stackFile)} are ${stacks.join(", ")} (pick one with --stack)`
          : `No stack file ${stackFile}: create it, or pick another stack with --stack`,
      );
    }
    print(`no ${fileName} yet: using the default config (weightV2 0) until it appears`);
  }
  let config = localConfig(initialText, stackFile);
  let weights = splitWeights(config.weightV2);

  // Backends are local and private to this process: loopback, ports from the OS.
  const echoServers: Record<Version, EchoServer> = {
    v1: createEchoServer({ ports: [0], prefix: config.prefixV1, host: "127.0.0.1", logger }),
    v2: createEchoServer({ ports: [0], prefix: config.prefixV2, host: "127.0.0.1", logger }),
  };
  const echo = {} as Record<Version, AddressInfo>;
  let gateway: TcpGateway | undefined;
  let admin: AdminServer | undefined;
  try {
    for (const version of VERSIONS) {
      const [address] = await echoServers[version].listen();
      echo[version] = address as AddressInfo;
    }
    const endpoints = {
      v1: [joinHostPort("127.0.0.1", echo.v1.port)],
      v2: [joinHostPort("127.0.0.1", echo.v2.port)],
    };
    // Weights, balance, PROXY protocol and drain follow the file; names, prefixes and ports are
    // fixed at start.
    const listenerName = config.appName;
    const maxConnections = localMaxConnections(openFilesLimit());
    const routesFor = (current: TcpShiftConfig, listen: string): RouteFile => {
      const built = buildGatewayRoutes({
        name: listenerName,
        weightV2: current.weightV2,
        options: gatewayRouteOptions(current),
        listen,
        endpoints,
      });
      return validateRouteFile(
        { listeners: built.listeners.map((listener) => ({ ...listener, maxConnections })) },
        `routes built from ${fileName}`,
      );
    };

    const requestedPort = options.port ?? config.ingressPort;
    // Reloads repeat this exact string: the gateway keeps a listener whose name and `listen` are
    // unchanged, so even a `--port 0` listener stays bound where it is.
    const listen = joinHostPort(host, requestedPort);
    let routes = routesFor(config, listen);
    const registry = new Registry();
    gateway = createGateway({ routes, logger, registry });
    try {
      await gateway.listen();
    } catch (error) {
      throw listenError(error, host, requestedPort);
    }
    const bound = gateway.address(listenerName);
    if (!bound) throw new Error(`gateway has no listener named ${listenerName}`);
    const running = gateway;
    let adminAddress: AddressInfo | undefined;
    if (options.admin !== undefined) {
      // What the deployed gateway's admin port serves (gatewayMain.ts): the process metrics too.
      collectDefaultMetrics({ register: registry });
      admin = createAdminServer({
        address: options.admin,
        registry,
        isReady: () => running.ready,
        metricsVersion: () => running.reloadCount,
        logger,
      });
      adminAddress = await admin.listen().catch((error: unknown) => {
        throw adminListenError(error, options.admin as string);
      });
    }

    print(
      `listening on ${joinHostPort("127.0.0.1", echo.v1.port)} (tcp-echo v1, prefix "${config.prefixV1}")`,
    );
    print(
      `listening on ${joinHostPort("127.0.0.1", echo.v2.port)} (tcp-echo v2, prefix "${config.prefixV2}")`,
    );
    print(`listening on ${joinHostPort(host, bound.port)} (gateway, stack ${stack})`);
    if (adminAddress)
      print(
        `listening on ${formatAddress(adminAddress)} (gateway admin: /healthz /readyz /metrics)`,
      );
    print(formatWeights(weights, fileName));
    if (config.gatewayBalance !== "smooth" || config.gatewayProxyProtocol || config.drainAfter)
      print(formatGateway(config, fileName));

    let queue: Promise<unknown> = Promise.resolve();
    // After an invalid edit (or a deleted file), the fix is confirmed even when it restores the
    // same weights.
    let lastInvalid = false;
    const keeping = () => `keeping ${formatWeights(weights, fileName)}`;

    /** Apply one version of the file's text (undefined: the file is gone). */
    const applyText = async (text: string | undefined): Promise<void> => {
      // A deleted or emptied file is a save in progress (or a mistake), not "all defaults":
      // keep what runs, say so once, and apply the file when it is back.
      if (text === undefined || text.trim() === "") {
        print(`${fileName} is ${text === undefined ? "gone" : "empty"}: ${keeping()}`);
        lastInvalid = true;
        return;
      }
      let next: TcpShiftConfig;
      try {
        next = localConfig(text, stackFile);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        printError(error.message);
        printError(keeping());
        lastInvalid = true;
        return;
      }
      const restartOnly = (["prefixV1", "prefixV2", "ingressPort", "appName"] as const).filter(
        (key) => next[key] !== config[key],
      );
      if (restartOnly.length > 0)
        print(`note: ${restartOnly.join(", ")} changed; restart npm start to apply`);
      const nextRoutes = routesFor(next, listen);
      const gatewayChanged = formatGateway(next, fileName) !== formatGateway(config, fileName);
      const changed = JSON.stringify(nextRoutes) !== JSON.stringify(routes);
      const previous = config;
      config = next;
      const wasInvalid = lastInvalid;
      lastInvalid = false;
      if (!changed) {
        if (wasInvalid) print(formatWeights(weights, fileName));
        return;
      }
      try {
        await running.reload(nextRoutes);
      } catch (error) {
        config = previous;
        if (!(error instanceof UserError)) throw error;
        printError(error.message);
        printError(keeping());
        lastInvalid = true;
        return;
      }
      routes = nextRoutes;
      const nextWeights = splitWeights(next.weightV2);
      if (nextWeights.v2 !== weights.v2 || wasInvalid || !gatewayChanged)
        print(formatWeights(nextWeights, fileName));
      weights = nextWeights;
      if (gatewayChanged) print(formatGateway(next, fileName));
    };
    // Applies run one after another, and close() waits for the one in progress.
    const enqueue = (work: () => Promise<void>): Promise<void> => {
      const result = queue.then(work);
      queue = result.catch(() => {});
      return result;
    };

    const watcher = watchFile(
      stackFile,
      {
        onText: (text) =>
          enqueue(() => applyText(text)).catch((error: unknown) =>
            printError(`reload failed: ${(error as Error).message}`),
          ),
        onError: (error) => {
          if ((error as FileWatchError).reason === "missing") {
            void enqueue(() => applyText(undefined));
            return;
          }
          printError(error.message);
          printError(keeping());
          lastInvalid = true;
        },
      },
      {
        errorCode: STACK_FILE_ERROR_CODE,
        what: "stack file",
        initialText: initialText ?? null,
        settleMs: options.debounceMs ?? 100,
        ...(options.stableMs === undefined ? {} : { stableMs: options.stableMs }),
      },
    );

    let closing: Promise<void> | undefined;
    const runningAdmin = admin;
    return {
      host,
      port: bound.port,
      echo,
      ...(adminAddress ? { admin: adminAddress } : {}),
      stackFile,
      get weights() {
        return weights;
      },
      get config() {
        return config;
      },
      get activeConnections() {
        return running.activeConnections;
      },
      close(graceMs = DEFAULT_GRACE_MS) {
        closing ??= (async () => {
          watcher.close();
          await queue;
          // Gateway first: once it stops accepting, nothing new reaches the echo servers. The
          // admin server stays up while it drains, so /readyz says 503 meanwhile.
          await running.close(graceMs);
          await runningAdmin?.close();
          await Promise.all(VERSIONS.map((version) => echoServers[version].close(graceMs)));
        })();
        return closing;
      },
    };
  } catch (error) {
    await gateway?.close(0).catch(() => {});
    await admin?.close().catch(() => {});
    await Promise.all(VERSIONS.map((version) => echoServers[version].close(0).catch(() => {})));
    throw error;
  }
}

/** A busy or forbidden admin address, said in terms of the flag that fixes it. */
function adminListenError(error: unknown, address: string): unknown {
  if (!(error instanceof UserError) || error.code !== LISTEN_ERROR_CODE) return error;
  return new UserError(
    LISTEN_ERROR_CODE,
    `Cannot serve the gateway's admin endpoints on ${address}: pick another address with --admin, e.g. --admin 127.0.0.1:0 (the OS picks a port)\n  (${error.message})`,
  );
}

/** A busy or forbidden port, said in terms of the flag that fixes it. */
function listenError(error: unknown, host: string, port: number): unknown {
  if (!(error instanceof UserError) || error.code !== LISTEN_ERROR_CODE) return error;
  const address = joinHostPort(host, port);
  const busy = /EADDRINUSE|in use/i.test(error.message);
  const hint = busy
    ? `another program (perhaps another npm start) is using it; pick another port with --port, e.g. npm start -- --port ${port === 65535 ? 31401 : port + 1}`
    : "pick another address with --host or --port (ports below 1024 need privileges)";
  return new UserError(
    LISTEN_ERROR_CODE,
    `Cannot listen on ${address}: ${hint}\n  (${error.message})`,
  );
}
