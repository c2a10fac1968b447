/**
 * The endpoints of one route: round robin over those not failing, with hostnames resolved once
 * per reload (a DNS lookup per connection costs more than the proxying itself).
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { parseHostPort } from "../../contract/hostPort";

/** How long an endpoint whose connect failed is skipped, unless every endpoint is failing. */
export const ENDPOINT_FAILURE_COOLDOWN_MS = 5_000;

/** One backend `host:port` of a route. */
export class Endpoint {
  /** As written in the route file, for logs. */
  readonly target: string;
  readonly host: string;
  readonly port: number;
  /** IP address to connect to (the host itself when it is an IP or did not resolve). */
  address: string;
  /** 4 or 6 when `address` is an IP address, 0 for a hostname not resolved yet. */
  family: number;
  /** Skipped by round robin until this time (ms since epoch) while `failing`. */
  failedUntil = 0;
  failing = false;
  private resolving = false;

  constructor(target: string) {
    const { host, port } = parseHostPort(target, "endpoint");
    this.target = target;
    this.host = host;
    this.port = port;
    this.address = host;
    this.family = isIP(host);
  }

  /**
   * Resolve `host` to one address, IPv4 first (`localhost` must not become `::1` when backends
   * listen on 127.0.0.1). On failure the previous address stays; before any success that is
   * the hostname itself, which Node then resolves per connect.
   * @returns the lookup error, if any, for the caller to log.
   */
  async resolve(): Promise<Error | undefined> {
    if (isIP(this.host)) return undefined;
    try {
      const result = await lookup(this.host, { order: "ipv4first" });
      this.address = result.address;
      this.family = result.family;
      return undefined;
    } catch (error) {
      // Keep what we had: the last good address, or the hostname (resolved per connect).
      return error as Error;
    }
  }

  /** Resolve again in the background (after a failed connect); one lookup at a time. */
  refresh(): void {
    if (this.resolving || isIP(this.host)) return;
    this.resolving = true;
    void this.resolve().finally(() => {
      this.resolving = false;
    });
  }
}

/** Round robin over a route's endpoints, skipping failing ones. */
export class EndpointPool {
  readonly endpoints: readonly Endpoint[];
  private cursor = 0;
  private failingCount = 0;

  constructor(targets: readonly string[]) {
    if (targets.length === 0) throw new Error("an endpoint pool needs at least one endpoint");
    this.endpoints = targets.map((target) => new Endpoint(target));
  }

  /** Resolve every hostname; returns the endpoints that did not resolve, with the error. */
  async resolve(): Promise<{ endpoint: Endpoint; error: Error }[]> {
    const errors = await Promise.all(this.endpoints.map((endpoint) => endpoint.resolve()));
    return errors.flatMap((error, i) =>
      error ? [{ endpoint: this.endpoints[i] as Endpoint, error }] : [],
    );
  }

  /** The next endpoint in round robin order that is not failing (any, if all are failing). */
  next(): Endpoint {
    const endpoints = this.endpoints;
    const count = endpoints.length;
    if (this.failingCount > 0) {
      const now = Date.now();
      for (let tried = 0; tried < count; tried++) {
        const endpoint = endpoints[this.cursor] as Endpoint;
        this.cursor = (this.cursor + 1) % count;
        if (!endpoint.failing) return endpoint;
        if (endpoint.failedUntil <= now) {
          // Cooldown over: give it traffic again; a new failure puts it back.
          endpoint.failing = false;
          this.failingCount--;
          return endpoint;
        }
      }
    }
    const endpoint = endpoints[this.cursor] as Endpoint;
    this.cursor = (this.cursor + 1) % count;
    return endpoint;
  }

  /** A connect to `endpoint` failed: skip it for the cooldown. */
  markFailed(endpoint: Endpoint): void {
    endpoint.failedUntil = Date.now() + ENDPOINT_FAILURE_COOLDOWN_MS;
    if (!endpoint.failing) {
      endpoint.failing = true;
      this.failingCount++;
    }
  }

  /** A connect to `endpoint` succeeded. */
  markHealthy(endpoint: Endpoint): void {
    if (endpoint.failing) {
      endpoint.failing = false;
      this.failingCount--;
    }
  }
}
