/**
 * The gateway's route file: listeners, each with weighted routes to endpoints. YAML or JSON.
 * Produced by `infra/manifests/gatewayRoutes.ts` (standalone mode, local mode) or written by hand.
 *
 * ```yaml
 * listeners:
 *   - name: tcp-echo
 *     listen: 0.0.0.0:31400
 *     balance: smooth          # smooth (default) | random | sticky
 *     proxyProtocol: false     # true: every connection starts with a PROXY v1/v2 header
 *     drainAfterSeconds: 600   # close a weight-0 route's connections after 10 minutes (absent: never)
 *     drainRate: 10            # ... at most 10 per second
 *     routes:
 *       - name: v1
 *         weight: 80
 *         endpoints: [tcp-echo-v1.default.svc.cluster.local:9000]
 *       - name: v2
 *         weight: 20
 *         endpoints: [tcp-echo-v2.default.svc.cluster.local:9000]
 * ```
 *
 * Weights are relative: each route gets its weight divided by the listener's total, so 80/10 is
 * 88.9% / 11.1% (the gateway logs a warning when a listener's weights do not sum to 100).
 *
 * Size: a file is at most `ROUTE_FILE_MAX_BYTES` (checked before parsing), with at most
 * `MAX_LISTENERS` listeners, `MAX_ROUTES` routes per listener, `MAX_ENDPOINTS` endpoints per route
 * and `MAX_TOTAL_ENDPOINTS` endpoints in all; errors list the first `MAX_REPORTED_PROBLEMS`
 * problems and how many more there are.
 *
 * Replace the file atomically (write a temporary file, then rename it over the old one; a
 * Kubernetes ConfigMap update does exactly that): a file rewritten in place can be read half
 * written (see dataplane/shared/fileWatcher.ts).
 */
import { z } from "zod";
import { parseHostPort } from "./hostPort";
import { UserError } from "./userError";

/** `host:port` or `[ipv6]:port` (see `parseHostPort`); port 0 lets the OS choose (tests, local mode). */
const hostPort = (what: string, minPort: number) =>
  z.string({ error: `${what} must be a string host:port` }).refine((value) => {
    try {
      return parseHostPort(value, what).port >= minPort;
    } catch {
      return false;
    }
  }, `${what} must be host:port or [ipv6]:port with a port from ${minPort} to 65535, e.g. 127.0.0.1:9000`);

/** How a listener picks a route per new connection. */
export const LISTENER_BALANCES = ["smooth", "random", "sticky"] as const;
export type ListenerBalance = (typeof LISTENER_BALANCES)[number];

/** Largest route file read (bytes), checked before parsing. */
export const ROUTE_FILE_MAX_BYTES = 1024 * 1024;
/** Listeners in a file, routes per listener, endpoints per route and in all, at most. */
export const MAX_LISTENERS = 64;
export const MAX_ROUTES = 64;
export const MAX_ENDPOINTS = 1024;
export const MAX_TOTAL_ENDPOINTS = 10_000;
/** An invalid file's error lists this many problems, then says how many more. */
export const MAX_REPORTED_PROBLEMS = 20;

/** Connections per second a drain closes when the route file does not say. */
export const DEFAULT_DRAIN_RATE = 10;

const NAME = /^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/;

export const routeSchema = z.strictObject({
  /** Route name, used in logs and metrics (`v1`, `v2`). */
  name: z.string().regex(NAME, "route name must be lowercase letters, digits, '-', '_' or '.'"),
  /** Relative share of new connections; 0 sends none. */
  weight: z.number().int("weight must be an integer").min(0, "weight must be >= 0").max(10000),
  /** Backends of this route, tried round robin; a failed connect tries the next one. */
  endpoints: z
    .array(hostPort("endpoint", 1))
    .min(1, "a route needs at least one endpoint")
    .max(MAX_ENDPOINTS, `a route has at most ${MAX_ENDPOINTS} endpoints`),
});

export const listenerSchema = z
  .strictObject({
    /** Listener name, used in logs and metrics. */
    name: z
      .string()
      .regex(NAME, "listener name must be lowercase letters, digits, '-', '_' or '.'"),
    /** Address to accept on, `host:port`. */
    listen: hostPort("listen", 0),
    /**
     * `smooth` weighted round robin (exact shares), `random` (what Envoy does), or `sticky`: the
     * client address hashes to one of 10,000 buckets and the routes are stacked on them from the
     * last route down (the last route takes the lowest buckets), so a client that reconnects
     * keeps its route, and a change that gives every tail of the route list at least its old
     * share (e.g. raising v2) moves clients only toward later routes (v1 to v2), never back.
     * See dataplane/gateway/weightedPicker.ts.
     */
    balance: z.enum(LISTENER_BALANCES).default("smooth"),
    /**
     * Every connection starts with a PROXY protocol header (v1 or v2), e.g. behind Envoy or a
     * CLB that sends one; the client address it carries is the one `sticky` hashes. A missing or
     * malformed header closes the connection.
     */
    proxyProtocol: z.boolean().default(false),
    /**
     * Once a route's weight has been 0 this long, close its open connections, oldest first, at
     * most `drainRate` per second, so clients reconnect to routes that have weight. Absent: never.
     */
    drainAfterSeconds: z.number().int().min(0).max(31_536_000).optional(),
    /** Connections per second a drain closes at most (jittered). */
    drainRate: z.number().positive().max(100_000).default(DEFAULT_DRAIN_RATE),
    /** Open connections above this are refused (closed at once, counted). */
    maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Close a connection idle in both directions this long (CLB idles out at 900 s). */
    idleTimeoutSeconds: z.number().int().min(1).max(86_400).default(900),
    /** Give up on a backend connect after this long and try the next endpoint. */
    connectTimeoutMs: z.number().int().min(1).max(60_000).default(3_000),
    routes: z
      .array(routeSchema)
      .min(1, "a listener needs at least one route")
      .max(MAX_ROUTES, `a listener has at most ${MAX_ROUTES} routes`),
  })
  .superRefine((listener, ctx) => {
    const names = listener.routes.map((route) => route.name);
    if (new Set(names).size !== names.length)
      ctx.addIssue({ code: "custom", path: ["routes"], message: "route names must be unique" });
    if (listener.routes.every((route) => route.weight === 0))
      ctx.addIssue({ code: "custom", path: ["routes"], message: "total route weight = 0" });
  });

export const routeFileSchema = z
  .strictObject({
    listeners: z
      .array(listenerSchema)
      .min(1, "at least one listener is required")
      .max(MAX_LISTENERS, `a route file has at most ${MAX_LISTENERS} listeners`),
  })
  .superRefine((file, ctx) => {
    const names = file.listeners.map((listener) => listener.name);
    if (new Set(names).size !== names.length)
      ctx.addIssue({
        code: "custom",
        path: ["listeners"],
        message: "listener names must be unique",
      });
    const addresses = file.listeners
      .map((listener) => listener.listen)
      .filter((a) => !a.endsWith(":0"));
    if (new Set(addresses).size !== addresses.length)
      ctx.addIssue({
        code: "custom",
        path: ["listeners"],
        message: "listen addresses must be unique",
      });
  });

/** A route file as written (defaults optional). */
export type RouteFileInput = z.input<typeof routeFileSchema>;
/** A validated route file with defaults filled in. */
export type RouteFile = z.output<typeof routeFileSchema>;
export type ListenerConfig = RouteFile["listeners"][number];
export type RouteConfig = ListenerConfig["routes"][number];

/** Error code of a route file that does not parse or validate. */
export const ROUTE_FILE_ERROR_CODE = "E_ROUTE_FILE";

function routeFileError(message: string): UserError {
  return new UserError(ROUTE_FILE_ERROR_CODE, message);
}

/**
 * Throw `E_ROUTE_FILE` when a route file of `bytes` bytes is over `ROUTE_FILE_MAX_BYTES`: callers
 * that can `stat` the file check it before reading it.
 */
export function checkRouteFileSize(bytes: number, source: string): void {
  if (bytes > ROUTE_FILE_MAX_BYTES)
    throw routeFileError(
      `Route file ${source} is ${bytes} bytes; the limit is ${ROUTE_FILE_MAX_BYTES} bytes (1 MiB)`,
    );
}

/** Endpoints in a document, counted without validating it (arrays of the right shape only). */
function countEndpoints(document: unknown): number {
  const listeners = (document as { listeners?: unknown } | null)?.listeners;
  if (!Array.isArray(listeners)) return 0;
  let total = 0;
  for (const listener of listeners) {
    const routes = (listener as { routes?: unknown } | null)?.routes;
    if (!Array.isArray(routes)) continue;
    for (const route of routes) {
      const endpoints = (route as { endpoints?: unknown } | null)?.endpoints;
      if (Array.isArray(endpoints)) total += endpoints.length;
    }
  }
  return total;
}

/** `  - a\n  - b\n  - and 3 more` */
function listProblems(problems: string[]): string {
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS).map((problem) => `  - ${problem}`);
  if (problems.length > MAX_REPORTED_PROBLEMS)
    shown.push(`  - and ${problems.length - MAX_REPORTED_PROBLEMS} more`);
  return shown.join("\n");
}

/** Validate an already-parsed document. */
export function validateRouteFile(document: unknown, source: string): RouteFile {
  // Checked before the schema: hundreds of thousands of invalid endpoints would each make an
  // issue, and the validator runs out of stack.
  const endpoints = countEndpoints(document);
  if (endpoints > MAX_TOTAL_ENDPOINTS)
    throw routeFileError(
      `Invalid route file ${source}: ${endpoints} endpoints; a route file has at most ${MAX_TOTAL_ENDPOINTS} in all`,
    );
  const result = routeFileSchema.safeParse(document);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length ? issue.path.join(".") : "(file)"}: ${issue.message}`,
  );
  throw routeFileError(`Invalid route file ${source}:\n${listProblems(problems)}`);
}

/**
 * Parse YAML or JSON text and validate it. A document that starts with `{` is read with
 * `JSON.parse` (the route files the stack writes); the YAML parser is loaded on first use only,
 * which keeps it out of the gateway's memory when its routes are JSON.
 */
export function parseRouteFile(text: string, source: string): RouteFile {
  checkRouteFileSize(Buffer.byteLength(text), source);
  let document: unknown;
  try {
    document = text.trimStart().startsWith("{")
      ? JSON.parse(text)
      : (require("yaml") as typeof import("yaml")).parse(text);
  } catch (error) {
    throw routeFileError(`Cannot parse route file ${source}: ${(error as Error).message}`);
  }
  return validateRouteFile(document, source);
}
