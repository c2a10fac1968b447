/**
 * What the gateway needs of one proxied connection, whichever data path carries it: bare libuv
 * handles (handleConnection.ts, the default) or `net.Socket`s (connectionPipe.ts, the fallback).
 */
import type { Endpoint } from "./endpointPool";
import type { RouteRuntime } from "./routeTable";

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
