/**
 * Local mode: the whole shift on one machine. tcp-echo v1 and v2 and the bundled gateway, run
 * from a stack file's own config, with the gateway's weights built by the same function as the
 * VirtualService's. Editing `weightV2` in the stack file reloads the gateway in place.
 *
 * `startLocalStack()` holds all of it so tests drive it in-process; `start.ts` is the CLI.
 */

import { type FSWatcher, readFileSync, watch } from "node:fs";
import type { AddressInfo } from "node:net";
import { basename, dirname } from "node:path";
import { joinHostPort } from "../../contract/hostPort";
import { type RouteFile, validateRouteFile } from "../../contract/routeFile";
import { UserError } from "../../contract/userError";
import { createEchoServer, type EchoServer } from "../../dataplane/echo/echoServer";
import {
  createGateway,
  LISTEN_ERROR_CODE,
  type TcpGateway,
} from "../../dataplane/gateway/tcpGateway";
import { createLogger, type Logger } from "../../dataplane/shared/jsonLogger";
import { parseConfig, SECRET_KEYS, type TcpShiftConfig } from "../../infra/config/config";
import {
  isSecureValue,
  parseStackConfig,
  STACK_FILE_ERROR_CODE,
  secureValueStandIn,
  stackFilePath,
} from "../../infra/config/stackFile";
import { PROJECT_NAME, VERSIONS, type Version } from "../../infra/constants";
import { buildGatewayRoutes, gatewayRouteOptions } from "../../infra/manifests/gatewayRoutes";
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
}

/** What a re-read of the stack file did. */
export type ReloadOutcome =
  | { kind: "applied"; weights: VersionWeights }
  | { kind: "unchanged" }
  | { kind: "invalid"; message: string };

/** A running local stack. */
export interface LocalStack {
  /** The gateway's bound address (the real port when `port` was 0). */
  readonly host: string;
  readonly port: number;
  /** The echo servers' bound addresses. */
  readonly echo: Readonly<Record<Version, AddressInfo>>;
  /** Path of the watched stack file. */
  readonly stackFile: string;
  /** Weights in force. */
  readonly weights: VersionWeights;
  /** Config last read from the stack file (secrets replaced by stand-ins). */
  readonly config: TcpShiftConfig;
  /** Open connections through the gateway. */
  readonly activeConnections: number;
  /** Re-read the stack file now (the watcher calls this); reloads are serialised. */
  reload(): Promise<ReloadOutcome>;
  /** Stop watching, stop accepting, drain open connections within `graceMs`, stop the servers. */
  close(graceMs?: number): Promise<void>;
}

/** Drain time for Ctrl-C: long enough for a reply in flight, short enough for a terminal. */
export const DEFAULT_GRACE_MS = 5_000;

/** Config keys local mode acts on; everything else only matters to the cloud deployment. */
const LOCAL_KEYS = ["weightV2", "prefixV1", "prefixV2", "appName", "ingressPort", "gatewayBalance"];

/**
 * Stack file text to validated config, with the schema of the Pulumi program. Secrets
 * (`{secure: ...}`) need the Pulumi CLI to decrypt, and no local listener uses them: a stand-in
 * keeps the cross-key rules (e.g. gatewayBuild needs registryPassword) satisfied, and their values
 * are never shown. A key local mode acts on (weightV2, prefixes, ...) cannot be a secret here.
 */
export function localConfig(text: string | undefined, path: string): TcpShiftConfig {
  const raw = text === undefined ? {} : parseStackConfig(text, path);
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

  let lastText = readText(stackFile);
  if (lastText === undefined) {
    if (options.missingStackFile === "error")
      throw new UserError(
        STACK_FILE_ERROR_CODE,
        `No stack file ${stackFile}: create it, or pick another stack with --stack`,
      );
    print(`no ${fileName} yet: using the default config (weightV2 0) until it appears`);
  }
  let config = localConfig(lastText, stackFile);
  let weights = splitWeights(config.weightV2);

  // Backends are local and private to this process: loopback, ports from the OS.
  const echoServers: Record<Version, EchoServer> = {
    v1: createEchoServer({ ports: [0], prefix: config.prefixV1, host: "127.0.0.1", logger }),
    v2: createEchoServer({ ports: [0], prefix: config.prefixV2, host: "127.0.0.1", logger }),
  };
  const echo = {} as Record<Version, AddressInfo>;
  let gateway: TcpGateway | undefined;
  try {
    for (const version of VERSIONS) {
      const [address] = await echoServers[version].listen();
      echo[version] = address as AddressInfo;
    }
    const endpoints = {
      v1: [joinHostPort("127.0.0.1", echo.v1.port)],
      v2: [joinHostPort("127.0.0.1", echo.v2.port)],
    };
    // Only the weights (and balance) follow the file; names, prefixes and ports are fixed at start.
    const listenerName = config.appName;
    const routesFor = (current: TcpShiftConfig, listen: string): RouteFile =>
      validateRouteFile(
        buildGatewayRoutes({
          name: listenerName,
          weightV2: current.weightV2,
          options: gatewayRouteOptions(current),
          listen,
          endpoints,
        }),
        `routes built from ${fileName}`,
      );

    const requestedPort = options.port ?? config.ingressPort;
    // Reloads repeat this exact string: the gateway keeps a listener whose name and `listen` are
    // unchanged, so even a `--port 0` listener stays bound where it is.
    const listen = joinHostPort(host, requestedPort);
    gateway = createGateway({ routes: routesFor(config, listen), logger });
    try {
      await gateway.listen();
    } catch (error) {
      throw listenError(error, host, requestedPort);
    }
    const bound = gateway.address(listenerName);
    if (!bound) throw new Error(`gateway has no listener named ${listenerName}`);
    const running = gateway;

    print(
      `listening on ${joinHostPort("127.0.0.1", echo.v1.port)} (tcp-echo v1, prefix "${config.prefixV1}")`,
    );
    print(
      `listening on ${joinHostPort("127.0.0.1", echo.v2.port)} (tcp-echo v2, prefix "${config.prefixV2}")`,
    );
    print(`listening on ${joinHostPort(host, bound.port)} (gateway, stack ${stack})`);
    print(formatWeights(weights, fileName));

    let queue: Promise<unknown> = Promise.resolve();
    // After an invalid edit, the fix is confirmed even when it restores the same weights.
    let lastInvalid = false;
    const reloadNow = async (): Promise<ReloadOutcome> => {
      let text: string | undefined;
      let next: TcpShiftConfig;
      try {
        text = readText(stackFile);
        // Editors and `pulumi config set` often emit several events per save: one reload each.
        if (text === lastText) return { kind: "unchanged" };
        lastText = text;
        // A deleted or empty file is a save in progress (or a mistake), not "all defaults":
        // keep what runs, and look again at the next event.
        if (text === undefined || text.trim() === "") {
          lastText = undefined;
          return { kind: "unchanged" };
        }
        next = localConfig(text, stackFile);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        printError(error.message);
        printError(`keeping ${formatWeights(weights, fileName)}`);
        lastInvalid = true;
        return { kind: "invalid", message: error.message };
      }
      const restartOnly = (["prefixV1", "prefixV2", "ingressPort", "appName"] as const).filter(
        (key) => next[key] !== config[key],
      );
      if (restartOnly.length > 0)
        print(`note: ${restartOnly.join(", ")} changed; restart npm start to apply`);
      const changed =
        next.weightV2 !== config.weightV2 || next.gatewayBalance !== config.gatewayBalance;
      config = next;
      const wasInvalid = lastInvalid;
      lastInvalid = false;
      if (!changed) {
        if (wasInvalid) print(formatWeights(weights, fileName));
        return { kind: "unchanged" };
      }
      await running.reload(routesFor(next, listen));
      weights = splitWeights(next.weightV2);
      print(formatWeights(weights, fileName));
      return { kind: "applied", weights };
    };
    const reload = (): Promise<ReloadOutcome> => {
      const result = queue.then(reloadNow);
      queue = result.catch(() => {});
      return result;
    };

    // Watch the directory, not the file: editors save by writing a new file and renaming it
    // over the old one, which would leave a file watch on a deleted inode.
    const debounceMs = options.debounceMs ?? 100;
    let timer: NodeJS.Timeout | undefined;
    const watcher: FSWatcher = watch(dirname(stackFile), (_event, name) => {
      if (name !== null && name !== fileName) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        reload().catch((error: unknown) =>
          printError(`reload failed: ${(error as Error).message}`),
        );
      }, debounceMs);
    });
    watcher.on("error", (error) => printError(`watching ${stackFile} failed: ${error.message}`));

    let closing: Promise<void> | undefined;
    return {
      host,
      port: bound.port,
      echo,
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
      reload,
      close(graceMs = DEFAULT_GRACE_MS) {
        closing ??= (async () => {
          watcher.close();
          clearTimeout(timer);
          await queue;
          // Gateway first: once it stops accepting, nothing new reaches the echo servers.
          await running.close(graceMs);
          await Promise.all(VERSIONS.map((version) => echoServers[version].close(graceMs)));
        })();
        return closing;
      },
    };
  } catch (error) {
    await gateway?.close(0).catch(() => {});
    await Promise.all(VERSIONS.map((version) => echoServers[version].close(0).catch(() => {})));
    throw error;
  }
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
