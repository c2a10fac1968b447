/**
 * Draining a route at weight 0 (`drainAfterSeconds`, `drainRate` on a listener).
 *
 * New weights only ever apply to new connections; a long-lived connection opened on v1 stays on
 * v1 after the shift to 100% v2. A drain closes such connections so their clients reconnect to
 * the routes that now have weight: once a route's weight has been 0 for `drainAfterSeconds`
 * (across reloads: the clock starts when its weight became 0), its open connections are closed
 * gracefully (`TrackedConnection.requestDrain`: FIN both ways, nothing already read is cut),
 * oldest first, at most `drainRate` per second with jittered spacing, so the clients do not all
 * reconnect at once.
 *
 * - A weight raised above 0 stops that route's drain (connections already closing finish).
 * - A route or listener removed from the file stops being drained: its open connections stay
 *   until they end, as any connection of a removed route (keep the route at weight 0 to drain).
 * - Nothing is done per connection or per byte: the gateway's connection set is kept in accept
 *   order, so a drain walks it once, from the oldest, with one live iterator per draining route.
 * - With `--workers N`, each worker drains its own connections: up to N × drainRate in all.
 */
import type { RouteFile } from "../../contract/routeFile";
import type { Logger } from "../shared/jsonLogger";
import type { TrackedConnection } from "./gatewayConnection";
import type { RouteCounts } from "./gatewayMetrics";

/** Shortest and longest spacing of drain ticks (ms). */
const MIN_TICK_MS = 20;
const MAX_TICK_MS = 1_000;

/** The route's counts object, which every connection of the route (any reload) points at. */
export type CountsOf = (listener: string, route: string) => RouteCounts;

interface RouteDrain {
  readonly listener: string;
  readonly route: string;
  readonly counts: RouteCounts;
  /** When the weight became 0 (ms since epoch). */
  zeroSince: number;
  /** Pending start (after drainAfterSeconds) or next tick. */
  timer: NodeJS.Timeout | undefined;
  /** Set while draining. */
  cursor: Iterator<TrackedConnection> | undefined;
  rate: number;
  tokens: number;
  lastTick: number;
  closed: number;
}

/** The drains of one gateway. */
export class DrainScheduler {
  private readonly drains = new Map<string, RouteDrain>();

  constructor(
    private readonly connections: () => Iterator<TrackedConnection>,
    private readonly countsOf: CountsOf,
    private readonly logger: Logger,
  ) {}

  /** Apply the route file in force: start clocks, stop drains, schedule starts. */
  update(routes: RouteFile): void {
    const now = Date.now();
    const seen = new Set<string>();
    for (const listener of routes.listeners)
      for (const route of listener.routes) {
        const key = `${listener.name}\u0000${route.name}`;
        seen.add(key);
        let drain = this.drains.get(key);
        if (route.weight > 0) {
          if (drain) this.stop(key, drain, "weight raised above 0");
          continue;
        }
        if (!drain) {
          drain = {
            listener: listener.name,
            route: route.name,
            counts: this.countsOf(listener.name, route.name),
            zeroSince: now,
            timer: undefined,
            cursor: undefined,
            rate: listener.drainRate,
            tokens: 0,
            lastTick: now,
            closed: 0,
          };
          this.drains.set(key, drain);
        }
        drain.rate = listener.drainRate;
        if (drain.cursor) continue;
        clearTimeout(drain.timer);
        drain.timer = undefined;
        if (listener.drainAfterSeconds === undefined) continue;
        const due = drain.zeroSince + listener.drainAfterSeconds * 1000;
        const started = drain;
        drain.timer = setTimeout(() => this.start(started), Math.max(0, due - now));
        drain.timer.unref();
      }
    for (const [key, drain] of this.drains)
      if (!seen.has(key)) this.stop(key, drain, "route removed from the route file");
  }

  /** Stop every drain (gateway closing). */
  close(): void {
    for (const drain of this.drains.values()) clearTimeout(drain.timer);
    this.drains.clear();
  }

  private start(drain: RouteDrain): void {
    drain.timer = undefined;
    const open = drain.counts.open - drain.counts.draining;
    if (open <= 0) return;
    drain.cursor = this.connections();
    drain.tokens = 1;
    drain.lastTick = Date.now();
    drain.closed = 0;
    this.logger.info("drain started", {
      listener: drain.listener,
      route: drain.route,
      open,
      ratePerSecond: drain.rate,
      weightZeroForSeconds: Math.round((Date.now() - drain.zeroSince) / 1000),
    });
    this.tick(drain);
  }

  private tick(drain: RouteDrain): void {
    drain.timer = undefined;
    const cursor = drain.cursor;
    if (!cursor) return;
    const now = Date.now();
    // Tokens accrue at `rate` per second; a burst is at most one tick's worth (plus one).
    const spacing = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, 1000 / drain.rate));
    drain.tokens = Math.min(
      drain.tokens + ((now - drain.lastTick) * drain.rate) / 1000,
      1 + (spacing * drain.rate) / 1000,
    );
    drain.lastTick = now;
    while (drain.tokens >= 1) {
      const next = cursor.next();
      if (next.done) {
        this.ended(drain);
        return;
      }
      const connection = next.value;
      if (connection.route?.counts !== drain.counts || !connection.requestDrain()) continue;
      drain.tokens--;
      drain.closed++;
      drain.counts.drained++;
    }
    if (drain.counts.open - drain.counts.draining <= 0) {
      this.ended(drain);
      return;
    }
    // Jittered: between half and one and a half times the mean spacing.
    drain.timer = setTimeout(() => this.tick(drain), spacing * (0.5 + Math.random()));
    drain.timer.unref();
  }

  /** Forget a route's drain (weight raised, route removed); log its end if it was draining. */
  private stop(key: string, drain: RouteDrain, reason: string): void {
    clearTimeout(drain.timer);
    this.drains.delete(key);
    if (drain.cursor) this.ended(drain, reason);
  }

  private ended(drain: RouteDrain, reason = "every connection closed or closing"): void {
    drain.cursor = undefined;
    this.logger.info("drain ended", {
      listener: drain.listener,
      route: drain.route,
      reason,
      drained: drain.closed,
      stillClosing: drain.counts.draining,
    });
  }
}
