/**
 * `gatewayMain --workers N` (N > 1): this process is a `node:cluster` primary that forks N
 * workers, each running the whole gateway (listeners, route watcher, reloads) on listeners they
 * share. The primary owns the admin port:
 * - `/metrics` aggregates the workers' registries (prom-client's `AggregatorRegistry`; counters
 *   are summed, weights and readiness use the aggregators set in gatewayMetrics.ts);
 * - `/readyz` is ready while every worker is listening and the primary is not draining.
 * Signals: SIGHUP is forwarded (each worker reloads; each also watches the file itself);
 * SIGTERM/SIGINT are forwarded, the primary waits for every worker to drain and exit, then exits
 * 0. A worker that dies while serving is replaced; one that exits before it ever listened (bad
 * route file, listener that cannot bind) stops the gateway with exit 1, instead of a fork loop.
 *
 * Accepts are spread by the kernel (`SCHED_NONE`: every worker accepts on the shared socket);
 * the default round-robin, where the primary accepts and hands sockets over, measured slower
 * than one process (issue 5). In Kubernetes prefer one process per pod and more replicas.
 */
import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type PrometheusContentType } from "prom-client";
import { formatAddress } from "../../contract/hostPort";
import type { Logger } from "../shared/jsonLogger";
import { createAdminServer } from "./adminServer";
import type { GatewayArgs } from "./gatewayArgs";

/** IPC message a worker sends once its listeners are bound. */
export const WORKER_READY = "tcp-gateway:ready";

const EXIT_CONFIG = 1;

/** Run the cluster primary: fork `args.workers` workers and serve the admin port. */
export async function runClusterPrimary(args: GatewayArgs, logger: Logger): Promise<void> {
  // Must be set before the first fork.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const registry = new AggregatorRegistry<PrometheusContentType>();
  const ready = new Set<number>();
  let stopping = false;
  let exitCode = 0;

  const admin = createAdminServer({
    address: args.admin,
    registry,
    metrics: () => registry.clusterMetrics(),
    isReady: () => !stopping && ready.size === args.workers,
    logger,
  });

  const workers = (): Worker[] => Object.values(cluster.workers ?? {}) as Worker[];
  const signalWorkers = (signal: NodeJS.Signals): void => {
    for (const worker of workers()) worker.process.kill(signal);
  };

  const fork = (): void => {
    const worker = cluster.fork();
    worker.on("message", (message: { type?: unknown }) => {
      if (message?.type !== WORKER_READY) return;
      ready.add(worker.id);
      logger.info("worker listening", { worker: worker.id, pid: worker.process.pid });
    });
  };

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal, drainSeconds: args.drainSeconds, workers: ready.size });
    signalWorkers("SIGTERM");
    if (workers().length === 0) void finish();
  };
  const finish = async (): Promise<void> => {
    await admin.close();
    logger.info("closed");
    process.exit(exitCode);
  };

  cluster.on("exit", (worker, code, signal) => {
    const wasReady = ready.delete(worker.id);
    if (stopping) {
      if (workers().length === 0) void finish();
      return;
    }
    if (!wasReady) {
      logger.error("worker exited before listening; stopping", { worker: worker.id, code });
      exitCode = EXIT_CONFIG;
      stop("worker failed");
      return;
    }
    logger.error("worker exited; starting another", { worker: worker.id, code, signal });
    fork();
  });

  for (let i = 0; i < args.workers; i++) fork();
  try {
    const address = await admin.listen();
    logger.info("admin listening", { address: formatAddress(address), workers: args.workers });
  } catch (error) {
    logger.error((error as Error).message, { code: (error as { code?: string }).code });
    exitCode = EXIT_CONFIG;
    stop("admin failed");
  }

  process.on("SIGHUP", () => {
    logger.info("SIGHUP: forwarding to workers", { config: args.config });
    signalWorkers("SIGHUP");
  });
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
