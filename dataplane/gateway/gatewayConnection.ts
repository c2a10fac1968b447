/**
 * What the gateway needs of one proxied connection, whichever data path carries it: bare libuv
 * handles (handleConnection.ts, the default) or `net.Socket`s (connectionPipe.ts, the fallback).
 */
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

/** A client connection and its backend connection. */
export interface GatewayConnection {
  /** The route picked for this connection when it was accepted; never changes. */
  readonly route: RouteRuntime;
  /** Connect attempts made so far. */
  readonly attempts: number;
  /** Tear both sides down now (shutdown after the grace period, errors, idle timeout). */
  destroy(): void;
  /**
   * Called by the gateway's sweep: fail a connect attempt older than `connectTimeoutMs`, close a
   * connection that moved no byte either way for `idleTimeoutMs`. A connection idles out between
   * `idleTimeoutMs` and `idleTimeoutMs` + 2 sweep periods after its last byte.
   */
  checkTimeouts(now: number): void;
}

/** What a connection reports back to its gateway (one object per listener, not per connection). */
export interface ConnectionEvents {
  /** A connect attempt failed; the connection may try another endpoint. */
  onConnectFailure(connection: GatewayConnection, endpoint: Endpoint, error: Error): void;
  /** Every attempt failed; the client is being closed. */
  onUnavailable(connection: GatewayConnection): void;
  /** Both sides are closed. */
  onClosed(connection: GatewayConnection): void;
}

/** Connection phases shared by both data paths (plain numbers: cheaper than strings). */
export const CONNECTING = 0;
export const PIPING = 1;

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

  abstract destroy(): void;

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
