/**
 * tcp-gateway entry point.
 *
 *   gatewayMain --config routes.yaml [--admin 127.0.0.1:9901] [--drain-seconds 25]
 *               [--log-level info] [--workers N] [--data-path handles|sockets]
 *
 * Reloads the route file when its directory changes (ConfigMap updates) or on SIGHUP. SIGTERM or
 * SIGINT: stop accepting, report not ready, let open connections finish for `--drain-seconds`,
 * destroy the rest, exit 0. The same when started through npm/tsx and that launcher goes away
 * (`kill` of npm's pid: launcherWatch.ts). Exit 2 on a usage error, 1 when the routes or a
 * listener are bad.
 *
 * `--workers N` (N > 1): this process becomes a cluster primary (gatewayCluster.ts) serving the
 * admin port, and N workers each run the gateway below on shared listeners.
 */
import cluster from "node:cluster";
import { readFile, stat } from "node:fs/promises";
import { collectDefaultMetrics, Registry } from "prom-client";
import { EXIT_CODES } from "../../contract/exitCodes";
import { formatAddress } from "../../contract/hostPort";
import {
  checkRouteFileSize,
  parseRouteFile,
  ROUTE_FILE_ERROR_CODE,
  type RouteFile,
} from "../../contract/routeFile";
import { UserError } from "../../contract/userError";
import { createLogger, type Logger } from "../shared/jsonLogger";
import { watchLauncher } from "../shared/launcherWatch";
import { createAdminServer } from "./adminServer";
import { GATEWAY_USAGE, type GatewayArgs, parseGatewayArgs } from "./gatewayArgs";
import {
  runClusterPrimary,
  serveMetricsToPrimary,
  WORKER_READINESS,
  WORKER_READY,
} from "./gatewayCluster";
import { watchRouteFile } from "./routeWatcher";
import { createGateway, type TcpGateway } from "./tcpGateway";

async function loadRoutes(path: string): Promise<{ routes: RouteFile; text: string }> {
  let text: string;
  try {
    // The size first: a huge file is refused before it is read.
    checkRouteFileSize((await stat(path)).size, path);
    text = await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(
      ROUTE_FILE_ERROR_CODE,
      `Cannot read route file ${path}: ${(error as Error).message}`,
    );
  }
  return { routes: parseRouteFile(text, path), text };
}

function fail(logger: Logger, error: unknown): never {
  const userError = error instanceof UserError;
  logger.error((error as Error).message, {
    code: userError ? error.code : undefined,
    // A stack only for bugs, never for a user's mistake.
    stack: userError ? undefined : (error as Error).stack,
  });
  process.exit(EXIT_CODES.failure);
}

async function main(): Promise<void> {
  let args: GatewayArgs;
  try {
    args = parseGatewayArgs(process.argv.slice(2), process.env);
  } catch (error) {
    const message = (error as Error).message;
    if (!message) {
      // --help: the usage on stdout, as every other command prints its help.
      process.stdout.write(`${GATEWAY_USAGE}\n`);
      process.exit(EXIT_CODES.ok);
    }
    process.stderr.write(`${message}\n${GATEWAY_USAGE}\n`);
    process.exit(EXIT_CODES.usage);
  }
  const worker = cluster.isWorker ? cluster.worker : undefined;
  const logger = createLogger({
    level: args.logLevel,
    name: "tcp-gateway",
    fields: worker ? { worker: worker.id } : undefined,
  });
  process.on("uncaughtException", (error) => fail(logger, error));
  if (cluster.isPrimary && args.workers > 1) {
    // A bad route file fails here, once, before any worker is forked.
    await loadRoutes(args.config).catch((error) => fail(logger, error));
    return runClusterPrimary(args, logger);
  }

  let loaded: { routes: RouteFile; text: string };
  try {
    loaded = await loadRoutes(args.config);
  } catch (error) {
    fail(logger, error);
  }
  const { routes, text: initialText } = loaded;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let gateway: TcpGateway;
  try {
    gateway = createGateway({ routes, logger, registry, dataPath: args.dataPath });
  } catch (error) {
    fail(logger, error);
  }
  // A worker has no admin port: the primary serves it, asking workers for their registries.
  const admin = worker
    ? undefined
    : createAdminServer({
        address: args.admin,
        registry,
        isReady: () => gateway.ready,
        // A reload shows at the next scrape, not when the cached rendering expires.
        metricsVersion: () => gateway.reloadCount,
        logger,
      });
  if (worker) serveMetricsToPrimary(registry);
  try {
    await gateway.listen();
    if (admin) {
      const adminAddress = await admin.listen();
      logger.info("admin listening", { address: formatAddress(adminAddress) });
    }
  } catch (error) {
    fail(logger, error);
  }
  process.send?.({ type: WORKER_READY });

  /** After every reload, applied or rejected: the primary's /readyz and /metrics follow it. */
  const reloaded = (): void => {
    process.send?.({ type: WORKER_READINESS, ready: gateway.ready });
  };
  const apply = async (next: RouteFile): Promise<void> => {
    // A reload that fails to bind records its own failure; nothing more to do here.
    await gateway.reload(next).catch(() => {});
    reloaded();
  };
  const reject = (error: Error): void => {
    gateway.recordReloadFailure(error);
    reloaded();
  };
  const watcher = watchRouteFile(
    args.config,
    { onRoutes: apply, onError: reject },
    { initialText },
  );
  process.on("SIGHUP", () => {
    logger.info("SIGHUP: reloading routes", { config: args.config });
    loadRoutes(args.config).then((next) => apply(next.routes), reject);
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal, drainSeconds: args.drainSeconds });
    watcher.close();
    // The admin server stays up while draining so /readyz reports 503 to probes.
    await gateway.close(args.drainSeconds * 1000);
    await admin?.close();
    process.exit(0);
  };
  // A worker whose primary is gone (killed) drains and exits rather than serving unmanaged.
  worker?.on("disconnect", () => void stop("primary gone"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  if (!worker)
    watchLauncher((why) => {
      logger.warn(why);
      void stop("launcher gone");
    });
}

void main();
