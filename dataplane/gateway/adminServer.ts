/**
 * The gateway's admin HTTP port: `/healthz` (process alive), `/readyz` (listeners bound and not
 * draining: what a Kubernetes readiness probe and a load balancer health check should use) and
 * `/metrics` (Prometheus text). Bound to loopback by default: metrics are not for the internet.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseHostPort } from "../../contract/hostPort";
import { UserError } from "../../contract/userError";
import type { Logger } from "../shared/jsonLogger";

/** Default admin address. */
export const DEFAULT_ADMIN_ADDRESS = "127.0.0.1:9901";

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
  logger?: Logger;
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
      case "/metrics":
        return send(
          response,
          200,
          await (options.metrics ? options.metrics() : options.registry.metrics()),
          options.registry.contentType,
        );
      default:
        return send(response, 404, "not found: try /healthz, /readyz or /metrics\n");
    }
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      options.logger?.error("admin request failed", { url: request.url, error });
      if (!response.headersSent) send(response, 500, "internal error\n");
      else response.destroy();
    });
  });
  // Probes must not hold the process open at shutdown.
  server.keepAliveTimeout = 1_000;

  return {
    async listen() {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen({ host, port }, () => {
            server.off("error", reject);
            resolve();
          });
        });
      } catch (error) {
        throw new UserError(
          "E_LISTEN",
          `Admin server cannot listen on ${options.address ?? DEFAULT_ADMIN_ADDRESS}: ${(error as Error).message}`,
        );
      }
      return server.address() as AddressInfo;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
