/**
 * The weighted TCP gateway: listeners from a route file, one route picked per new connection
 * (smooth weighted round robin, random, or sticky by client address), one endpoint of that
 * route, bytes piped both ways.
 *
 * A reload swaps each listener's route table in place. Open connections keep the backend they
 * were given and are never touched: the property Envoy-based gateways lack (istio#13908,
 * envoy#30037), and the reason this gateway exists; the one exception is a drain the route file
 * asks for (`drainAfterSeconds`, routeDrain.ts). A reload applies whole or not at all: new
 * addresses are bound before anything changes, and a failure leaves every listener as it was.
 */
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { Registry } from "prom-client";
import { formatAddress, parseHostPort } from "../../contract/hostPort";
import type { ListenerConfig, RouteFile } from "../../contract/routeFile";
import { UserError } from "../../contract/userError";
import { ConnectionTracker } from "../shared/connectionTracker";
import { type Logger, levelEnabled, silentLogger } from "../shared/jsonLogger";
import { LISTEN_ERROR_CODE, listenOn, stopAccepting } from "../shared/listen";
import { LogLimiter } from "../shared/logLimiter";
import { descriptorsNeeded, isOutOfDescriptors, openFilesLimit } from "../shared/openFiles";
import { ProxiedConnection, SocketHeaderReader } from "./connectionPipe";
import type { Endpoint } from "./endpointPool";
import type {
  ConnectionEvents,
  DataPath,
  GatewayConnection,
  TrackedConnection,
} from "./gatewayConnection";
import { createGatewayMetrics, type GatewayMetrics, recordDuration } from "./gatewayMetrics";
import { HandleConnection, HandleHeaderReader } from "./handleConnection";
import type { HeaderOutcome } from "./headerReader";
import {
  acceptAsHandles,
  handlesUnavailableReason,
  type LibuvHandles,
  libuvHandles,
  type TcpHandle,
  type UvStatus,
  uvError,
} from "./libuvHandles";
import { PROXY_HEADER_TIMEOUT_MS, type ProxySource } from "./proxyProtocol";
import { DrainScheduler } from "./routeDrain";
import { buildRouteTable, type RouteRuntime, type RouteTable } from "./routeTable";

export { LISTEN_ERROR_CODE } from "../shared/listen";
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
  /** Interval of rate-limited log lines (failures that come in floods). @default 10 s */
  logIntervalMs?: number;
  /** This process's open-files limit. @default the soft RLIMIT_NOFILE (Linux) */
  openFilesLimit?: () => number | undefined;
  /** Time a client has for its PROXY protocol header. @default 3 s */
  proxyHeaderTimeoutMs?: number;
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
   * removed to match (kept when name and `listen` are unchanged). All or nothing: new addresses
   * are bound first; if one cannot be, the reload rejects with `E_LISTEN`, every listener keeps
   * its address and routes, and the failure is counted and logged.
   */
  reload(routes: RouteFile): Promise<void>;
  /** Stop accepting, wait for open connections up to `graceMs`, then destroy the rest. */
  close(graceMs?: number): Promise<void>;
  /** Count and log a route file that could not be loaded (the last good routes stay). */
  recordReloadFailure(error: Error): void;
  /** Open client connections, all listeners. */
  readonly activeConnections: number;
  /**
   * True while every listener of the route file in force is bound and `close()` has not
   * started: what `/readyz` and `tcp_gateway_ready` report.
   */
  readonly ready: boolean;
  /** The registry holding the gateway's metrics. */
  readonly registry: Registry;
  /** The route file currently applied. */
  readonly routes: RouteFile;
  /** How connections are carried. */
  readonly dataPath: DataPath;
  /** Period of the timeout sweep in force (ms), from the route file in force. */
  readonly sweepPeriodMs: number;
  /**
   * Reloads so far, applied or rejected (`reload()` and `recordReloadFailure()`): changes
   * whenever the weights in force or the reload counters do (the admin server renders
   * `/metrics` afresh then).
   */
  readonly reloadCount: number;
}

const DEFAULT_GRACE_MS = 10_000;
/** Bounds of the timeout sweep's period (a quarter of the shortest timeout in between). */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 1_000;

/**
 * Period of the timeout sweep for a route file: a quarter of its shortest connect, idle or
 * PROXY header timeout, within 10 ms – 1 s. A connect attempt fails between `connectTimeoutMs`
 * and that plus one period; an idle connection closes between `idleTimeoutSeconds` and that plus
 * two periods. Recomputed on every reload (a connection opened under an earlier file with a
 * shorter timeout is then checked at the new period).
 */
export function sweepPeriodMs(
  routes: RouteFile,
  proxyHeaderTimeoutMs = PROXY_HEADER_TIMEOUT_MS,
): number {
  let shortest = Number.POSITIVE_INFINITY;
  for (const listener of routes.listeners) {
    shortest = Math.min(shortest, listener.connectTimeoutMs, listener.idleTimeoutSeconds * 1000);
    if (listener.proxyProtocol) shortest = Math.min(shortest, proxyHeaderTimeoutMs);
  }
  return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
}

/** `v1=88.9%,v2=11.1%`: each route's share of new connections. */
export function describeShares(listener: ListenerConfig): string {
  const total = listener.routes.reduce((sum, route) => sum + route.weight, 0);
  return listener.routes
    .map((route) => `${route.name}=${Number(((100 * route.weight) / total).toFixed(1))}%`)
    .join(",");
}

/** What every listener of one gateway shares. */
interface ListenerContext {
  readonly tracker: ConnectionTracker<TrackedConnection>;
  readonly logger: Logger;
  readonly limiter: LogLimiter;
  readonly uv: LibuvHandles | undefined;
  /** Decided once: the per-connection debug line must cost nothing when disabled. */
  readonly debug: boolean;
  readonly proxyHeaderTimeoutMs: number;
}

/**
 * One bound listener: its server and its current route table. The server binds, closes and is
 * shared between cluster workers as usual; with the `handles` data path its accepted connections
 * arrive as bare handles (`acceptAsHandles`). Either way the listener enforces `maxConnections`
 * itself, and refuses with a reset (RST) on both data paths.
 */
class GatewayListener implements ConnectionEvents {
  readonly server: Server;
  table: RouteTable;
  /** Open connections accepted by this listener, PROXY header readers included. */
  private open = 0;
  /** Accepted handles have TCP_NODELAY from the listening socket (`acceptAsHandles`). */
  private noDelayInherited = false;
  private bound: AddressInfo | undefined;

  constructor(
    table: RouteTable,
    private readonly ctx: ListenerContext,
  ) {
    this.table = table;
    // Paused: the client is read only once its backend is connected (one read start, no
    // buffering in the meantime).
    this.server = createServer(
      { allowHalfOpen: true, noDelay: true, pauseOnConnect: true },
      this.onSocket,
    );
  }

  get name(): string {
    return this.table.config.name;
  }

  /** The bound port; undefined when not bound. */
  get port(): number | undefined {
    return this.bound?.port;
  }

  setTable(table: RouteTable): void {
    this.table = table;
  }

  /** Bind to `listen` (default: the table's). @throws UserError `E_LISTEN` */
  async bind(listen = this.table.config.listen): Promise<AddressInfo> {
    const { host, port } = parseHostPort(listen, "listen");
    const address = await listenOn(this.server, host, port, `Listener "${this.name}"`);
    this.server.removeListener("error", this.onServerError);
    // From now on an error (e.g. EMFILE on accept) is logged; Node keeps listening.
    this.server.on("error", this.onServerError);
    if (this.ctx.uv) {
      const accepts = acceptAsHandles(this.server, this.onAccept);
      if (!accepts) {
        stopAccepting(this.server);
        throw new UserError(
          LISTEN_ERROR_CODE,
          `Listener "${this.name}" on ${listen}: its listening socket has no libuv handle (use the sockets data path)`,
        );
      }
      this.noDelayInherited = accepts.noDelayInherited;
    }
    this.bound = address;
    return address;
  }

  /** Bind again where it was (a reload that freed its address failed). */
  rebind(): Promise<AddressInfo> {
    const bound = this.bound as AddressInfo;
    return this.bind(formatAddress(bound));
  }

  stop(): void {
    stopAccepting(this.server);
  }

  private readonly onServerError = (error: Error): void => {
    const counts = this.table.counts;
    if (isOutOfDescriptors(error)) {
      counts.outOfDescriptors++;
      this.ctx.limiter.log(
        "error",
        `descriptors:${this.name}`,
        "out of file descriptors: cannot accept connections (raise the open-files limit or lower maxConnections)",
        { listener: this.name, error },
      );
      return;
    }
    this.ctx.limiter.log("error", `accept:${this.name}`, "listener error", {
      listener: this.name,
      error,
    });
  };

  /** The `handles` data path: a connection accepted as a bare handle. */
  private readonly onAccept = (status: UvStatus, client: TcpHandle | undefined): void => {
    if (status !== 0 || !client) {
      const { address, port } = this.server.address() as AddressInfo;
      this.onServerError(uvError(status, "accept", address, port));
      return;
    }
    if (this.open >= this.table.config.maxConnections) {
      if (client.reset() !== 0) client.close();
      this.refused();
      return;
    }
    this.open++;
    if (this.table.config.proxyProtocol) {
      const reader = new HandleHeaderReader(
        this.ctx.uv as LibuvHandles,
        client,
        this.ctx.proxyHeaderTimeoutMs,
        this.onHandleHeader,
      );
      this.ctx.tracker.add(reader);
      reader.start();
      return;
    }
    this.admitHandle(client, undefined, undefined);
  };

  private readonly onHandleHeader = (reader: HandleHeaderReader, outcome: HeaderOutcome): void => {
    this.ctx.tracker.delete(reader);
    if (outcome.kind !== "header") {
      this.headerFailed(outcome, handlePeer(reader.client));
      reader.client.close();
      return;
    }
    this.admitHandle(reader.client, outcome.parse.source, outcome.rest);
  };

  private admitHandle(
    client: TcpHandle,
    source: ProxySource | undefined,
    rest: Buffer | undefined,
  ): void {
    const peer =
      source ?? (this.table.picker.needsAddress || this.ctx.debug ? handlePeer(client) : undefined);
    const route = this.admit(peer?.address);
    const connection = new HandleConnection(
      this.ctx.uv as LibuvHandles,
      client,
      route,
      this,
      this.noDelayInherited,
      rest,
    );
    this.ctx.tracker.add(connection);
    connection.start();
    if (this.ctx.debug) this.logConnection(route, peer);
  }

  /** The `sockets` data path: a connection accepted as a `net.Socket`. */
  private readonly onSocket = (client: Socket): void => {
    if (this.open >= this.table.config.maxConnections) {
      client.on("error", ignoreError);
      client.resetAndDestroy();
      this.refused();
      return;
    }
    this.open++;
    if (this.table.config.proxyProtocol) {
      const reader = new SocketHeaderReader(
        client,
        this.ctx.proxyHeaderTimeoutMs,
        this.onSocketHeader,
      );
      this.ctx.tracker.add(reader);
      reader.start();
      return;
    }
    this.admitSocket(client, undefined);
  };

  private readonly onSocketHeader = (reader: SocketHeaderReader, outcome: HeaderOutcome): void => {
    this.ctx.tracker.delete(reader);
    if (outcome.kind !== "header") {
      const { remoteAddress, remotePort } = reader.client;
      this.headerFailed(
        outcome,
        remoteAddress ? { address: remoteAddress, port: remotePort ?? 0 } : undefined,
      );
      reader.client.destroy();
      return;
    }
    this.admitSocket(reader.client, outcome.parse.source);
  };

  private admitSocket(client: Socket, source: ProxySource | undefined): void {
    const peer =
      source ??
      (this.table.picker.needsAddress || this.ctx.debug
        ? { address: client.remoteAddress ?? "", port: client.remotePort ?? 0 }
        : undefined);
    const route = this.admit(peer?.address);
    this.ctx.tracker.add(new ProxiedConnection(client, route, this));
    if (this.ctx.debug) this.logConnection(route, peer);
  }

  /** Pick a new connection's route and count the connection (undone by `onClosed`). */
  private admit(clientAddress: string | undefined): RouteRuntime {
    const route = this.table.picker.pick(clientAddress);
    const counts = route.counts;
    counts.connections++;
    counts.open++;
    route.listenerCounts.active++;
    return route;
  }

  private logConnection(route: RouteRuntime, peer: ProxySource | undefined): void {
    this.ctx.logger.debug("connection", {
      listener: route.listener,
      route: route.name,
      client: peer ? formatAddress(peer) : undefined,
    });
  }

  private refused(): void {
    this.table.counts.refused++;
    this.ctx.limiter.log(
      "warn",
      `refused:${this.name}`,
      "connection refused (reset): listener at maxConnections",
      { listener: this.name, maxConnections: this.table.config.maxConnections },
    );
  }

  private headerFailed(outcome: HeaderOutcome, peer: ProxySource | undefined): void {
    this.open--;
    if (outcome.kind === "destroyed") return;
    const counts = this.table.counts;
    const timeout = outcome.kind === "timeout";
    if (timeout) counts.proxyTimeout++;
    else counts.proxyInvalid++;
    this.ctx.limiter.log(
      "warn",
      `proxy:${this.name}`,
      timeout
        ? "connection closed: no PROXY protocol header in time"
        : "connection closed: invalid PROXY protocol header",
      {
        listener: this.name,
        reason: outcome.kind === "invalid" ? outcome.reason : "timeout",
        client: peer ? formatAddress(peer) : undefined,
      },
    );
  }

  onConnectFailure(connection: GatewayConnection, endpoint: Endpoint, error: Error): void {
    const { listener, name } = connection.route;
    this.ctx.limiter.log(
      "warn",
      `connect:${listener}:${name}:${endpoint.target}`,
      "backend connect failed",
      {
        listener,
        route: name,
        endpoint: endpoint.target,
        attempt: connection.attempts,
        of: connection.route.connectAttempts,
        error,
      },
    );
  }

  onUnavailable(connection: GatewayConnection): void {
    const { listener, name } = connection.route;
    this.ctx.limiter.log(
      "error",
      `unavailable:${listener}:${name}`,
      "no endpoint of the route accepted the connection; client closed",
      {
        listener,
        route: name,
        attempts: connection.attempts,
        endpoints: connection.route.pool.endpoints.map((endpoint) => endpoint.target),
      },
    );
  }

  onOutOfDescriptors(connection: GatewayConnection, error: Error): void {
    const { listener, name } = connection.route;
    connection.route.listenerCounts.outOfDescriptors++;
    this.ctx.limiter.log(
      "error",
      `descriptors:${listener}`,
      "out of file descriptors: client closed without a backend (the endpoints are not blamed; raise the open-files limit or lower maxConnections)",
      { listener, route: name, error },
    );
  }

  onClosed(connection: GatewayConnection): void {
    this.open--;
    const route = connection.route;
    const lifetimeMs = connection.lifetimeMs();
    if (lifetimeMs >= 0) recordDuration(route.counts, lifetimeMs / 1000);
    route.counts.open--;
    if (connection.draining) route.counts.draining--;
    route.listenerCounts.active--;
    this.ctx.tracker.delete(connection);
  }
}

function handlePeer(client: TcpHandle): ProxySource | undefined {
  const peer: { address?: string; port?: number } = {};
  client.getpeername(peer);
  return peer.address === undefined ? undefined : { address: peer.address, port: peer.port ?? 0 };
}

function ignoreError(): void {}

/** Create a gateway; nothing is bound until `listen()`. */
export function createGateway(options: GatewayOptions): TcpGateway {
  const logger = options.logger ?? silentLogger;
  const registry = options.registry ?? new Registry();
  const metrics: GatewayMetrics = createGatewayMetrics(registry);
  const tracker = new ConnectionTracker<TrackedConnection>();
  const dataPath = options.dataPath ?? (libuvHandles ? "handles" : "sockets");
  if (dataPath === "handles" && !libuvHandles)
    throw new UserError(
      DATA_PATH_ERROR_CODE,
      `The "handles" data path is not available on this Node: ${handlesUnavailableReason}; use "sockets"`,
    );
  const proxyHeaderTimeoutMs = options.proxyHeaderTimeoutMs ?? PROXY_HEADER_TIMEOUT_MS;
  const ctx: ListenerContext = {
    tracker,
    logger,
    limiter: new LogLimiter(logger, options.logIntervalMs),
    uv: dataPath === "handles" ? libuvHandles : undefined,
    debug: levelEnabled(logger, "debug"),
    proxyHeaderTimeoutMs,
  };
  const drains = new DrainScheduler(
    () => tracker.values(),
    (listener, route) => metrics.counts.route(listener, route),
    logger,
  );
  const readOpenFilesLimit = options.openFilesLimit ?? openFilesLimit;
  const listeners = new Map<string, GatewayListener>();
  let current = options.routes;
  let state: "new" | "listening" | "closing" = "new";
  /** Reloads run one at a time, in call order. */
  let reloading: Promise<void> = Promise.resolve();
  let lastDescriptorWarning = "";
  let reloadCount = 0;

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
    const period = sweepPeriodMs(routes, proxyHeaderTimeoutMs);
    if (sweepTimer && period === sweepPeriod) return;
    clearInterval(sweepTimer);
    sweepPeriod = period;
    sweepTimer = setInterval(sweep, period);
    sweepTimer.unref();
  };

  const buildTables = (routes: RouteFile): Promise<RouteTable[]> =>
    Promise.all(routes.listeners.map((config) => buildRouteTable(config, metrics, logger)));

  const isReady = (): boolean =>
    state === "listening" && current.listeners.every((config) => listeners.has(config.name));
  const updateReady = (): void => {
    metrics.ready.set(isReady() ? 1 : 0);
  };

  const describe = (listener: GatewayListener) => {
    const config = listener.table.config;
    return {
      listener: config.name,
      address: formatAddress(listener.server.address() as AddressInfo),
      balance: config.balance,
      routes: config.routes.map((route) => `${route.name}=${route.weight}`).join(","),
      ...(config.proxyProtocol ? { proxyProtocol: true } : {}),
      ...(config.drainAfterSeconds === undefined
        ? {}
        : { drainAfterSeconds: config.drainAfterSeconds, drainRate: config.drainRate }),
    };
  };

  /** What a user should know about a route file that is valid: relative weights, fd limits. */
  const warnAbout = (routes: RouteFile): void => {
    for (const listener of routes.listeners) {
      const total = listener.routes.reduce((sum, route) => sum + route.weight, 0);
      // One route takes everything whatever its weight.
      if (total !== 100 && listener.routes.length > 1)
        logger.warn("route weights do not sum to 100; they are relative", {
          listener: listener.name,
          total,
          shares: describeShares(listener),
        });
    }
    const limit = readOpenFilesLimit();
    const needed = descriptorsNeeded(routes.listeners.map((listener) => listener.maxConnections));
    const warning = `${needed}/${limit}`;
    if (limit !== undefined && needed > limit && warning !== lastDescriptorWarning) {
      lastDescriptorWarning = warning;
      logger.warn("open-files limit too low for maxConnections", {
        limit,
        needed,
        maxConnections: routes.listeners.map((l) => `${l.name}=${l.maxConnections}`).join(","),
        hint: "each connection needs 2 file descriptors; raise the limit (ulimit -n, systemd LimitNOFILE, the container runtime's nofile) or lower maxConnections",
      });
    }
  };

  /** Make `routes` the file in force (listeners already match it). */
  const applied = (routes: RouteFile): void => {
    current = routes;
    metrics.counts.setLive(
      routes.listeners.map((listener) => [
        listener.name,
        listener.routes.map((route) => route.name),
      ]),
    );
    metrics.routeWeight.reset();
    for (const listener of routes.listeners)
      for (const route of listener.routes)
        metrics.routeWeight.labels(listener.name, route.name).set(route.weight);
    scheduleSweep(routes);
    drains.update(routes);
    warnAbout(routes);
    updateReady();
  };

  async function applyReload(routes: RouteFile): Promise<void> {
    if (state !== "listening") throw new Error(`cannot reload a gateway that is ${state}`);
    const tables = await buildTables(routes);
    const kept = new Map<string, RouteTable>();
    const fresh: RouteTable[] = [];
    for (const table of tables) {
      const existing = listeners.get(table.config.name);
      if (existing && existing.table.config.listen === table.config.listen)
        kept.set(table.config.name, table);
      else fresh.push(table);
    }
    const released = [...listeners.values()].filter((listener) => !kept.has(listener.name));
    const portOf = (table: RouteTable) => parseHostPort(table.config.listen, "listen").port;
    const heldByReleased = (table: RouteTable) =>
      portOf(table) !== 0 && released.some((listener) => listener.port === portOf(table));

    // Bind every new address before anything changes. An address one of our own released
    // listeners holds (a renamed listener, or a port another listener leaves) is freed just
    // before; if a bind fails, those are bound again where they were.
    const bound: GatewayListener[] = [];
    const freed: GatewayListener[] = [];
    try {
      for (const table of [
        ...fresh.filter((t) => !heldByReleased(t)),
        ...fresh.filter(heldByReleased),
      ]) {
        for (const old of released)
          if (old.port === portOf(table) && !freed.includes(old)) {
            old.stop();
            freed.push(old);
          }
        const listener = new GatewayListener(table, ctx);
        await listener.bind();
        bound.push(listener);
      }
    } catch (error) {
      for (const listener of bound) listener.stop();
      for (const old of freed)
        await old.rebind().catch((rebindError: Error) => {
          // Cannot happen unless another process took the port in between: say so; the
          // listener is gone, and readiness reports it.
          listeners.delete(old.name);
          logger.error("listener lost: its address was taken while a reload was rolled back", {
            listener: old.name,
            error: rebindError,
          });
        });
      updateReady();
      gateway.recordReloadFailure(error as Error);
      throw error;
    }

    for (const old of released) {
      if (!freed.includes(old)) old.stop();
      listeners.delete(old.name);
      logger.info("listener removed", { listener: old.name });
    }
    for (const [name, table] of kept) listeners.get(name)?.setTable(table);
    for (const listener of bound) {
      listeners.set(listener.name, listener);
      logger.info("listener added", describe(listener));
    }
    applied(routes);
    metrics.reloads.inc();
    reloadCount++;
    logger.info("routes reloaded", {
      listeners: routes.listeners.map((config) => {
        const listener = listeners.get(config.name);
        return listener ? describe(listener) : { listener: config.name, bound: false };
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
          const listener = new GatewayListener(table, ctx);
          await listener.bind();
          bound.push(listener);
        }
      } catch (error) {
        for (const listener of bound) listener.stop();
        throw error;
      }
      for (const listener of bound) {
        listeners.set(listener.name, listener);
        logger.info("listening", { ...describe(listener), dataPath });
      }
      state = "listening";
      applied(current);
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
      updateReady();
      await reloading;
      for (const listener of listeners.values()) listener.stop();
      listeners.clear();
      drains.close();
      logger.info("draining", { activeConnections: tracker.size, graceMs });
      await tracker.drain(graceMs);
      clearInterval(sweepTimer);
      ctx.limiter.flush();
      logger.info("closed");
    },

    recordReloadFailure(error) {
      metrics.reloadFailures.inc();
      reloadCount++;
      logger.error("route reload rejected; keeping the last good routes", {
        error: error.message,
        code: (error as UserError).code,
      });
    },

    get activeConnections() {
      return tracker.size;
    },
    get ready() {
      return isReady();
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
    get sweepPeriodMs() {
      return sweepPeriod;
    },
    get reloadCount() {
      return reloadCount;
    },
  };
  return gateway;
}
