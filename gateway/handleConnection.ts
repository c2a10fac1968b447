/**
 * One proxied connection on bare libuv TCP handles (libuvHandles.ts): the gateway's default data
 * path. Same contract as the `net.Socket` path (connectionPipe.ts), without a stream, an event
 * emitter or a timer per connection:
 * - connect to an endpoint of the chosen route, bounded attempts within that route only;
 * - the client is read only once its backend is connected (nothing buffered meanwhile);
 * - backpressure: a write the kernel could not take at once stops reading its source until the
 *   write completes, so at most one chunk per direction waits in memory;
 * - half-close: a side's FIN is forwarded with shutdown(2) after the queued bytes; once both
 *   FINs have crossed and nothing is queued, both handles close (close(2) sends the last FIN);
 * - teardown: a read or write error, an idle timeout or `destroy()` closes both at once;
 * - a handle that streams gets a read buffer of its own instead of an allocation per read
 *   (readBuffers.ts).
 *
 * Handlers are module functions shared by every connection (found through a symbol on the
 * handle or request), so a connection allocates no closures.
 */
import { lookup } from "node:dns";
import { getSystemErrorName } from "node:util";
import type { Endpoint } from "./endpointPool";
import type { ConnectionEvents, GatewayConnection } from "./gatewayConnection";
import type {
  ConnectRequest,
  LibuvHandles,
  ShutdownRequest,
  TcpHandle,
  UvStatus,
  WriteRequest,
} from "./libuvHandles";
import { ReadBufferPool, STREAMING_THRESHOLD_BYTES } from "./readBuffers";
import type { RouteRuntime } from "./routeTable";

const OWNER = Symbol("tcp-shift.connection");
type Owned<T> = T & { [OWNER]?: HandleConnection };

/** Connection phases (plain numbers: cheaper than strings, no enum emit). */
const CONNECTING = 0;
const PIPING = 1;
/** Every connect attempt failed: the client gets a FIN, what it sends is dropped. */
const REFUSING = 2;
const CLOSED = 3;

/** Bits of `eof`: which side's FIN has been read (and forwarded). */
const CLIENT_EOF = 1;
const BACKEND_EOF = 2;
const BOTH_EOF = CLIENT_EOF | BACKEND_EOF;

/** An Error like the one `net` reports for a failed syscall: `connect ECONNREFUSED 10.0.0.1:9000`. */
export function uvError(status: UvStatus, syscall: string, address: string, port: number): Error {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  return Object.assign(new Error(`${syscall} ${code} ${address}:${port}`), {
    code,
    errno: status,
    syscall,
  });
}

/** A write request not handed to libuv (its last write completed synchronously). */
let spareWrite: WriteRequest | undefined;
/** Read buffers of streaming handles, shared by every connection. */
const readBuffers = new ReadBufferPool();

/** A client handle and its backend handle. */
export class HandleConnection implements GatewayConnection {
  readonly route: RouteRuntime;
  attempts = 0;
  private readonly uv: LibuvHandles;
  private readonly events: ConnectionEvents;
  private readonly client: Owned<TcpHandle>;
  private backend: Owned<TcpHandle> | undefined;
  private endpoint: Endpoint | undefined;
  /** The connect in progress; a completion for any other request is stale (timed out). */
  private connecting: ConnectRequest | undefined;
  private phase = CONNECTING;
  private eof = 0;
  /** Asynchronous writes and shutdowns not completed yet. */
  private inFlight = 0;
  /** Set on every chunk read from either side; cleared by the timeout sweep. */
  private active = false;
  /** Start of the current connect attempt, then the last time the sweep saw activity (ms). */
  private since = 0;
  private bytesToBackend = 0;
  private bytesToClient = 0;
  /** The read buffer of the client (of the backend) once it streams; see readBuffers.ts. */
  private clientBuffer: Buffer | undefined;
  private backendBuffer: Buffer | undefined;

  constructor(uv: LibuvHandles, client: TcpHandle, route: RouteRuntime, events: ConnectionEvents) {
    this.uv = uv;
    this.client = client;
    this.route = route;
    this.events = events;
    (client as Owned<TcpHandle>)[OWNER] = this;
    client.setNoDelay(true);
  }

  /** Start the first connect attempt (after the gateway has registered the connection). */
  start(): void {
    this.connectNext();
  }

  destroy(): void {
    if (this.phase === CLOSED) return;
    this.close();
  }

  checkTimeouts(now: number): void {
    if (this.phase === PIPING) {
      if (this.active) {
        this.active = false;
        this.since = now;
      } else if (now - this.since >= this.route.idleTimeoutMs) {
        this.route.listenerCounts.idleTimeouts++;
        this.close();
      }
    } else if (this.phase === CONNECTING && now - this.since >= this.route.connectTimeoutMs)
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
    // Reading is armed now, with the connect: libuv then registers the socket for both in one
    // epoll_ctl instead of three after the connect (measured with strace). Nothing is read before
    // the connect completes, and `read()` ignores a connection that is not piping.
    backend.onread = onHandleRead;
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
    if (!this.shutdown(this.client)) this.close();
  }

  /** @internal Bytes (or EOF, or an error) read from `source`. */
  read(source: TcpHandle, arrayBuffer: ArrayBuffer | undefined): void {
    const uv = this.uv;
    const nread = uv.readBytesOrError();
    if (this.phase !== PIPING) return;
    const toBackend = source === this.client;
    const sink = (toBackend ? this.backend : this.client) as TcpHandle;
    if (nread > 0) {
      this.active = true;
      if (toBackend) this.bytesToBackend += nread;
      else this.bytesToClient += nread;
      let data: Uint8Array;
      if (arrayBuffer !== undefined) {
        data = new Uint8Array(arrayBuffer, uv.arrayBufferOffset(), nread);
        const total = toBackend ? this.bytesToBackend : this.bytesToClient;
        if (total >= STREAMING_THRESHOLD_BYTES && uv.userBuffers)
          this.lendBuffer(source, toBackend);
      } else
        data = ((toBackend ? this.clientBuffer : this.backendBuffer) as Buffer).subarray(0, nread);
      // A request the kernel completes at once (the usual case) is never handed to libuv, so the
      // same one serves the next write; one that goes asynchronous is replaced.
      const request = spareWrite ?? uv.newWrite();
      spareWrite = undefined;
      request.handle = sink;
      if (sink.writeBuffer(request, data) !== 0) {
        this.close();
        return;
      }
      if (!uv.lastWriteWasAsync()) {
        spareWrite = request;
        return;
      }
      // The kernel took part of it; the rest is queued: keep the bytes alive, read no more from
      // this side until the write completes.
      request.oncomplete = onWriteComplete;
      request.buffer = data;
      this.inFlight++;
      source.readStop();
      return;
    }
    if (nread === 0) return;
    if (nread !== uv.UV_EOF) {
      this.close(); // ECONNRESET and the like
      return;
    }
    this.eof |= toBackend ? CLIENT_EOF : BACKEND_EOF;
    if (this.eof === BOTH_EOF && this.inFlight === 0) this.close();
    else if (!this.shutdown(sink)) this.close();
  }

  /** Give `source` a read buffer for its next reads (none when the pool is exhausted). */
  private lendBuffer(source: TcpHandle, isClient: boolean): void {
    const buffer = readBuffers.take();
    if (!buffer) return;
    if (isClient) this.clientBuffer = buffer;
    else this.backendBuffer = buffer;
    source.useUserBuffer(buffer);
  }

  /** @internal An asynchronous write to `sink` completed. */
  wrote(sink: TcpHandle, status: UvStatus): void {
    this.inFlight--;
    if (this.phase !== PIPING) return;
    if (status !== 0) this.close();
    else if (this.eof === BOTH_EOF && this.inFlight === 0) this.close();
    else if ((sink === this.client ? (this.backend as TcpHandle) : this.client).readStart() !== 0)
      this.close();
  }

  /** @internal A shutdown of one side completed. */
  shutDown(status: UvStatus): void {
    this.inFlight--;
    if (this.phase === REFUSING) this.close();
    else if (this.phase !== PIPING) return;
    else if (status !== 0 || (this.eof === BOTH_EOF && this.inFlight === 0)) this.close();
  }

  /** Send a FIN on `handle` after its queued writes; false when it cannot be queued. */
  private shutdown(handle: TcpHandle): boolean {
    const request: ShutdownRequest = this.uv.newShutdown();
    request.handle = handle;
    request.oncomplete = onShutdownComplete;
    if (handle.shutdown(request) !== 0) return false;
    this.inFlight++;
    return true;
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

function onHandleRead(this: Owned<TcpHandle>, arrayBuffer: ArrayBuffer | undefined): void {
  this[OWNER]?.read(this, arrayBuffer);
}

function onWriteComplete(this: WriteRequest, status: UvStatus): void {
  this.buffer = null;
  (this.handle as Owned<TcpHandle>)[OWNER]?.wrote(this.handle, status);
}

function onShutdownComplete(this: ShutdownRequest, status: UvStatus): void {
  (this.handle as Owned<TcpHandle>)[OWNER]?.shutDown(status);
}

function onConnectComplete(this: Owned<ConnectRequest>, status: UvStatus): void {
  this[OWNER]?.connected(this, status);
}
