/**
 * One proxied connection on `net.Socket`s: the gateway's fallback data path, used where Node's
 * libuv handles are not available (libuvHandles.ts) or with `dataPath: "sockets"`. Connect to
 * an endpoint of the chosen route (bounded attempts within that route, never another route),
 * then forward bytes both ways.
 *
 * Why 'data' handlers and not `socket.pipe()` / `stream.pipeline()`: pipeline costs ~1.6x the
 * CPU of pipe per connection, and pipe's machinery (onfinish/unpipe/cleanup listeners, pause
 * bookkeeping) measured as a visible share again. Forwarding by hand keeps the same contract:
 * - backpressure: `write()` false pauses the source, the sink's 'drain' resumes it (bounded
 *   buffers);
 * - half-close: a side's FIN ('end') is forwarded with `end()` (`allowHalfOpen` on both
 *   sockets), so a client that half-closes after sending still gets its reply. When the other
 *   side has already sent its FIN too and nothing is queued, the socket is closed at once
 *   (close(2) sends the FIN): one shutdown(2) less per connection;
 * - teardown: an error, an idle timeout or an abortive close on one side destroys both; a reset
 *   (ECONNRESET, EPIPE) of an established connection is counted for its route;
 * - a drain (`requestDrain`) ends the backend (FIN after what is queued, and after the bytes the
 *   client's socket held, read in the next I/O poll), drops what the client sends afterwards,
 *   lets the backend's FIN reach the client as above, and closes once the client's FIN is in
 *   too, in either order (see gatewayConnection.ts).
 *
 * Timeouts are not per-socket timers: the gateway's sweep (`checkTimeouts`) looks at every
 * connection a few times per timeout (see tcpGateway.ts).
 *
 * The client socket is accepted paused (`pauseOnConnect`): what it sends (and its FIN) waits in
 * the kernel until the backend is connected, then reading starts once.
 */
import { connect, type Socket } from "node:net";
import { isOutOfDescriptors } from "../shared/openFiles";
import type { Endpoint } from "./endpointPool";
import { CONNECTING, type ConnectionEvents, PIPING, SweptConnection } from "./gatewayConnection";
import { type HeaderOutcome, HeaderReader } from "./headerReader";
import type { RouteRuntime } from "./routeTable";

/** After CONNECTING and PIPING (gatewayConnection.ts). */
const CLOSED = 2;

/** Bits of `eof`: which side's FIN has been received (and forwarded). */
const CLIENT_EOF = 1;
const BACKEND_EOF = 2;

/** A client socket and its backend socket. */
export class ProxiedConnection extends SweptConnection {
  readonly client: Socket;
  readonly route: RouteRuntime;
  private readonly events: ConnectionEvents;
  backend: Socket | undefined;
  endpoint: Endpoint | undefined;
  attempts = 0;
  /** Sockets not yet closed (client, plus the current backend once it exists). */
  private openSockets = 1;
  private eof = 0;
  /** A drain ended the backend: what the client sends is dropped. */
  private drained = false;
  private clientDrainHooked = false;
  private backendDrainHooked = false;

  constructor(client: Socket, route: RouteRuntime, events: ConnectionEvents) {
    super();
    this.client = client;
    this.route = route;
    this.events = events;
    // TCP_NODELAY is already set by the listening server (`noDelay: true`).
    client.on("error", this.onClientError);
    client.on("close", this.onClientClose);
    this.connectNext();
  }

  destroy(): void {
    if (this.phase === CLOSED) return;
    this.phase = CLOSED;
    this.client.destroy();
    this.backend?.destroy();
  }

  protected connectTimedOut(): void {
    this.socketFailed(this.backend as Socket, undefined);
  }

  private connectNext(): void {
    const route = this.route;
    const endpoint = route.pool.next();
    this.endpoint = endpoint;
    this.attempts++;
    this.since = Date.now();
    const backend = connect({
      host: endpoint.address,
      port: endpoint.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    this.backend = backend;
    this.openSockets++;
    backend.on("connect", this.onBackendConnect);
    backend.on("error", this.onBackendError);
    backend.on("close", this.onBackendClose);
  }

  private readonly onBackendConnect = (): void => {
    if (this.phase !== CONNECTING) return;
    this.startPiping();
    this.route.pool.markHealthy(this.endpoint as Endpoint);
    const client = this.client;
    const backend = this.backend as Socket;
    backend.on("data", this.onBackendData);
    backend.on("end", this.onBackendEnd);
    client.on("data", this.onClientData);
    client.on("end", this.onClientEnd);
    // Accepted paused (`pauseOnConnect`): adding a 'data' listener does not start reading.
    client.resume();
    this.piping();
  };

  protected startDrain(): boolean {
    if (this.eof & CLIENT_EOF) return false;
    this.markDrainStart();
    this.finishDrainAfterPoll();
    return true;
  }

  /** @internal See `SweptConnection.finishDrain`. */
  finishDrain(): void {
    // Closed, done, or the client's own FIN came first (the backend has it already).
    if (this.phase !== PIPING || this.drained || this.eof & CLIENT_EOF) return;
    const client = this.client;
    const backend = this.backend as Socket;
    // A client paused until the backend takes what is queued: its 'drain' asks again.
    if (this.drainWaits(backend.writableNeedDrain)) return;
    this.drained = true;
    client.off("data", this.onClientData);
    client.on("data", dropChunk);
    // Read (and drop) even if a full backend had paused the client.
    client.resume();
    // The FIN follows whatever the backend socket still queues: nothing already read is cut.
    backend.end();
  }

  protected clientBytesRead(): number {
    return this.client.bytesRead;
  }

  private readonly onClientData = (chunk: Buffer): void => {
    this.active = true;
    const backend = this.backend as Socket;
    if (backend.write(chunk)) return;
    this.client.pause();
    if (!this.backendDrainHooked) {
      this.backendDrainHooked = true;
      backend.on("drain", this.onBackendDrain);
    }
  };

  private readonly onBackendData = (chunk: Buffer): void => {
    this.active = true;
    if (this.client.write(chunk)) return;
    (this.backend as Socket).pause();
    if (!this.clientDrainHooked) {
      this.clientDrainHooked = true;
      this.client.on("drain", this.onClientDrain);
    }
  };

  private readonly onBackendDrain = (): void => {
    this.client.resume();
    // A drain waiting for the backend: its FIN follows what the next poll reads.
    if (this.draining && !this.drained) this.finishDrainAfterPoll();
  };

  private readonly onClientDrain = (): void => {
    (this.backend as Socket).resume();
  };

  private readonly onClientEnd = (): void => {
    this.eof |= CLIENT_EOF;
    // After a drain the backend already has its FIN; it is closed once both FINs are in.
    if (!this.drained || this.eof === (CLIENT_EOF | BACKEND_EOF))
      finish(this.backend as Socket, this.eof === (CLIENT_EOF | BACKEND_EOF));
  };

  private readonly onBackendEnd = (): void => {
    this.eof |= BACKEND_EOF;
    finish(this.client, this.eof === (CLIENT_EOF | BACKEND_EOF));
  };

  private readonly onClientError = (error: Error): void => {
    this.socketFailed(this.client, error);
  };

  private readonly onBackendError = (error: Error): void => {
    this.socketFailed(this.backend as Socket, error);
  };

  private readonly onClientClose = (): void => {
    this.socketClosed(this.client);
  };

  private readonly onBackendClose = (): void => {
    this.socketClosed(this.backend as Socket);
  };

  /** A socket errored, or (error undefined) a connect attempt timed out. */
  private socketFailed(socket: Socket, error: Error | undefined): void {
    if (this.phase === CONNECTING && socket === this.backend) {
      // Out of file descriptors: this process's limit, not the endpoint's fault.
      const outOfDescriptors = isOutOfDescriptors(error);
      const endpoint = this.endpoint as Endpoint;
      if (!outOfDescriptors) {
        // A failed connect: counted, endpoint skipped for a while, next endpoint of this route.
        this.route.pool.markFailed(endpoint);
        // The address may be stale (a Service recreated with a new IP): look the name up again
        // in the background, for later connections.
        endpoint.refresh();
        this.route.counts.connectFailures++;
        this.events.onConnectFailure(
          this,
          endpoint,
          error ?? new Error(`connect timeout after ${this.route.connectTimeoutMs} ms`),
        );
      }
      // This attempt's socket is done with: its events no longer concern the connection (the
      // handlers find the backend through `this.backend`, which the next attempt replaces).
      socket.removeListener("error", this.onBackendError);
      socket.removeListener("close", this.onBackendClose);
      socket.removeListener("connect", this.onBackendConnect);
      socket.on("error", ignoreError);
      socket.destroy();
      this.openSockets--;
      if (
        !outOfDescriptors &&
        this.attempts < this.route.connectAttempts &&
        !this.client.destroyed
      ) {
        this.connectNext();
        return;
      }
      this.phase = CLOSED;
      if (outOfDescriptors) this.events.onOutOfDescriptors(this, error as Error);
      else {
        this.route.counts.backendUnavailable++;
        this.events.onUnavailable(this);
      }
      // A clean close (FIN) rather than a reset: the client did nothing wrong. Reading (and
      // dropping) what it sent keeps close(2) from answering unread bytes with a RST.
      this.client.resume();
      this.client.destroySoon();
      return;
    }
    if (this.phase === PIPING && isReset(error)) this.route.counts.resets++;
    this.destroy();
  }

  private socketClosed(socket: Socket): void {
    // A side that closed without finishing both directions (reset, destroy) takes the other
    // with it; after a clean FIN exchange the other side finishes flushing on its own. A
    // drained backend has had both FINs before the client's FIN comes: the client has its FIN
    // and is read (its bytes dropped) until its own, so that closing it answers nothing unread
    // with a reset (the idle timeout bounds the wait).
    if (socket === this.client) {
      const counts = this.route.counts;
      counts.bytesToBackend += socket.bytesRead;
      counts.bytesToClient += socket.bytesWritten;
      if (!(this.eof & CLIENT_EOF) || !(this.eof & BACKEND_EOF) || this.phase === CONNECTING)
        this.destroy();
    } else if (this.eof !== (CLIENT_EOF | BACKEND_EOF) && !(this.drained && this.eof & BACKEND_EOF))
      this.destroy();
    if (--this.openSockets === 0) {
      this.phase = CLOSED;
      this.events.onClosed(this);
    }
  }
}

/**
 * Forward a FIN to `socket`. When its own FIN has arrived too (`bothEnded`) and nothing waits to
 * be written, close it at once: close(2) sends the FIN (nothing unread remains after EOF), and
 * the shutdown(2) that `end()` would make first is saved.
 */
function finish(socket: Socket, bothEnded: boolean): void {
  if (bothEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}

function ignoreError(): void {}

function dropChunk(): void {}

/** Either side's RST: read or write after it (ECONNRESET), or a write after it (EPIPE). */
function isReset(error: Error | undefined): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

/**
 * Reads the PROXY protocol header of a client accepted as a `net.Socket` (see
 * `HandleHeaderReader` for the handles path): collects its first bytes until the header is
 * whole, invalid or too slow, then pauses the socket, puts the bytes after the header back
 * (`unshift`, so they are the first the connection forwards) and lets `done` decide.
 */
export class SocketHeaderReader extends HeaderReader {
  constructor(
    readonly client: Socket,
    timeoutMs: number,
    private readonly done: (reader: SocketHeaderReader, outcome: HeaderOutcome) => void,
  ) {
    super(timeoutMs);
  }

  start(): void {
    this.client.on("data", this.onData);
    this.client.on("end", this.onEnd);
    this.client.on("error", this.onEnd);
    this.client.resume();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.finished) return;
    const parse = this.received.push(chunk);
    if (parse.kind === "incomplete") return;
    this.client.pause();
    if (parse.kind === "invalid") {
      this.finish({ kind: "invalid", reason: parse.reason });
      return;
    }
    const rest = this.received.rest(parse.length);
    if (rest) this.client.unshift(rest);
    this.finish({ kind: "header", parse, rest });
  };

  private readonly onEnd = (): void => {
    if (!this.finished) this.finish({ kind: "invalid", reason: "closed before a complete header" });
  };

  protected override finish(outcome: HeaderOutcome): void {
    this.finished = true;
    const client = this.client;
    client.off("data", this.onData);
    client.off("end", this.onEnd);
    client.off("error", this.onEnd);
    // Until the connection (or the close) takes over.
    if (outcome.kind !== "header") client.on("error", ignoreError);
    this.done(this, outcome);
  }
}
