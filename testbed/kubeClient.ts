/**
 * A small Kubernetes API client for the testbed (the control-plane launcher, the ASM/CCM
 * emulator and the real-engine tier): JSON requests, server-side apply and watches over HTTPS
 * with a CA and a bearer token. Test support only; the product never imports it.
 */
import { request } from "node:https";

/** Where an API server is and how to authenticate to it. */
export interface KubeEndpoint {
  /** `https://127.0.0.1:<port>`. */
  server: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  ca: string;
  /** Bearer token of a user in `system:masters`. */
  token: string;
}

/** A Kubernetes object, loosely typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    generation?: number;
    managedFields?: Array<{ manager?: string; operation?: string }>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** One event of a watch. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/** A non-2xx answer of the API server. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    let reason = body;
    try {
      reason = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON: keep the text
    }
    super(`${method} ${path}: ${status} ${reason}`);
    this.name = "KubeApiError";
  }
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Resolve with the body as text instead of parsed JSON. */
  text?: boolean;
}

/** JSON over HTTPS to one API server. */
export class KubeClient {
  constructor(readonly endpoint: KubeEndpoint) {}

  /** Send a request; resolves with the parsed body, rejects with {@link KubeApiError}. */
  request<T = KubeObject>(path: string, options: RequestOptions = {}): Promise<T> {
    const method = options.method ?? "GET";
    const payload =
      options.body === undefined
        ? undefined
        : typeof options.body === "string"
          ? options.body
          : JSON.stringify(options.body);
    const url = new URL(path, this.endpoint.server);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: this.endpoint.ca,
          headers: {
            authorization: `Bearer ${this.endpoint.token}`,
            accept: options.text ? "text/plain, */*" : "application/json",
            ...(payload === undefined
              ? {}
              : {
                  "content-type": options.contentType ?? "application/json",
                  "content-length": Buffer.byteLength(payload),
                }),
          },
          timeout: options.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(new KubeApiError(status, method, path, text));
              return;
            }
            if (options.text) {
              resolve(text as T);
              return;
            }
            try {
              resolve((text ? JSON.parse(text) : {}) as T);
            } catch (error) {
              reject(error);
            }
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.request<T>(path);
  }

  /** GET, or undefined on 404. */
  async find<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>(path);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async list(path: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const list = await this.request<{
      items?: KubeObject[];
      metadata?: { resourceVersion?: string };
    }>(path);
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  create(collectionPath: string, object: unknown): Promise<KubeObject> {
    return this.request(collectionPath, { method: "POST", body: object });
  }

  /** Server-side apply of `object` at `path` as `fieldManager` (forced). */
  apply(path: string, object: unknown, fieldManager: string): Promise<KubeObject> {
    const query = `fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
    return this.request(`${path}${path.includes("?") ? "&" : "?"}${query}`, {
      method: "PATCH",
      body: object,
      contentType: "application/apply-patch+yaml",
    });
  }

  mergePatch(path: string, patch: unknown): Promise<KubeObject> {
    return this.request(path, {
      method: "PATCH",
      body: patch,
      contentType: "application/merge-patch+json",
    });
  }

  /** DELETE; resolves false when it was already gone. */
  async delete(path: string, options: { gracePeriodSeconds?: number } = {}): Promise<boolean> {
    try {
      await this.request(path, {
        method: "DELETE",
        body:
          options.gracePeriodSeconds === undefined
            ? undefined
            : {
                kind: "DeleteOptions",
                apiVersion: "v1",
                gracePeriodSeconds: options.gracePeriodSeconds,
              },
      });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * List `path`, then watch it from that version; relists when the watch expires (410) or the
   * connection drops. `onEvent` gets every object of the first list as ADDED. Returns a stop
   * function.
   */
  informer(
    path: string,
    onEvent: (event: WatchEvent) => void,
    hooks: { onError?: (error: unknown) => void; onSynced?: () => void } = {},
  ): () => void {
    let stopped = false;
    let synced = false;
    let abort: (() => void) | undefined;
    const run = async () => {
      while (!stopped) {
        try {
          const { items, resourceVersion } = await this.list(path);
          for (const object of items) onEvent({ type: "ADDED", object });
          if (!synced) {
            synced = true;
            hooks.onSynced?.();
          }
          await this.watchFrom(path, resourceVersion, onEvent, (cancel) => {
            abort = cancel;
          });
        } catch (error) {
          if (!stopped) hooks.onError?.(error);
        }
        if (!stopped) await new Promise((r) => setTimeout(r, 500));
      }
    };
    void run();
    return () => {
      stopped = true;
      abort?.();
    };
  }

  /** One watch connection; resolves when the server closes it (or it expires). */
  private watchFrom(
    path: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    setCancel: (cancel: () => void) => void,
  ): Promise<void> {
    const url = new URL(path, this.endpoint.server);
    url.searchParams.set("watch", "1");
    url.searchParams.set("allowWatchBookmarks", "true");
    if (resourceVersion) url.searchParams.set("resourceVersion", resourceVersion);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          ca: this.endpoint.ca,
          headers: { authorization: `Bearer ${this.endpoint.token}`, accept: "application/json" },
        },
        (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            res.resume();
            reject(new KubeApiError(res.statusCode ?? 0, "WATCH", path, ""));
            return;
          }
          let buffered = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            buffered += chunk;
            for (;;) {
              const newline = buffered.indexOf("\n");
              if (newline < 0) break;
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (!line) continue;
              const event = JSON.parse(line) as WatchEvent;
              if (event.type === "ERROR") {
                // 410 Gone: the version expired; the caller relists.
                req.destroy();
                resolve();
                return;
              }
              if (event.type !== "BOOKMARK") onEvent(event);
            }
          });
          res.on("end", () => resolve());
          res.on("error", () => resolve());
          res.on("close", () => resolve());
        },
      );
      setCancel(() => req.destroy());
      req.on("error", (error) => reject(error));
      req.end();
    });
  }
}

/** REST path of a namespaced or cluster-scoped object (or its collection when `name` is unset). */
export function objectPath(
  apiVersion: string,
  plural: string,
  namespace: string | undefined,
  name?: string,
): string {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${namespace}` : "";
  return `${base}${ns}/${plural}${name ? `/${name}` : ""}`;
}
