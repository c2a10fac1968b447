/**
 * One proxied connection: connect to an endpoint of the chosen route (bounded attempts within
 * that route, never another route), then pipe both ways.
 *
 * Why `socket.pipe()` and not `stream.pipeline()`: pipeline costs ~1.6x the CPU per connection.
 * Its teardown semantics are kept by hand: an error, an idle timeout or an abortive close on one
 * side destroys both. A clean FIN is forwarded (`allowHalfOpen` on both sockets, `pipe` ends the
 * other side) so a client that half-closes after sending still gets its reply.
 *
 * Handlers are module-level functions that find their connection through a symbol on the socket:
 * no closures allocated per connection.
 */
import { connect, type Socket } from "node:net";
import type { Endpoint } from "./endpointPool";
import type { RouteRuntime } from "./routeTable";

const CONNECTION = Symbol("proxiedConnection");
type ProxiedSocket = Socket & { [CONNECTION]: ProxiedConnection };

/** What a connection reports back to its gateway (one object per listener, not per connection). */
export interface ConnectionEvents {
  /** A connect attempt failed; the connection may try another endpoint. */
  onConnectFailure(connection: ProxiedConnection, endpoint: Endpoint, error: Error): void;
  /** Every attempt failed; the client is being closed. */
  onUnavailable(connection: ProxiedConnection): void;
  /** Both sockets are closed. */
  onClosed(connection: ProxiedConnection): void;
}

/** Connection phases (plain numbers: cheaper than strings, no enum emit). */
const CONNECTING = 0;
const PIPING = 1;
const CLOSED = 2;

/** A client connection and its backend connection. */
export class ProxiedConnection {
  readonly client: Socket;
  readonly route: RouteRuntime;
  private readonly events: ConnectionEvents;
  backend: Socket | undefined;
  endpoint: Endpoint | undefined;
  attempts = 0;
  private phase: number = CONNECTING;
  /** Sockets not yet closed (client, plus the current backend once it exists). */
  private openSockets = 1;

  constructor(client: Socket, route: RouteRuntime, events: ConnectionEvents) {
    this.client = client;
    this.route = route;
    this.events = events;
    (client as ProxiedSocket)[CONNECTION] = this;
    // TCP_NODELAY is already set by the listening server (`noDelay: true`).
    client.setTimeout(route.idleTimeoutMs);
    client.on("error", onSocketError);
    client.on("timeout", onSocketTimeout);
    client.on("close", onClientClose);
    // Until the backend is connected nothing consumes the client: what it sends (and its FIN)
    // waits in the socket's buffer, bounded by highWaterMark, then flows through the pipe.
    this.connectNext();
  }

  /** Tear both sides down now (shutdown after the grace period, errors, idle timeout). */
  destroy(): void {
    if (this.phase === CLOSED) return;
    this.phase = CLOSED;
    this.client.destroy();
    this.backend?.destroy();
  }

  private connectNext(): void {
    const route = this.route;
    const endpoint = route.pool.next();
    this.endpoint = endpoint;
    this.attempts++;
    const backend = connect({
      host: endpoint.address,
      port: endpoint.port,
      allowHalfOpen: true,
      noDelay: true,
      timeout: route.connectTimeoutMs,
    });
    (backend as ProxiedSocket)[CONNECTION] = this;
    this.backend = backend;
    this.openSockets++;
    backend.on("connect", onBackendConnect);
    backend.on("error", onSocketError);
    backend.on("timeout", onSocketTimeout);
    backend.on("close", onBackendClose);
  }

  /** @internal */
  backendConnected(backend: Socket): void {
    if (this.phase !== CONNECTING || backend !== this.backend) return;
    this.phase = PIPING;
    this.route.pool.markHealthy(this.endpoint as Endpoint);
    backend.setTimeout(this.route.idleTimeoutMs);
    this.client.pipe(backend);
    backend.pipe(this.client);
  }

  /** @internal A socket errored or timed out. */
  socketFailed(socket: Socket, error: Error | undefined): void {
    // A socket of an earlier, failed connect attempt: already handled.
    if (socket !== this.client && socket !== this.backend) return;
    if (this.phase === CONNECTING && socket === this.backend) {
      // A failed connect: counted, endpoint skipped for a while, next endpoint of this route.
      const endpoint = this.endpoint as Endpoint;
      this.route.pool.markFailed(endpoint);
      // The address may be stale (a Service recreated with a new IP): look the name up again
      // in the background, for later connections.
      endpoint.refresh();
      this.route.connectFailures.inc();
      this.events.onConnectFailure(
        this,
        endpoint,
        error ?? new Error(`connect timeout after ${this.route.connectTimeoutMs} ms`),
      );
      socket.destroy();
      if (this.attempts < this.route.connectAttempts && !this.client.destroyed) {
        this.connectNext();
        return;
      }
      this.phase = CLOSED;
      this.route.backendUnavailable.inc();
      this.events.onUnavailable(this);
      // A clean close (FIN) rather than a reset: the client did nothing wrong.
      this.client.destroySoon();
      return;
    }
    if (error === undefined && this.phase === PIPING) this.route.idleTimeouts.inc();
    this.destroy();
  }

  /** @internal */
  socketClosed(socket: Socket): void {
    // A side that closed without finishing both directions (reset, destroy) takes the other
    // with it; after a clean FIN exchange the other side finishes flushing on its own.
    // The socket of an earlier, failed connect attempt only needs counting down.
    const clean = socket.readableEnded && socket.writableFinished;
    if (socket === this.client) {
      this.route.bytesToBackend.inc(socket.bytesRead);
      this.route.bytesToClient.inc(socket.bytesWritten);
      if (!clean || this.phase === CONNECTING) this.destroy();
    } else if (socket === this.backend && !clean) this.destroy();
    if (--this.openSockets === 0) {
      this.phase = CLOSED;
      this.events.onClosed(this);
    }
  }
}

function onBackendConnect(this: ProxiedSocket): void {
  this[CONNECTION].backendConnected(this);
}
function onSocketError(this: ProxiedSocket, error: Error): void {
  this[CONNECTION].socketFailed(this, error);
}
function onSocketTimeout(this: ProxiedSocket): void {
  this[CONNECTION].socketFailed(this, undefined);
}
function onClientClose(this: ProxiedSocket): void {
  this[CONNECTION].socketClosed(this);
}
function onBackendClose(this: ProxiedSocket): void {
  this[CONNECTION].socketClosed(this);
}
