/**
 * `gatewayMain --workers N` (N > 1): this process is a `node:cluster` primary that forks N
 * workers, each running the whole gateway (listeners, route watcher, reloads) on listeners they
 * share. The primary owns the admin port:
 * - `/metrics` aggregates the workers' registries, asked over IPC at each scrape (counters are
 *   summed, weights and readiness use the aggregators set in gatewayMetrics.ts). The counters and
 *   histograms (connection durations) of a worker that died are kept as of its last answer and
 *   added in, so no counter or bucket goes backwards when a worker is replaced (what it counted
 *   after that answer is lost with it);
 * - `/readyz` is ready while every worker is listening with every configured listener bound and
 *   the primary is not draining.
 * Signals: SIGHUP is forwarded (each worker reloads; each also watches the file itself);
 * SIGTERM/SIGINT are forwarded, the primary waits for every worker to drain and exit, then exits
 * 0. A worker that dies while serving is replaced; one that exits before it ever listened (bad
 * route file, listener that cannot bind) stops the gateway with exit 1, instead of a fork loop.
 *
 * Limits are per worker: `maxConnections` bounds each worker's connections (N workers accept up
 * to N × maxConnections in all), and each worker drains at `drainRate`.
 *
 * Accepts are spread by the kernel (`SCHED_NONE`: every worker accepts on the shared socket);
 * the default round-robin, where the primary accepts and hands sockets over, measured slower
 * than one process (issue 5). In Kubernetes prefer one process per pod and more replicas.
 */
import cluster, { type Worker } from "node:cluster";
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type PrometheusContentType,
  type Registry,
} from "prom-client";
import { EXIT_CODES } from "../../contract/exitCodes";
import { formatAddress } from "../../contract/hostPort";
import type { Logger } from "../shared/jsonLogger";
import { watchLauncher } from "../shared/launcherWatch";
import { createAdminServer } from "./adminServer";
import type { GatewayArgs } from "./gatewayArgs";

/** IPC message a worker sends once its listeners are bound. */
export const WORKER_READY = "tcp-gateway:ready";
/**
 * IPC message a worker sends after a reload, applied or rejected: whether every configured
 * listener is bound. It also ends the primary's cached `/metrics` (new weights show at once).
 */
export const WORKER_READINESS = "tcp-gateway:readiness";
/** IPC request for a worker's metrics, and its answer. */
export const METRICS_REQUEST = "tcp-gateway:metrics?";
export const METRICS_RESPONSE = "tcp-gateway:metrics";
/** A worker that does not answer a metrics request within this is counted as of its last answer. */
const METRICS_TIMEOUT_MS = 2_000;

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Answer the primary's metrics requests from `registry` (in a worker). */
export function serveMetricsToPrimary(registry: Registry): void {
  process.on("message", (message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== METRICS_REQUEST) return;
    void registry
      .getMetricsAsJSON()
      .then((metrics) => process.send?.({ type: METRICS_RESPONSE, id: message.id, metrics }));
  });
}

/** Metric types that only grow: what a dead worker counted stays part of the totals. */
const CUMULATIVE_TYPES = new Set(["counter", "histogram"]);

/**
 * The counters and histograms of `snapshots`, summed (or maxed, per metric) into one snapshot:
 * what dead workers had counted. Gauges (open connections, weights, readiness) are dropped: they
 * describe a live process. Synchronous, so a scrape never sees a worker's counts missing.
 */
export function retainCumulative(snapshots: MetricsJson[]): MetricsJson {
  const counters = snapshots.map((metrics) =>
    metrics.filter((m) => CUMULATIVE_TYPES.has(String(m.type))),
  );
  // `aggregate` registers one wrapper per metric whose `get()` returns the aggregated values.
  return AggregatorRegistry.aggregate(counters)
    .getMetricsAsArray()
    .map((metric) => (metric as unknown as { get(): MetricsJson[number] }).get());
}

/** Run the cluster primary: fork `args.workers` workers and serve the admin port. */
export async function runClusterPrimary(args: GatewayArgs, logger: Logger): Promise<void> {
  // Must be set before the first fork.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const registry = new AggregatorRegistry<PrometheusContentType>();
  const ready = new Set<number>();
  const notReady = new Set<number>();
  /** Each live worker's last metrics answer. */
  const lastAnswer = new Map<number, MetricsJson>();
  /** The counters and histograms of workers that died. */
  let retired: MetricsJson = [];
  let nextRequest = 0;
  /** Reloads reported by the workers: the admin server renders `/metrics` afresh on a change. */
  let reloads = 0;
  let stopping = false;
  let exitCode: number = EXIT_CODES.ok;

  const workers = (): Worker[] => Object.values(cluster.workers ?? {}) as Worker[];

  const askMetrics = (worker: Worker): Promise<MetricsJson | undefined> =>
    new Promise((resolve) => {
      const id = ++nextRequest;
      const done = (metrics: MetricsJson | undefined) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("exit", onExit);
        resolve(metrics);
      };
      const onMessage = (message: { type?: unknown; id?: unknown; metrics?: MetricsJson }) => {
        if (message?.type === METRICS_RESPONSE && message.id === id) done(message.metrics);
      };
      const onExit = () => done(undefined);
      const timer = setTimeout(() => done(undefined), METRICS_TIMEOUT_MS);
      worker.on("message", onMessage);
      worker.on("exit", onExit);
      try {
        worker.send({ type: METRICS_REQUEST, id });
      } catch {
        done(undefined);
      }
    });

  const clusterMetrics = async (): Promise<string> => {
    const snapshots: MetricsJson[] = [];
    await Promise.all(
      workers().map(async (worker) => {
        const answer = await askMetrics(worker);
        if (answer) lastAnswer.set(worker.id, answer);
        const latest = answer ?? lastAnswer.get(worker.id);
        if (latest) snapshots.push(latest);
      }),
    );
    if (retired.length > 0) snapshots.push(retired);
    return AggregatorRegistry.aggregate(snapshots).metrics();
  };

  const admin = createAdminServer({
    address: args.admin,
    registry,
    metrics: clusterMetrics,
    isReady: () => !stopping && ready.size === args.workers && notReady.size === 0,
    metricsVersion: () => reloads,
    logger,
  });

  const signalWorkers = (signal: NodeJS.Signals): void => {
    for (const worker of workers()) worker.process.kill(signal);
  };

  const fork = (): void => {
    const worker = cluster.fork();
    worker.on("message", (message: { type?: unknown; ready?: unknown }) => {
      if (message?.type === WORKER_READINESS) {
        reloads++;
        if (message.ready) notReady.delete(worker.id);
        else notReady.add(worker.id);
      }
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
    notReady.delete(worker.id);
    const last = lastAnswer.get(worker.id);
    lastAnswer.delete(worker.id);
    if (last) retired = retainCumulative([retired, last]);
    if (stopping) {
      if (workers().length === 0) void finish();
      return;
    }
    if (!wasReady) {
      logger.error("worker exited before listening; stopping", { worker: worker.id, code });
      exitCode = EXIT_CODES.failure;
      stop("worker failed");
      return;
    }
    logger.error("worker exited; starting another", { worker: worker.id, code, signal });
    fork();
  });

  for (let i = 0; i < args.workers; i++) fork();
  try {
    const address = await admin.listen();
    logger.info("admin listening", {
      address: formatAddress(address),
      workers: args.workers,
      note: "maxConnections and drainRate apply per worker",
    });
  } catch (error) {
    logger.error((error as Error).message, { code: (error as { code?: string }).code });
    exitCode = EXIT_CODES.failure;
    stop("admin failed");
  }

  process.on("SIGHUP", () => {
    logger.info("SIGHUP: forwarding to workers", { config: args.config });
    signalWorkers("SIGHUP");
  });
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  watchLauncher((why) => {
    logger.warn(why);
    stop("launcher gone");
  });
}
