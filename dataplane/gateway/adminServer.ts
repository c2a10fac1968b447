/**
 * The gateway's admin HTTP port: `/healthz` (process alive), `/readyz` (listeners bound and not
 * draining: what a Kubernetes readiness probe and a load balancer health check should use) and
 * `/metrics` (Prometheus text). Bound to loopback by default: metrics are not for the internet.
 *
 * It shares the event loop with the data plane, so it is bounded: at most `ADMIN_MAX_CONNECTIONS`
 * connections (more are closed at once), headers within `ADMIN_HEADERS_TIMEOUT_MS`, a request
 * within twice that, idle keep-alive connections closed after 1 s and after
 * `ADMIN_MAX_REQUESTS_PER_SOCKET` requests, and `/metrics` rendered at most once per
 * `METRICS_CACHE_MS` (a scrape flood is served the same text instead of rendering it each time:
 * measured, 610 scrapes/s raised the data plane's p99 from about 1 ms to 22 ms before). Two
 * ways to fresher text, both still bounded:
 * - a route reload (applied or rejected) ends the cached text at once (`metricsVersion`): a new
 *   weight shows at the next scrape, not up to a second later (what `npm run shift --metrics`
 *   waits for after each step);
 * - a scrape that sends `Cache-Control: no-cache` gets a rendering at most `METRICS_FRESH_MS`
 *   old (the shift closing an observation window: counters from before its last connections
 *   would be wrong). However many ask, that is at most one rendering per `METRICS_FRESH_MS`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseHostPort } from "../../contract/hostPort";
import type { Logger } from "../shared/jsonLogger";
import { listenOn } from "../shared/listen";

/** Default admin address. */
export const DEFAULT_ADMIN_ADDRESS = "127.0.0.1:9901";
/** Open admin connections at most (probes and a scraper need a handful). */
export const ADMIN_MAX_CONNECTIONS = 32;
/** Time a client has to send its request headers (its whole request: twice this). */
export const ADMIN_HEADERS_TIMEOUT_MS = 5_000;
/** Requests served on one keep-alive connection before it is closed. */
export const ADMIN_MAX_REQUESTS_PER_SOCKET = 100;
/** `/metrics` is rendered at most once per this interval. */
export const METRICS_CACHE_MS = 1_000;
/** ... and at most once per this one for scrapes that send `Cache-Control: no-cache`. */
export const METRICS_FRESH_MS = 100;

/** Options of `createAdminServer`. */
export interface AdminServerOptions {
  /** `host:port` to bind. @default "127.0.0.1:9901" */
  address?: string;
  /** Served on `/metrics`. */
  registry: Registry;
  /**
   * Text of `/metrics`, when not `registry.metrics()` (a cluster primary aggregating its
   * workers' registries). Served with `registry.contentType`.
   */
  metrics?(): Promise<string>;
  /** Answer of `/readyz`. */
  isReady(): boolean;
  /**
   * Changes whenever `/metrics` must not be served from the cache: the gateway's reload count
   * (applied or rejected), so a new weight or a rejected file shows at the next scrape. Reloads
   * are rare (the file watcher reads at most every 50 ms), so this does not reopen the door to
   * scrape floods. @default the cache is kept for `metricsCacheMs`
   */
  metricsVersion?(): number;
  logger?: Logger;
  /** @default METRICS_CACHE_MS */
  metricsCacheMs?: number;
  /** Oldest rendering served to a `Cache-Control: no-cache` scrape. @default METRICS_FRESH_MS */
  metricsFreshMs?: number;
  /** @default ADMIN_MAX_CONNECTIONS */
  maxConnections?: number;
  /** @default ADMIN_HEADERS_TIMEOUT_MS (the request timeout is twice this) */
  headersTimeoutMs?: number;
}

/** A running admin server. */
export interface AdminServer {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body: string, type = "text/plain"): void {
  response.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  response.end(body);
}

/** Create the admin server; nothing is bound until `listen()`. */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  const { host, port } = parseHostPort(options.address ?? DEFAULT_ADMIN_ADDRESS, "--admin");
  const cacheMs = options.metricsCacheMs ?? METRICS_CACHE_MS;
  const freshMs = Math.min(cacheMs, options.metricsFreshMs ?? METRICS_FRESH_MS);
  const version = options.metricsVersion ?? (() => 0);
  /**
   * The last rendering (or the one in progress), shared by every scrape within `cacheMs`
   * (`freshMs` for a no-cache one) while `metricsVersion()` stays the same.
   */
  let cached: { text: Promise<string>; at: number; version: number } | undefined;
  const metricsText = (noCache: boolean): Promise<string> => {
    const now = Date.now();
    const current = version();
    const maxAge = noCache ? freshMs : cacheMs;
    if (cached && now - cached.at < maxAge && cached.version === current) return cached.text;
    const text = options.metrics ? options.metrics() : options.registry.metrics();
    const entry = { text, at: now, version: current };
    cached = entry;
    // A failed rendering is not kept.
    text.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return text;
  };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== "GET" && request.method !== "HEAD")
      return send(response, 405, "method not allowed\n");
    const path = (request.url ?? "/").split("?", 1)[0];
    switch (path) {
      case "/healthz":
        return send(response, 200, "ok\n");
      case "/readyz":
        return options.isReady()
          ? send(response, 200, "ready\n")
          : send(response, 503, "not ready\n");
      case "/metrics": {
        const noCache = /\bno-cache\b/i.test(request.headers["cache-control"] ?? "");
        return send(response, 200, await metricsText(noCache), options.registry.contentType);
      }
      default:
        return send(response, 404, "not found: try /healthz, /readyz or /metrics\n");
    }
  };
  const headersTimeout = options.headersTimeoutMs ?? ADMIN_HEADERS_TIMEOUT_MS;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: 2 * headersTimeout,
      // How often Node checks those timeouts (30 s by default: too coarse for them).
      connectionsCheckingInterval: Math.max(100, Math.floor(headersTimeout / 4)),
    },
    (request, response) => {
      handle(request, response).catch((error: Error) => {
        options.logger?.error("admin request failed", { url: request.url, error });
        if (!response.headersSent) send(response, 500, "internal error\n");
        else response.destroy();
      });
    },
  );
  // Probes must not hold the process open at shutdown.
  server.keepAliveTimeout = 1_000;
  server.maxRequestsPerSocket = ADMIN_MAX_REQUESTS_PER_SOCKET;
  server.maxConnections = options.maxConnections ?? ADMIN_MAX_CONNECTIONS;
  // A connection that sends nothing (no request at all) is closed too.
  server.timeout = 2 * headersTimeout;

  return {
    listen() {
      return listenOn(server, host, port, "Admin server");
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
