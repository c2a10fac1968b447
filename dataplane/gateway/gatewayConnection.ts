/**
 * What the gateway needs of one proxied connection, whichever data path carries it: bare libuv
 * handles (handleConnection.ts, the default) or `net.Socket`s (connectionPipe.ts, the fallback).
 */
import { tcpReceiveBufferMaxBytes } from "../shared/socketBuffers";
import type { Endpoint } from "./endpointPool";
import type { RouteRuntime } from "./routeTable";

/**
 * How bytes are carried: `handles`, Node's libuv TCP handles directly (handleConnection.ts, half
 * the CPU per connection), or `sockets`, `net.Socket`s (connectionPipe.ts, public API only).
 * Both behave the same; `handles` needs a Node version whose bindings pass the checks in
 * libuvHandles.ts.
 */
export type DataPath = "handles" | "sockets";

/** The data paths, for usage messages. */
export const DATA_PATHS: readonly DataPath[] = ["handles", "sockets"];

/** Whether `value` names a data path (for command-line flags). */
export function isDataPath(value: unknown): value is DataPath {
  return DATA_PATHS.includes(value as DataPath);
}

/**
 * Anything the gateway tracks per accepted client: a proxied connection, or a client whose
 * PROXY protocol header is still being read (`route` undefined).
 */
export interface TrackedConnection {
  /** The route picked when the connection was admitted; undefined before (PROXY header). */
  readonly route: RouteRuntime | undefined;
  /** Tear down now (shutdown after the grace period, errors, timeouts). */
  destroy(): void;
  /**
   * Called by the gateway's sweep: fail a connect attempt older than `connectTimeoutMs`, close a
   * connection that moved no byte either way for `idleTimeoutMs`. A connection idles out between
   * `idleTimeoutMs` and `idleTimeoutMs` + 2 sweep periods after its last byte.
   */
  checkTimeouts(now: number): void;
  /**
   * Close gracefully for a drain (see `SweptConnection.requestDrain`); false when there is
   * nothing to do (already closing, or not a proxied connection).
   */
  requestDrain(): boolean;
  /** True once a drain has started closing it. */
  readonly draining: boolean;
}

/** A client connection and its backend connection. */
export interface GatewayConnection extends TrackedConnection {
  /** The route picked for this connection when it was accepted; never changes. */
  readonly route: RouteRuntime;
  /** Connect attempts made so far. */
  readonly attempts: number;
  /**
   * Milliseconds from the connection's admission (its route picked) to now, if its backend ever
   * connected; -1 if it never did (what `tcp_gateway_connection_duration_seconds` counts).
   */
  lifetimeMs(): number;
}

/** What a connection reports back to its gateway (one object per listener, not per connection). */
export interface ConnectionEvents {
  /** A connect attempt failed; the connection may try another endpoint. */
  onConnectFailure(connection: GatewayConnection, endpoint: Endpoint, error: Error): void;
  /** Every attempt failed; the client is being closed. */
  onUnavailable(connection: GatewayConnection): void;
  /**
   * A connect failed because this process is out of file descriptors (EMFILE/ENFILE): not the
   * endpoint's fault, so it is neither marked failing nor retried; the client is being closed.
   */
  onOutOfDescriptors(connection: GatewayConnection, error: Error): void;
  /** Both sides are closed. */
  onClosed(connection: GatewayConnection): void;
}

/**
 * Most client bytes a drain forwards while it waits for a backend that is not keeping up (see
 * `SweptConnection.requestDrain`): twice the largest receive buffer Linux gives a TCP socket
 * (`net.ipv4.tcp_rmem`, 6 MiB by default), so whatever the client's socket held when the drain
 * began is within it, plus what the data path itself had read and not yet written.
 */
const DRAIN_CATCH_UP_BYTES = 2 * tcpReceiveBufferMaxBytes();

/** Origin of `clockMs()`. */
const CLOCK_ORIGIN = Date.now();

/**
 * Milliseconds since this module loaded, as an int32 that wraps (every 49.7 days): a small
 * integer V8 stores in the connection object itself, where a `Date.now()` timestamp is a heap
 * number, one more allocation per connection. The difference of two readings,
 * `(later - earlier) | 0`, is exact for intervals up to 24.8 days (longer lifetimes are counted
 * modulo 2^32 ms).
 */
export function clockMs(): number {
  return (Date.now() - CLOCK_ORIGIN) | 0;
}

/** Connection phases shared by both data paths (plain numbers: cheaper than strings). */
export const CONNECTING = 0;
export const PIPING = 1;

/** Drain states of a connection. */
const NO_DRAIN = 0;
const DRAIN_PENDING = 1;
const DRAINING = 2;

/**
 * `finishDrainAfterPoll`'s two steps: `setImmediate` runs in the check phase, right after an I/O
 * poll, so one queued from there runs after the next poll, whichever phase the first was queued
 * in (a timer, an I/O callback, or a check). Drain checks are rare: no batching is needed.
 */
function afterNextPoll(connection: SweptConnection): void {
  setImmediate(finishDrainOf, connection);
}

function finishDrainOf(connection: SweptConnection): void {
  connection.finishDrain();
}

/**
 * The timeout bookkeeping both data paths share: no timer per connection, a flag set on every
 * chunk read and a timestamp, looked at by the gateway's sweep.
 */
export abstract class SweptConnection implements GatewayConnection {
  abstract readonly route: RouteRuntime;
  abstract readonly attempts: number;
  /** `CONNECTING`, `PIPING`, or a phase of the data path's own (closing, closed). */
  protected phase: number = CONNECTING;
  /** Set on every chunk read from either side; cleared by the timeout sweep. */
  protected active = false;
  /** Start of the current connect attempt, then the last time the sweep saw activity (ms). */
  protected since = 0;
  /** `NO_DRAIN`, `DRAIN_PENDING` (asked while connecting) or `DRAINING`. */
  private drainState = NO_DRAIN;
  /** When the gateway admitted the connection (`clockMs()`): its lifetime starts here. */
  private readonly admittedAt = clockMs();
  /** The backend connected at some point (the phase alone does not say once closed). */
  private established = false;

  abstract destroy(): void;

  lifetimeMs(): number {
    return this.established ? (clockMs() - this.admittedAt) | 0 : -1;
  }

  /** Called by the data path when its backend connected: bytes flow from now on. */
  protected startPiping(): void {
    this.phase = PIPING;
    this.established = true;
  }

  get draining(): boolean {
    return this.drainState === DRAINING;
  }

  /**
   * Close gracefully because the route is drained: the backend gets a FIN after every byte the
   * client's socket held when the drain began (nothing the gateway's TCP accepted is cut), what
   * the client sends from then on is dropped, the backend's remaining bytes and its FIN reach
   * the client, and the connection closes once both FINs are in, in either order (or it idles
   * out: bytes dropped are no activity). A connection still connecting is drained once
   * connected.
   *
   * The backend's FIN is not sent at once: the drain's tick is a timer, and Node runs timers
   * before it polls sockets, so bytes already queued in the client's socket would not have been
   * read yet. The FIN waits until an I/O poll has found the client's socket empty
   * (`drainWaits`): polls run until one reads nothing from the client, and while the backend
   * is not keeping up (the client is not read until the backend takes the chunk before), the
   * FIN waits for that write too. At most `DRAIN_CATCH_UP_BYTES` more are forwarded this way,
   * so a client that never stops writing still gets its FIN.
   */
  requestDrain(): boolean {
    if (this.drainState !== NO_DRAIN) return false;
    if (this.phase === CONNECTING) {
      this.drainState = DRAIN_PENDING;
      return true;
    }
    if (this.phase !== PIPING || !this.startDrain()) return false;
    this.drainState = DRAINING;
    this.route.counts.draining++;
    return true;
  }

  /**
   * The data path's half of `requestDrain`: call `markDrainStart`, then `finishDrainAfterPoll`;
   * false when the backend already has a FIN.
   */
  protected abstract startDrain(): boolean;

  /**
   * @internal The data path's end of a drain, one I/O poll after `finishDrainAfterPoll`: unless
   * the client's FIN came meanwhile or `drainWaits` says to wait, send the backend its FIN and
   * drop what the client sends from now on. When a pending write to the backend made it wait,
   * the write's completion calls `finishDrainAfterPoll` again. Must tolerate a closed
   * connection and being called twice.
   */
  abstract finishDrain(): void;

  /** Bytes read from the client so far, as the data path counts them. */
  protected abstract clientBytesRead(): number;

  /** Client bytes read when the last drain check ran; see `drainWaits`. */
  private drainReadMark = 0;
  /** Client bytes read past this are not waited for; see `requestDrain`. */
  private drainCatchUpEnd = 0;

  /** Note where a drain began (see `requestDrain`). */
  protected markDrainStart(): void {
    const read = this.clientBytesRead();
    this.drainReadMark = read;
    this.drainCatchUpEnd = read + DRAIN_CATCH_UP_BYTES;
  }

  /**
   * Whether the drain's FIN must wait (see `requestDrain`): the client is not being read
   * because `backendBusy` (its write's completion asks again), or the last poll read client
   * bytes, so the socket may hold more (another poll is asked for here). No wait once
   * `DRAIN_CATCH_UP_BYTES` were forwarded since the drain began.
   */
  protected drainWaits(backendBusy: boolean): boolean {
    const read = this.clientBytesRead();
    if (read >= this.drainCatchUpEnd) return false;
    if (backendBusy) return true;
    // Streams are polled level-triggered: a socket that still held bytes after a poll's reads
    // would have been read again in the next. A poll that read nothing found it empty.
    if (read === this.drainReadMark) return false;
    this.drainReadMark = read;
    this.finishDrainAfterPoll();
    return true;
  }

  /** Have `finishDrain` called after the next I/O poll (see `requestDrain`). */
  protected finishDrainAfterPoll(): void {
    setImmediate(afterNextPoll, this);
  }

  /** Called by the data path when the connection starts piping (backend connected). */
  protected piping(): void {
    if (this.drainState !== DRAIN_PENDING) return;
    this.drainState = NO_DRAIN;
    this.requestDrain();
  }

  checkTimeouts(now: number): void {
    if (this.phase === PIPING) {
      if (this.active) {
        this.active = false;
        this.since = now;
      } else if (now - this.since >= this.route.idleTimeoutMs) {
        this.route.listenerCounts.idleTimeouts++;
        this.destroy();
      }
    } else if (this.phase === CONNECTING && now - this.since >= this.route.connectTimeoutMs)
      this.connectTimedOut();
  }

  /** The connect attempt in progress took longer than `connectTimeoutMs`. */
  protected abstract connectTimedOut(): void;
}
