/**
 * One proxied connection on bare libuv TCP handles (libuvHandles.ts): the gateway's default data
 * path. Same contract as the `net.Socket` path (connectionPipe.ts), without a stream, an event
 * emitter or a timer per connection:
 * - connect to an endpoint of the chosen route, bounded attempts within that route only;
 * - the client is read only once its backend is connected (nothing buffered meanwhile);
 * - backpressure: a write the kernel could not take at once stops reading its source until the
 *   write completes, so at most one chunk per direction waits in memory;
 * - half-close: a side's FIN is forwarded with shutdown(2) after the queued bytes; once both
 *   FINs are in, both handles close. That is graceful: a side's FIN is read only after its
 *   last chunk was written (reading stops while a write waits), so when the second FIN arrives
 *   no write is queued either way, nothing unread remains, and close(2) sends the last FIN; a
 *   pending shutdown is superseded by the close. So no completion of a write or shutdown is
 *   awaited for the close (no callback per connection for it), except when a client is turned
 *   away (below);
 * - teardown: a read or write error, an idle timeout or `destroy()` closes both at once;
 * - reads go to a buffer shared by every handle (copied out at once: a line costs a small
 *   copy, not a 64 KiB allocation, resize and free per read); a handle that streams gets a
 *   buffer of its own, written from without a copy (readBuffers.ts).
 *
 * Handlers are module functions shared by every connection (found through a symbol on the
 * handle or request), so a connection allocates no closures.
 */
import { lookup } from "node:dns";
import type { Endpoint } from "./endpointPool";
import { CONNECTING, type ConnectionEvents, PIPING, SweptConnection } from "./gatewayConnection";
import {
  type ConnectRequest,
  type LibuvHandles,
  type ShutdownRequest,
  type TcpHandle,
  type UvStatus,
  uvError,
  type WriteRequest,
} from "./libuvHandles";
import { ReadBufferPool, STREAMING_THRESHOLD_BYTES } from "./readBuffers";
import type { RouteRuntime } from "./routeTable";

const OWNER = Symbol("tcp-shift.connection");
type Owned<T> = T & { [OWNER]?: HandleConnection };

/**
 * Phases after CONNECTING and PIPING (gatewayConnection.ts). REFUSING: every connect attempt
 * failed; the client gets a FIN and what it sends is dropped.
 */
const REFUSING = 2;
const CLOSED = 3;

/** Bits of `eof`: which side's FIN has been read (and forwarded). */
const CLIENT_EOF = 1;
const BACKEND_EOF = 2;
const BOTH_EOF = CLIENT_EOF | BACKEND_EOF;

/** A write request not handed to libuv (its last write completed synchronously). */
let spareWrite: WriteRequest | undefined;
/** The shared read buffer and the buffers lent to streaming handles (readBuffers.ts). */
const readBuffers = new ReadBufferPool();

/** A client handle and its backend handle. */
export class HandleConnection extends SweptConnection {
  readonly route: RouteRuntime;
  attempts = 0;
  private readonly uv: LibuvHandles;
  private readonly events: ConnectionEvents;
  private readonly client: Owned<TcpHandle>;
  private backend: Owned<TcpHandle> | undefined;
  private endpoint: Endpoint | undefined;
  /** The connect in progress; a completion for any other request is stale (timed out). */
  private connecting: ConnectRequest | undefined;
  private eof = 0;
  private bytesToBackend = 0;
  private bytesToClient = 0;
  /** The read buffer of the client (of the backend) once it streams; see readBuffers.ts. */
  private clientBuffer: Buffer | undefined;
  private backendBuffer: Buffer | undefined;

  /**
   * @param noDelayInherited the client inherited TCP_NODELAY from the listening socket; else it
   *   is set here
   */
  constructor(
    uv: LibuvHandles,
    client: TcpHandle,
    route: RouteRuntime,
    events: ConnectionEvents,
    noDelayInherited: boolean,
  ) {
    super();
    this.uv = uv;
    this.client = client;
    this.route = route;
    this.events = events;
    (client as Owned<TcpHandle>)[OWNER] = this;
    if (!noDelayInherited) client.setNoDelay(true);
    client.useUserBuffer(readBuffers.shared);
  }

  /** Start the first connect attempt (after the gateway has registered the connection). */
  start(): void {
    this.connectNext();
  }

  destroy(): void {
    if (this.phase === CLOSED) return;
    this.close();
  }

  protected connectTimedOut(): void {
    this.connectFailed(new Error(`connect timeout after ${this.route.connectTimeoutMs} ms`));
  }

  private connectNext(): void {
    const endpoint = this.route.pool.next();
    this.endpoint = endpoint;
    this.attempts++;
    this.since = Date.now();
    if (endpoint.family !== 0) {
      this.connectTo(endpoint.address, endpoint.family, endpoint.port);
      return;
    }
    // A hostname that did not resolve when the routes were loaded: look it up for this attempt.
    const attempt = this.attempts;
    lookup(endpoint.address, { order: "ipv4first" }, (error, address, addressFamily) => {
      if (attempt !== this.attempts || this.phase !== CONNECTING) return;
      if (error) this.connectFailed(error);
      else this.connectTo(address, addressFamily, endpoint.port);
    });
  }

  private connectTo(address: string, family: number, port: number): void {
    const backend: Owned<TcpHandle> = this.uv.newSocket();
    backend[OWNER] = this;
    backend.setNoDelay(true);
    const request: Owned<ConnectRequest> = this.uv.newConnect();
    request.oncomplete = onConnectComplete;
    request.address = address;
    request.port = port;
    request[OWNER] = this;
    this.backend = backend;
    this.connecting = request;
    const status =
      family === 6
        ? backend.connect6(request, address, port)
        : backend.connect(request, address, port);
    // A synchronous failure is reported on the next tick, like an asynchronous one: the caller
    // may still be setting the connection up.
    if (status !== 0) {
      process.nextTick(() => this.connected(request, status));
      return;
    }
    // Reading is armed now, with the connect: libuv then registers the socket for both at once
    // (two epoll_ctl in all instead of three, one of them failing; measured with strace).
    // Nothing is read before the connect completes, and `read()` ignores a connection that is
    // not piping.
    backend.onread = onHandleRead;
    backend.useUserBuffer(readBuffers.shared);
    backend.readStart();
  }

  /** @internal The connect request `request` completed with `status`. */
  connected(request: ConnectRequest, status: UvStatus): void {
    if (request !== this.connecting || this.phase !== CONNECTING) return;
    this.connecting = undefined;
    if (status !== 0) {
      this.connectFailed(uvError(status, "connect", request.address, request.port));
      return;
    }
    this.phase = PIPING;
    this.route.pool.markHealthy(this.endpoint as Endpoint);
    this.client.onread = onHandleRead;
    if (this.client.readStart() !== 0) this.close();
  }

  /** A connect attempt failed or timed out: next endpoint of this route, or give up cleanly. */
  private connectFailed(error: Error): void {
    const endpoint = this.endpoint as Endpoint;
    const route = this.route;
    route.pool.markFailed(endpoint);
    // The address may be stale (a Service recreated with a new IP): look the name up again in
    // the background, for later connections.
    endpoint.refresh();
    route.counts.connectFailures++;
    this.events.onConnectFailure(this, endpoint, error);
    // Closing cancels a pending connect; its completion is then ignored (no longer `connecting`).
    this.connecting = undefined;
    this.backend?.close();
    this.backend = undefined;
    if (this.attempts < route.connectAttempts) {
      this.connectNext();
      return;
    }
    this.phase = REFUSING;
    route.counts.backendUnavailable++;
    this.events.onUnavailable(this);
    // A clean close (FIN) rather than a reset: the client did nothing wrong. Reading (and
    // dropping) what it sent keeps close(2) from answering unread bytes with a RST.
    this.client.onread = onHandleRead;
    this.client.readStart();
    if (!this.shutdown(this.client, true)) this.close();
  }

  /**
   * @internal Bytes (or EOF, or an error) read from `source` into its read buffer. Returns the
   * buffer `source` reads into from now on, when it changes (Node takes the callback's result).
   */
  read(source: TcpHandle): Buffer | undefined {
    const uv = this.uv;
    const nread = uv.readBytesOrError();
    if (this.phase !== PIPING) return undefined;
    const toBackend = source === this.client;
    const sink = (toBackend ? this.backend : this.client) as TcpHandle;
    if (nread > 0) {
      this.active = true;
      if (toBackend) this.bytesToBackend += nread;
      else this.bytesToClient += nread;
      let data: Buffer;
      let next: Buffer | undefined;
      const own = toBackend ? this.clientBuffer : this.backendBuffer;
      if (own) data = own.subarray(0, nread);
      else {
        // The shared buffer: the next read of any handle overwrites it, so copy out now.
        data = Buffer.allocUnsafe(nread);
        readBuffers.shared.copy(data, 0, 0, nread);
        if ((toBackend ? this.bytesToBackend : this.bytesToClient) >= STREAMING_THRESHOLD_BYTES)
          next = this.lendBuffer(toBackend);
      }
      // A request the kernel completes at once (the usual case) is never handed to libuv, so the
      // same one serves the next write; one that goes asynchronous is replaced.
      const request = spareWrite ?? uv.newWrite();
      spareWrite = undefined;
      request.handle = sink;
      if (sink.writeBuffer(request, data) !== 0) {
        this.close();
        return undefined;
      }
      if (!uv.lastWriteWasAsync()) {
        spareWrite = request;
        return next;
      }
      // The kernel took part of it; the rest is queued: keep the bytes alive, read no more from
      // this side until the write completes.
      request.oncomplete = onWriteComplete;
      request.buffer = data;
      source.readStop();
      return next;
    }
    if (nread === 0) return undefined;
    if (nread !== uv.UV_EOF)
      this.close(); // ECONNRESET and the like
    else {
      this.eof |= toBackend ? CLIENT_EOF : BACKEND_EOF;
      if (this.eof === BOTH_EOF || !this.shutdown(sink, false)) this.close();
    }
    return undefined;
  }

  /** A read buffer of its own for the client (the backend), if the pool has one left. */
  private lendBuffer(isClient: boolean): Buffer | undefined {
    const buffer = readBuffers.take();
    if (isClient) this.clientBuffer = buffer;
    else this.backendBuffer = buffer;
    return buffer;
  }

  /** @internal An asynchronous write to `sink` completed: read its source again. */
  wrote(sink: TcpHandle, status: UvStatus): void {
    if (this.phase !== PIPING) return;
    const source = sink === this.client ? (this.backend as TcpHandle) : this.client;
    if (status !== 0 || source.readStart() !== 0) this.close();
  }

  /** @internal The client's FIN went out after every connect attempt failed. */
  refused(): void {
    if (this.phase === REFUSING) this.close();
  }

  /**
   * Send a FIN on `handle` after its queued writes; false when it cannot be queued. With
   * `notify`, `refused()` runs once it has gone out (without, Node makes no callback for it).
   */
  private shutdown(handle: TcpHandle, notify: boolean): boolean {
    const request: ShutdownRequest = this.uv.newShutdown();
    request.handle = handle;
    if (notify) request.oncomplete = onRefusedShutdown;
    return handle.shutdown(request) === 0;
  }

  /** Close both handles (pending writes are cancelled) and report the connection closed. */
  private close(): void {
    this.phase = CLOSED;
    this.connecting = undefined;
    this.client.close();
    this.backend?.close();
    // Closed handles read no more: their buffers can serve other connections now.
    if (this.clientBuffer) readBuffers.give(this.clientBuffer);
    if (this.backendBuffer) readBuffers.give(this.backendBuffer);
    this.clientBuffer = this.backendBuffer = undefined;
    const counts = this.route.counts;
    counts.bytesToBackend += this.bytesToBackend;
    counts.bytesToClient += this.bytesToClient;
    this.events.onClosed(this);
  }
}

function onHandleRead(this: Owned<TcpHandle>): Buffer | undefined {
  return this[OWNER]?.read(this);
}

function onWriteComplete(this: WriteRequest, status: UvStatus): void {
  this.buffer = null;
  (this.handle as Owned<TcpHandle>)[OWNER]?.wrote(this.handle, status);
}

function onRefusedShutdown(this: ShutdownRequest): void {
  (this.handle as Owned<TcpHandle>)[OWNER]?.refused();
}

function onConnectComplete(this: Owned<ConnectRequest>, status: UvStatus): void {
  this[OWNER]?.connected(this, status);
}
