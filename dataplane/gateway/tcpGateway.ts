/**
 * The weighted TCP gateway: listeners from a route file, one route picked per new connection
 * (smooth weighted round robin or random), one endpoint of that route, bytes piped both ways.
 *
 * A reload swaps each listener's route table in place. Open connections keep the backend they
 * were given and are never touched: the property Envoy-based gateways lack (istio#13908,
 * envoy#30037), and the reason this gateway exists.
 */
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { Registry } from "prom-client";
import { formatAddress, parseHostPort } from "../../contract/hostPort";
import type { ListenerConfig, RouteFile } from "../../contract/routeFile";
import { UserError } from "../../contract/userError";
import { ConnectionTracker } from "../shared/connectionTracker";
import { type Logger, levelEnabled, silentLogger } from "../shared/jsonLogger";
import { ProxiedConnection } from "./connectionPipe";
import type { Endpoint } from "./endpointPool";
import type { ConnectionEvents, DataPath, GatewayConnection } from "./gatewayConnection";
import { createGatewayMetrics, type GatewayMetrics } from "./gatewayMetrics";
import { HandleConnection } from "./handleConnection";
import {
  acceptAsHandles,
  handlesUnavailableReason,
  type LibuvHandles,
  libuvHandles,
  type TcpHandle,
  type UvStatus,
  uvError,
} from "./libuvHandles";
import { buildRouteTable, type RouteRuntime, type RouteTable } from "./routeTable";

export { DATA_PATHS, type DataPath, isDataPath } from "./gatewayConnection";

/** Error code of a data path this Node cannot run. */
export const DATA_PATH_ERROR_CODE = "E_DATA_PATH";

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** Validated route file (`parseRouteFile`). */
  routes: RouteFile;
  /**
   * @default "handles" where this Node supports it, else "sockets". An explicit "handles" on a
   * Node without them throws `UserError` `E_DATA_PATH`.
   */
  dataPath?: DataPath;
  /** @default silent */
  logger?: Logger;
  /** Registry the gateway's metrics are registered on. @default a new private registry */
  registry?: Registry;
}

/** A weighted TCP gateway. */
export interface TcpGateway {
  /**
   * Bind every listener. On EADDRINUSE etc. rejects with `UserError` code `E_LISTEN` naming the
   * address, and leaves nothing bound.
   */
  listen(): Promise<void>;
  /** Actual bound address of a listener (port 0 resolved), undefined if not bound. */
  address(listenerName: string): AddressInfo | undefined;
  /**
   * Apply a new route file to NEW connections; open ones are untouched. Listeners are added and
   * removed to match (kept when name and `listen` are unchanged). Rejects with `E_LISTEN` if a
   * new listener cannot bind (the rest is applied; counted as a reload failure).
   */
  reload(routes: RouteFile): Promise<void>;
  /** Stop accepting, wait for open connections up to `graceMs`, then destroy the rest. */
  close(graceMs?: number): Promise<void>;
  /** Count and log a route file that could not be loaded (the last good routes stay). */
  recordReloadFailure(error: Error): void;
  /** Open client connections, all listeners. */
  readonly activeConnections: number;
  /** True once listening and until `close()` starts: what `/readyz` reports. */
  readonly ready: boolean;
  /** The registry holding the gateway's metrics. */
  readonly registry: Registry;
  /** The route file currently applied. */
  readonly routes: RouteFile;
  /** How connections are carried. */
  readonly dataPath: DataPath;
}

/** Error code of a listener that cannot bind. */
export const LISTEN_ERROR_CODE = "E_LISTEN";
const DEFAULT_GRACE_MS = 10_000;
/** At most one "refused" log line per listener per this interval (refusals can come in floods). */
const REFUSED_LOG_INTERVAL_MS = 1_000;
/** Bounds of the timeout sweep's period (a quarter of the shortest timeout in between). */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 1_000;

/**
 * Period of the timeout sweep for a route file: a quarter of its shortest connect or idle
 * timeout, within 10 ms – 1 s. A connect attempt fails between `connectTimeoutMs` and that plus
 * one period; an idle connection closes between `idleTimeoutSeconds` and that plus two periods.
 */
export function sweepPeriodMs(routes: RouteFile): number {
  let shortest = Number.POSITIVE_INFINITY;
  for (const listener of routes.listeners)
    shortest = Math.min(shortest, listener.connectTimeoutMs, listener.idleTimeoutSeconds * 1000);
  return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
}

/**
 * One bound listener: its server and its current route table. The server binds, closes and is
 * shared between cluster workers as usual; with the `handles` data path its accepted connections
 * arrive as bare handles (`acceptAsHandles`), so the listener enforces `maxConnections` itself.
 */
class GatewayListener implements ConnectionEvents {
  readonly server: Server;
  table: RouteTable;
  private lastRefusedLog = 0;
  private refusedSinceLog = 0;
  /** Open connections accepted by this listener (`maxConnections` on the `handles` path). */
  private open = 0;
  /** Accepted handles have TCP_NODELAY from the listening socket (`acceptAsHandles`). */
  private noDelayInherited = false;
  /** Decided once: the per-connection debug line must cost nothing when disabled. */
  private readonly debug: boolean;

  constructor(
    table: RouteTable,
    private readonly tracker: ConnectionTracker<GatewayConnection>,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly uv: LibuvHandles | undefined,
  ) {
    this.table = table;
    this.debug = levelEnabled(logger, "debug");
    // Paused: the client is read only once its backend is connected (one read start, no
    // buffering in the meantime).
    this.server = createServer(
      { allowHalfOpen: true, noDelay: true, pauseOnConnect: true },
      this.onConnection,
    );
    // Node closes connections past maxConnections itself, before any JS socket is created.
    this.server.maxConnections = table.config.maxConnections;
    this.server.on("drop", this.onDrop);
  }

  get name(): string {
    return this.table.config.name;
  }

  setTable(table: RouteTable): void {
    this.table = table;
    this.server.maxConnections = table.config.maxConnections;
  }

  async bind(): Promise<AddressInfo> {
    const { host, port } = parseHostPort(this.table.config.listen, "listen");
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once("error", reject);
        this.server.listen({ host, port }, () => {
          this.server.off("error", reject);
          // From now on an error (e.g. EMFILE on accept) is logged; Node keeps listening.
          this.server.on("error", (error) =>
            this.logger.error("listener error", { listener: this.name, error }),
          );
          const accepts = this.uv ? acceptAsHandles(this.server, this.onAccept) : undefined;
          this.noDelayInherited = accepts?.noDelayInherited ?? false;
          if (this.uv && !accepts) {
            this.server.close();
            reject(
              new Error("its listening socket has no libuv handle (use the sockets data path)"),
            );
          } else resolve();
        });
      });
    } catch (error) {
      throw new UserError(
        LISTEN_ERROR_CODE,
        `Listener "${this.name}" cannot listen on ${this.table.config.listen}: ${(error as Error).message}`,
      );
    }
    return this.server.address() as AddressInfo;
  }

  /** The `handles` data path: a connection accepted as a bare handle. */
  private readonly onAccept = (status: UvStatus, client: TcpHandle | undefined): void => {
    if (status !== 0 || !client) {
      const { address, port } = this.server.address() as AddressInfo;
      this.server.emit("error", uvError(status, "accept", address, port));
      return;
    }
    if (this.open >= this.server.maxConnections) {
      client.close();
      this.onDrop();
      return;
    }
    const route = this.admit();
    const connection = new HandleConnection(
      this.uv as LibuvHandles,
      client,
      route,
      this,
      this.noDelayInherited,
    );
    this.tracker.add(connection);
    connection.start();
    if (this.debug) {
      const peer: { address?: string; port?: number } = {};
      client.getpeername(peer);
      this.logConnection(route, `${peer.address}:${peer.port}`);
    }
  };

  /** The `sockets` data path: a connection accepted as a `net.Socket`. */
  private readonly onConnection = (client: Socket): void => {
    const route = this.admit();
    this.tracker.add(new ProxiedConnection(client, route, this));
    if (this.debug) this.logConnection(route, `${client.remoteAddress}:${client.remotePort}`);
  };

  /** Pick a new connection's route and count the connection (undone by `onClosed`). */
  private admit(): RouteRuntime {
    const route = this.table.picker.pick();
    route.counts.connections++;
    route.listenerCounts.active++;
    this.open++;
    return route;
  }

  private logConnection(route: RouteRuntime, client: string): void {
    this.logger.debug("connection", { listener: route.listener, route: route.name, client });
  }

  private readonly onDrop = (): void => {
    this.metrics.refusedConnections.labels(this.name).inc();
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastRefusedLog < REFUSED_LOG_INTERVAL_MS) return;
    this.logger.warn("connection refused: listener at maxConnections", {
      listener: this.name,
      maxConnections: this.server.maxConnections,
      refused: this.refusedSinceLog,
    });
    this.lastRefusedLog = now;
    this.refusedSinceLog = 0;
  };

  onConnectFailure(connection: GatewayConnection, endpoint: Endpoint, error: Error): void {
    this.logger.warn("backend connect failed", {
      listener: connection.route.listener,
      route: connection.route.name,
      endpoint: endpoint.target,
      attempt: connection.attempts,
      of: connection.route.connectAttempts,
      error,
    });
  }

  onUnavailable(connection: GatewayConnection): void {
    this.logger.error("no endpoint of the route accepted the connection; client closed", {
      listener: connection.route.listener,
      route: connection.route.name,
      attempts: connection.attempts,
      endpoints: connection.route.pool.endpoints.map((endpoint) => endpoint.target),
    });
  }

  onClosed(connection: GatewayConnection): void {
    this.open--;
    connection.route.listenerCounts.active--;
    this.tracker.delete(connection);
  }
}

/** Create a gateway; nothing is bound until `listen()`. */
export function createGateway(options: GatewayOptions): TcpGateway {
  const logger = options.logger ?? silentLogger;
  const registry = options.registry ?? new Registry();
  const metrics = createGatewayMetrics(registry);
  const tracker = new ConnectionTracker<GatewayConnection>();
  const dataPath = options.dataPath ?? (libuvHandles ? "handles" : "sockets");
  if (dataPath === "handles" && !libuvHandles)
    throw new UserError(
      DATA_PATH_ERROR_CODE,
      `The "handles" data path is not available on this Node: ${handlesUnavailableReason}; use "sockets"`,
    );
  const uv = dataPath === "handles" ? libuvHandles : undefined;
  const listeners = new Map<string, GatewayListener>();
  let current = options.routes;
  let state: "new" | "listening" | "closing" = "new";
  /** Reloads run one at a time, in call order. */
  let reloading: Promise<void> = Promise.resolve();

  // One timer for every connection's connect and idle timeouts, instead of a timer per socket
  // (two per connection, re-armed on every read and write): the per-socket timers measured as a
  // visible share of the CPU per connection.
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweepPeriod = 0;
  const sweep = (): void => {
    const now = Date.now();
    for (const connection of tracker.values()) connection.checkTimeouts(now);
  };
  const scheduleSweep = (routes: RouteFile): void => {
    // Only ever shortened: connections opened under an earlier file keep their timeouts.
    const period = sweepPeriodMs(routes);
    if (sweepTimer && period >= sweepPeriod) return;
    clearInterval(sweepTimer);
    sweepPeriod = period;
    sweepTimer = setInterval(sweep, period);
    sweepTimer.unref();
  };

  const buildTables = (routes: RouteFile): Promise<RouteTable[]> =>
    Promise.all(routes.listeners.map((config) => buildRouteTable(config, metrics, logger)));

  const publishWeights = (routes: RouteFile): void => {
    metrics.routeWeight.reset();
    for (const listener of routes.listeners)
      for (const route of listener.routes)
        metrics.routeWeight.labels(listener.name, route.name).set(route.weight);
  };

  const describe = (config: ListenerConfig, listener: GatewayListener) => {
    const address = listener.server.address() as AddressInfo;
    return {
      listener: config.name,
      address: formatAddress(address),
      balance: config.balance,
      routes: config.routes.map((route) => `${route.name}=${route.weight}`).join(","),
    };
  };

  async function applyReload(routes: RouteFile): Promise<void> {
    if (state !== "listening") throw new Error(`cannot reload a gateway that is ${state}`);
    const tables = await buildTables(routes);
    const wanted = new Map(tables.map((table) => [table.config.name, table]));

    // Stop accepting on removed or moved listeners first, so a moved listener can take over a
    // freed address. Their open connections keep flowing until they end.
    for (const [name, listener] of listeners) {
      const table = wanted.get(name);
      if (table && table.config.listen === listener.table.config.listen) continue;
      listener.server.close();
      listeners.delete(name);
      logger.info("listener removed", { listener: name });
    }
    const failures: UserError[] = [];
    for (const table of tables) {
      const existing = listeners.get(table.config.name);
      if (existing) {
        existing.setTable(table);
        continue;
      }
      const listener = new GatewayListener(table, tracker, metrics, logger, uv);
      try {
        await listener.bind();
        listeners.set(table.config.name, listener);
        logger.info("listener added", describe(table.config, listener));
      } catch (error) {
        failures.push(error as UserError);
      }
    }
    current = routes;
    publishWeights(routes);
    scheduleSweep(routes);
    if (failures.length > 0) {
      const error = new UserError(LISTEN_ERROR_CODE, failures.map((f) => f.message).join("; "));
      gateway.recordReloadFailure(error);
      throw error;
    }
    metrics.reloads.inc();
    logger.info("routes reloaded", {
      listeners: routes.listeners.map((config) => {
        const listener = listeners.get(config.name);
        return listener ? describe(config, listener) : { listener: config.name, bound: false };
      }),
    });
  }

  const gateway: TcpGateway = {
    async listen() {
      if (state !== "new") throw new Error(`gateway is already ${state}`);
      const tables = await buildTables(current);
      const bound: GatewayListener[] = [];
      try {
        for (const table of tables) {
          const listener = new GatewayListener(table, tracker, metrics, logger, uv);
          await listener.bind();
          bound.push(listener);
        }
      } catch (error) {
        for (const listener of bound) listener.server.close();
        throw error;
      }
      for (const listener of bound) {
        listeners.set(listener.name, listener);
        logger.info("listening", { ...describe(listener.table.config, listener), dataPath });
      }
      publishWeights(current);
      scheduleSweep(current);
      state = "listening";
      metrics.ready.set(1);
    },

    address(listenerName) {
      const address = listeners.get(listenerName)?.server.address();
      return address && typeof address === "object" ? address : undefined;
    },

    reload(routes) {
      const next = reloading.then(() => applyReload(routes));
      // Keep the chain alive after a failed reload; the caller still sees the rejection.
      reloading = next.catch(() => {});
      return next;
    },

    async close(graceMs = DEFAULT_GRACE_MS) {
      if (state === "closing") return;
      state = "closing";
      metrics.ready.set(0);
      await reloading;
      for (const listener of listeners.values()) listener.server.close();
      listeners.clear();
      logger.info("draining", { activeConnections: tracker.size, graceMs });
      await tracker.drain(graceMs);
      clearInterval(sweepTimer);
      logger.info("closed");
    },

    recordReloadFailure(error) {
      metrics.reloadFailures.inc();
      logger.error("route reload rejected; keeping the last good routes", {
        error: error.message,
        code: (error as UserError).code,
      });
    },

    get activeConnections() {
      return tracker.size;
    },
    get ready() {
      return state === "listening";
    },
    get registry() {
      return registry;
    },
    get routes() {
      return current;
    },
    get dataPath() {
      return dataPath;
    },
  };
  return gateway;
}
