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
 * - teardown: a read or write error, an idle timeout or `destroy()` closes both at once; a
 *   reset (ECONNRESET, EPIPE) of an established connection is counted for its route;
 * - a drain (`requestDrain`) sends the backend a FIN after the bytes the client's socket held
 *   (read in the next I/O poll), drops what the client sends afterwards, forwards the backend's
 *   last bytes and FIN, and closes once both FINs are in, in either order (see
 *   gatewayConnection.ts);
 * - reads go to a buffer shared by every handle (copied out at once: a line costs a small
 *   copy, not a 64 KiB allocation, resize and free per read); a handle that streams gets a
 *   buffer of its own, written from without a copy (readBuffers.ts).
 *
 * Handlers are module functions shared by every connection (found through a symbol on the
 * handle or request), so a connection allocates no closures.
 */
import { lookup } from "node:dns";
import { isOutOfDescriptors } from "../shared/openFiles";
import type { Endpoint } from "./endpointPool";
import { CONNECTING, type ConnectionEvents, PIPING, SweptConnection } from "./gatewayConnection";
import { type HeaderOutcome, HeaderReader } from "./headerReader";
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

/** Whoever reads a handle now: its connection, or the reader of its PROXY header. */
interface HandleOwner {
  read(source: TcpHandle): Buffer | undefined;
}
const OWNER = Symbol("tcp-shift.connection");
type Owned<T> = T & { [OWNER]?: HandleOwner };
type OwnedRequest<T> = T & { [OWNER]?: HandleConnection };

/**
 * Phases after CONNECTING and PIPING (gatewayConnection.ts). REFUSING: every connect attempt
 * failed; the client gets a FIN and what it sends is dropped.
 */
const REFUSING = 2;
const CLOSED = 3;

/**
 * Bits of `flags`. CLIENT_EOF, BACKEND_EOF: that side's FIN has been read (and forwarded). A
 * drain first sets FIN_PENDING (the client is still forwarded until the next I/O poll has read
 * what its socket holds), then CLIENT_EOF and DRAINED when the backend gets a FIN as if the
 * client had sent one; the client's own FIN is then CLIENT_FIN. TO_BACKEND_WAITING: a client
 * chunk waits for the backend to take it, and the client is not read until it has.
 */
const CLIENT_EOF = 1;
const BACKEND_EOF = 2;
const BOTH_EOF = CLIENT_EOF | BACKEND_EOF;
const DRAINED = 4;
const CLIENT_FIN = 8;
const FIN_PENDING = 16;
const TO_BACKEND_WAITING = 32;

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
  /** Client bytes read with its PROXY header, written to the backend first. */
  private initial: Buffer | undefined;
  private flags = 0;
  private bytesToBackend = 0;
  private bytesToClient = 0;
  /** The read buffer of the client (of the backend) once it streams; see readBuffers.ts. */
  private clientBuffer: Buffer | undefined;
  private backendBuffer: Buffer | undefined;

  /**
   * @param noDelayInherited the client inherited TCP_NODELAY from the listening socket; else it
   *   is set here
   * @param initial client bytes already read (after a PROXY header), sent to the backend first
   */
  constructor(
    uv: LibuvHandles,
    client: TcpHandle,
    route: RouteRuntime,
    events: ConnectionEvents,
    noDelayInherited: boolean,
    initial?: Buffer,
  ) {
    super();
    this.uv = uv;
    this.client = client;
    this.route = route;
    this.events = events;
    this.initial = initial;
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
    const request: OwnedRequest<ConnectRequest> = this.uv.newConnect();
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
    this.startPiping();
    this.route.pool.markHealthy(this.endpoint as Endpoint);
    this.client.onread = onHandleRead;
    const initial = this.initial;
    if (initial) {
      // What came with the PROXY header: written first; the client is read once it is out.
      this.initial = undefined;
      this.bytesToBackend += initial.length;
      if (!this.send(this.client, this.backend as TcpHandle, initial)) return;
    } else {
      const started = this.client.readStart();
      if (started !== 0) {
        this.fail(started);
        return;
      }
    }
    this.piping();
  }

  /**
   * Write `data` to `sink`; when the kernel cannot take it at once, stop reading `source` until
   * the write completes. False when the connection was closed (write error).
   */
  private send(source: TcpHandle, sink: TcpHandle, data: Buffer): boolean {
    const request = spareWrite ?? this.uv.newWrite();
    spareWrite = undefined;
    request.handle = sink;
    const written = sink.writeBuffer(request, data);
    if (written !== 0) {
      this.fail(written);
      return false;
    }
    if (!this.uv.lastWriteWasAsync()) {
      spareWrite = request;
      const started = source.readStart();
      if (started !== 0) {
        this.fail(started);
        return false;
      }
      return true;
    }
    request.oncomplete = onWriteComplete;
    request.buffer = data;
    if (source === this.client) this.flags |= TO_BACKEND_WAITING;
    return true;
  }

  /** A connect attempt failed or timed out: next endpoint of this route, or give up cleanly. */
  private connectFailed(error: Error): void {
    const endpoint = this.endpoint as Endpoint;
    const route = this.route;
    if (isOutOfDescriptors(error)) {
      // This process's limit, not the endpoint's fault: neither marked nor retried.
      this.connecting = undefined;
      this.backend?.close();
      this.backend = undefined;
      this.events.onOutOfDescriptors(this, error);
      this.refuse();
      return;
    }
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
    route.counts.backendUnavailable++;
    this.events.onUnavailable(this);
    this.refuse();
  }

  /** Turn the client away with a clean close. */
  private refuse(): void {
    this.phase = REFUSING;
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
      // Drained: the backend has its FIN; the client's late bytes are dropped, and are no
      // activity (a client that writes on without sending its FIN idles out).
      if (toBackend && this.flags & DRAINED) return undefined;
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
      const written = sink.writeBuffer(request, data);
      if (written !== 0) {
        this.fail(written);
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
      if (toBackend) this.flags |= TO_BACKEND_WAITING;
      return next;
    }
    if (nread === 0) return undefined;
    if (nread !== uv.UV_EOF) {
      this.fail(nread); // ECONNRESET and the like
      return undefined;
    }
    if (toBackend && this.flags & DRAINED) {
      // The client's own FIN after a drain gave the backend one: done once the backend is too.
      this.flags |= CLIENT_FIN;
      if (this.flags & BACKEND_EOF) this.close();
      return undefined;
    }
    this.flags |= toBackend ? CLIENT_EOF : BACKEND_EOF;
    const flags = this.flags;
    if ((flags & BOTH_EOF) !== BOTH_EOF) {
      if (!this.shutdown(sink, false)) this.close();
    } else if ((flags & (DRAINED | CLIENT_FIN)) === DRAINED) {
      // Drained and the backend is done, the client not yet: it gets its FIN and is read (its
      // bytes dropped) until its own FIN, so closing never answers unread bytes with a reset.
      if (!this.shutdown(this.client, false)) this.close();
    } else this.close();
    return undefined;
  }

  protected startDrain(): boolean {
    if (this.flags & CLIENT_EOF) return false;
    this.flags |= FIN_PENDING;
    this.markDrainStart();
    this.finishDrainAfterPoll();
    return true;
  }

  /** @internal See `SweptConnection.finishDrain`. */
  finishDrain(): void {
    const flags = this.flags;
    if (this.phase !== PIPING || !(flags & FIN_PENDING)) return;
    // The client's own FIN came first: the backend has it already.
    if (flags & CLIENT_EOF) {
      this.flags = flags & ~FIN_PENDING;
      return;
    }
    // A client not read until the backend takes its last chunk: `wrote()` asks again.
    if (this.drainWaits((flags & TO_BACKEND_WAITING) !== 0)) return;
    this.flags = (flags & ~FIN_PENDING) | CLIENT_EOF | DRAINED;
    // Queued after a write to the backend in progress, if any: nothing already read is cut.
    if (!this.shutdown(this.backend as TcpHandle, false)) this.close();
  }

  protected clientBytesRead(): number {
    return this.bytesToBackend;
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
    const toBackend = sink !== this.client;
    const source = toBackend ? this.client : (this.backend as TcpHandle);
    if (status !== 0) {
      this.fail(status);
      return;
    }
    const started = source.readStart();
    if (started !== 0) {
      this.fail(started);
      return;
    }
    if (!toBackend) return;
    this.flags &= ~TO_BACKEND_WAITING;
    // A drain waiting for this write: its FIN follows what the next poll reads.
    if (this.flags & FIN_PENDING) this.finishDrainAfterPoll();
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

  /**
   * A read, write or read start failed with `status`: close both; a reset of an established
   * connection (either side's RST: ECONNRESET, or EPIPE writing after it) is counted.
   */
  private fail(status: UvStatus): void {
    if (this.phase === PIPING && (status === this.uv.UV_ECONNRESET || status === this.uv.UV_EPIPE))
      this.route.counts.resets++;
    this.close();
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

/** The connection of a handle that writes (a header reader never does). */
function ownerOf(handle: TcpHandle): HandleConnection | undefined {
  return (handle as Owned<TcpHandle>)[OWNER] as HandleConnection | undefined;
}

function onHandleRead(this: Owned<TcpHandle>): Buffer | undefined {
  return this[OWNER]?.read(this);
}

function onWriteComplete(this: WriteRequest, status: UvStatus): void {
  this.buffer = null;
  ownerOf(this.handle)?.wrote(this.handle, status);
}

function onRefusedShutdown(this: ShutdownRequest): void {
  ownerOf(this.handle)?.refused();
}

function onConnectComplete(this: OwnedRequest<ConnectRequest>, status: UvStatus): void {
  this[OWNER]?.connected(this, status);
}

/**
 * Reads the PROXY protocol header of a client accepted as a handle, before it is proxied: the
 * client's first bytes are collected (from the shared read buffer) until the header is whole,
 * invalid, or too slow (`checkTimeouts`). Then reading stops and `done` decides: a connection
 * takes the handle over, with the bytes after the header, or the client is closed.
 */
export class HandleHeaderReader extends HeaderReader implements HandleOwner {
  constructor(
    private readonly uv: LibuvHandles,
    readonly client: TcpHandle,
    timeoutMs: number,
    private readonly done: (reader: HandleHeaderReader, outcome: HeaderOutcome) => void,
  ) {
    super(timeoutMs);
  }

  start(): void {
    const client = this.client as Owned<TcpHandle>;
    client[OWNER] = this;
    client.onread = onHandleRead;
    client.useUserBuffer(readBuffers.shared);
    if (client.readStart() !== 0) this.finish({ kind: "invalid", reason: "read failed" });
  }

  read(): Buffer | undefined {
    const nread = this.uv.readBytesOrError();
    if (this.finished || nread === 0) return undefined;
    if (nread < 0) {
      this.finish({ kind: "invalid", reason: "closed before a complete header" });
      return undefined;
    }
    const parse = this.received.push(readBuffers.shared.subarray(0, nread));
    if (parse.kind === "incomplete") return undefined;
    this.client.readStop();
    this.finish(
      parse.kind === "invalid"
        ? { kind: "invalid", reason: parse.reason }
        : { kind: "header", parse, rest: this.received.rest(parse.length) },
    );
    return undefined;
  }

  protected override finish(outcome: HeaderOutcome): void {
    this.finished = true;
    (this.client as Owned<TcpHandle>)[OWNER] = undefined;
    this.done(this, outcome);
  }
}
