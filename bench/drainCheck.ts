/**
 * `npm run bench -- --drain-check`, the drain part: what the gateway's drain of a weight-0 route
 * (`drainAfterSeconds`, `drainRate`) does to real long-lived streams, on the real gateway process
 * (dist/, started as the image starts it) with the C echo backends.
 *
 * - **drain**: `connections` streams open on v1 (weights 100/0) and flowing, every byte checked
 *   (bench/drainClient.c); then the route file is replaced (rename) with v1 0 / v2 100. Measured:
 *   when the drain starts after the change, how long until every v1 connection is closed, the
 *   close rate (mean, and the most closes in any 1 s window against `drainRate`), whether every
 *   close was clean (the gateway's FIN, then the client's FIN, and no reset in the
 *   `cleanWaitMs` after it), what was unanswered when the FIN came, and, per connection from the
 *   echo's own report (`echo --report`), that every line v1 received came back to the client
 *   (bytes lost: must be 0). Each drained client reconnects at once and must land on v2.
 * - **raise**: the same start, and after `raiseAfterCloses` drain closes v1's weight goes back
 *   up (50/50): the drain must stop (closes after the raise is in force: 0) and every connection
 *   still open must stay open and intact until the end.
 *
 * Times are epoch milliseconds (CLOCK_REALTIME in the C client and echo, `performance` here, the
 * gateway's log `time`), all on this machine.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { SOURCE_HOSTS } from "./addressPlan";
import { startChild, stopChild } from "./children";
import {
  metricsText,
  type RouteGauges,
  routeGauges,
  waitForWeights,
  wallMs,
} from "./gatewayMetrics";
import { DRAIN_CLIENT_BIN } from "./loadgen";
import { type PeerContext, type RunningGateway, startGateway } from "./peers";
import { renderTable } from "./report";

/** Sizes and timing of the drain scenarios. */
export interface DrainPlan {
  /** Long-lived streams opened on v1. */
  connections: number;
  /** Bytes per line (the echo answers per line). */
  lineBytes: number;
  /** Each stream writes one line per this many ms ... */
  lineIntervalMs: number;
  /** ... with at most this many unanswered. */
  window: number;
  /** The route file's `drainAfterSeconds`. */
  drainAfterSeconds: number;
  /** The route file's `drainRate` (closes per second). */
  drainRate: number;
  /** Streams flow this long before the weights change (s). */
  streamBeforeSec: number;
  /** drain: the reconnected streams flow this long after the last drain close (s). */
  streamAfterSec: number;
  /** raise: v1's weight is raised again after this many drain closes. */
  raiseAfterCloses: number;
  /** raise: the connections still open are watched this long after the raise (s). */
  holdAfterRaiseSec: number;
  /** After its own FIN, a drained client waits this long for a reset (ms). */
  cleanWaitMs: number;
}

export const DRAIN_PLAN: DrainPlan = {
  connections: 300,
  lineBytes: 1024,
  lineIntervalMs: 20,
  window: 4,
  drainAfterSeconds: 2,
  drainRate: 50,
  streamBeforeSec: 1,
  streamAfterSec: 1,
  raiseAfterCloses: 100,
  holdAfterRaiseSec: 3,
  cleanWaitMs: 300,
};

export const QUICK_DRAIN_PLAN: DrainPlan = {
  ...DRAIN_PLAN,
  connections: 100,
  raiseAfterCloses: 40,
  holdAfterRaiseSec: 1.5,
};

/** Weights of the scenarios: start, the shift, the raise that stops the drain. */
export const DRAIN_WEIGHTS = {
  start: { one: 100, two: 0 },
  shifted: { one: 0, two: 100 },
  raised: { one: 50, two: 50 },
} as const;

/**
 * Most closes a drain may show in any 1 s window: `drainRate` plus 10 % (at least 2). The
 * gateway's token bucket allows `drainRate` per second plus a burst of one tick's worth (2 at
 * 50/s); the rest covers closes seen a few ms late at the client.
 */
export function closeRateLimit(drainRate: number): number {
  return drainRate + Math.max(2, Math.ceil(drainRate * 0.1));
}

/** The most events in any window `[t, t + windowMs)`, and where that window starts. */
export function maxPerWindow(
  times: readonly number[],
  windowMs = 1000,
): { count: number; startMs: number | undefined } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let startMs: number | undefined;
  let last = 0;
  for (let first = 0; first < sorted.length; first++) {
    const from = sorted[first] as number;
    if (last < first) last = first;
    while (last < sorted.length && (sorted[last] as number) < from + windowMs) last++;
    if (last - first > best) {
      best = last - first;
      startMs = from;
    }
  }
  return { count: best, startMs };
}

/** How a connection of the drain client ended (drainClient.c). */
export type CloseKind = "drained" | "end" | "reset" | "error" | "mismatch";

/** A connection of the drain client ended. */
export interface CloseEvent {
  event: "close";
  id: number;
  gen: number;
  prefix: "one" | "two" | "";
  kind: CloseKind;
  detail: string;
  openMs: number;
  firstReplyMs: number;
  /** When the gateway's FIN arrived (drained), else 0. */
  finMs: number;
  closeMs: number;
  sentBytes: number;
  verifiedBytes: number;
  sentLines: number;
  echoedLines: number;
  /** drained: lines written whose reply had not come when the FIN did. */
  unechoedLines: number;
  /** drained: bytes of a line partly written when the FIN came. */
  partialLineBytes: number;
  /** drained: age of the oldest unanswered line when the FIN came (ms; 0: none). */
  oldestUnechoedAgeMs: number;
  /** drained: "clean", or "reset: ..." when a reset came after the client's FIN. */
  afterFin: string;
  /** drained: when each unanswered line started to be written (the partly written one last). */
  inFlightSentMs: number[];
}

/** One line of the drain client's output. */
export type ClientEvent =
  | { event: "ready"; connections: number; failed: number; t: number }
  | { event: "open" | "fin"; id: number; gen: number; prefix: "one" | "two" | ""; t: number }
  | CloseEvent
  | {
      event: "summary";
      opened: number;
      closed: number;
      problems: number;
      sentBytes: number;
      verifiedBytes: number;
      cpuSec: number;
      t: number;
    };

const CLIENT_EVENTS = new Set(["ready", "open", "fin", "close", "summary"]);

/** Parse one output line of the drain client; undefined for anything else. */
export function parseClientEvent(line: string): ClientEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line) as { event?: unknown };
    return typeof value.event === "string" && CLIENT_EVENTS.has(value.event)
      ? (value as ClientEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The echo's report of one connection (`echo --report`). */
export interface EchoReport {
  /** Which backend: `one` (v1) or `two` (v2). */
  backend: "one" | "two";
  /** The first word of the connection's first line: `c00017.0` (id 17, gen 0). */
  conn: string;
  /** Bytes received. */
  in: number;
  /** Bytes of complete lines received: each got its reply. */
  answered: number;
  /** A trailing line without its `\n` when the FIN came (no reply, as the protocol says). */
  partial: number;
  /** `fin`: ended by the gateway's FIN with every reply written; `reset` / `error` otherwise. */
  end: string;
  t: number;
}

/** Parse one `{"conn":...}` line of `echo --report`. */
export function parseEchoReport(line: string, backend: "one" | "two"): EchoReport | undefined {
  try {
    const value = JSON.parse(line) as Omit<EchoReport, "backend">;
    if (typeof value.conn !== "string" || typeof value.in !== "number") return undefined;
    return { backend, ...value };
  } catch {
    return undefined;
  }
}

/** The name a drain client connection gives itself in its lines (drainClient.c). */
export function connectionName(id: number, gen: number): string {
  return `c${String(id).padStart(5, "0")}.${gen}`;
}

/** A `drain started` / `drain ended` line of the gateway's log. */
export interface DrainLogLine {
  msg: "drain started" | "drain ended";
  timeMs: number;
  route: string;
  reason?: string;
  open?: number;
  drained?: number;
}

/** The drain lines of the gateway's JSON log (one object per line). */
export function parseDrainLog(text: string): DrainLogLine[] {
  const lines: DrainLogLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes('"drain ')) continue;
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (value.msg !== "drain started" && value.msg !== "drain ended") continue;
      lines.push({
        msg: value.msg,
        timeMs: Date.parse(String(value.time)),
        route: String(value.route),
        ...(typeof value.reason === "string" ? { reason: value.reason } : {}),
        ...(typeof value.open === "number" ? { open: value.open } : {}),
        ...(typeof value.drained === "number" ? { drained: value.drained } : {}),
      });
    } catch {
      // not a JSON line
    }
  }
  return lines;
}

/** Everything one drain scenario saw (the raw results). */
export interface DrainObservation {
  scenario: "drain" | "raise";
  plan: DrainPlan;
  /** The route file with v1 0 was renamed into place. */
  changeMs: number;
  /** The new weights showed in /metrics. */
  appliedMs?: number;
  /** raise: the route file with v1 raised again was renamed into place, and in force. */
  raiseMs?: number;
  raiseAppliedMs?: number;
  ready?: { connections: number; failed: number };
  events: ClientEvent[];
  /** The backends report every connection (the C echo); false: `--backend node`. */
  echoReported: boolean;
  /** The echo reports of this scenario's connections. */
  echo: EchoReport[];
  drainLog: DrainLogLine[];
  /** v1 as /metrics showed it: during the hold (raise) and once every client had closed. */
  v1DuringHold?: RouteGauges;
  v1After: RouteGauges;
  /** Client CPU seconds, from its summary. */
  clientCpuSec?: number;
}

/** A figure and what it should be. */
export interface Figure {
  figure: string;
  measured: string;
  expected: string;
}

/** The drain scenario's figures. */
export interface DrainSummary {
  scenario: "drain" | "raise";
  connections: number;
  /** First connections answered by v1. */
  onV1: number;
  reloadInForceMs?: number;
  /** From the change to the gateway's `drain started` line. */
  drainStartedMs?: number;
  /** From the change to the first / last FIN a v1 client saw. */
  firstCloseMs?: number;
  lastCloseMs?: number;
  /** First to last drain close (s). */
  closeSpanSec?: number;
  /** Drain closes per second, mean over first to last. */
  meanRate?: number;
  /** Most drain closes in any 1 s window, and the limit for it. */
  maxRate1s: number;
  rateLimit: number;
  /** v1 connections the drain closed. */
  drained: number;
  /** ... with the client's FIN answered cleanly (no reset). */
  clean: number;
  /** Connections (any generation) that ended some other way than drained or end. */
  failed: { id: number; gen: number; kind: CloseKind; detail: string }[];
  bytes: {
    /** Written by the drained v1 clients, and echoed back and checked. */
    sent: number;
    echoed: number;
    /** Lines in flight when the FIN came (written, not answered) and their bytes. */
    inFlightLines: number;
    inFlightBytes: number;
    /** ... of which bytes of a line partly written when the FIN came. */
    inFlightPartialBytes: number;
    /** Drained connections with something in flight, and the oldest such line's age (ms). */
    connectionsWithInFlight: number;
    maxInFlightAgeMs: number;
    /**
     * In-flight lines written before v1 read the gateway's FIN (the echo's report time), and
     * the most ahead of it one was (ms). Written before the drain began or while the gateway
     * was about to send the FIN: on loopback a written line is in the gateway's socket at once.
     */
    inFlightBeforeBackendFin?: number;
    maxLeadBeforeBackendFinMs?: number;
    /** From the echo's report (undefined without it: `--backend node`). */
    backendReceived?: number;
    backendAnswered?: number;
    /** Answered by v1 but never back at the client, or echoed but never answered: must be 0. */
    lost?: number;
    /** A line cut by the backend's FIN (sent in part when the drain came): no reply. */
    backendPartial?: number;
    /** Written by the client, never reached v1 (in flight at the drain: dropped by design). */
    droppedAtGateway?: number;
    /** How v1's connections ended at the backend: FIN, reset, error. */
    backendEnds?: Record<string, number>;
    /** Drained connections without an echo report. */
    unmatched?: number;
  };
  /** drain: connections opened again after a drain close, and where they landed. */
  reconnects: { opened: number; onV2: number; onV1: number; intactAtEnd: number };
  /** raise: closes before the raise, after it was written, after it was in force. */
  raise?: {
    closesBeforeRaise: number;
    closesAfterRaise: number;
    closesAfterInForce: number;
    /** From the raise to the gateway's `drain ended` line, and its reason. */
    drainEndedMs?: number;
    drainEndedReason?: string;
    /** v1 connections open once the raise was in force, and of those, intact at the end. */
    openWhenInForce: number;
    intactAtEnd: number;
    v1OpenDuringHold?: number;
  };
  v1After: RouteGauges;
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/** The figures of one scenario from its raw observation. */
export function summarizeDrain(o: DrainObservation): DrainSummary {
  const closes = o.events.filter((e): e is CloseEvent => e.event === "close");
  const first = closes.filter((c) => c.gen === 0);
  const onV1 = first.filter((c) => c.prefix === "one");
  const drained = onV1.filter((c) => c.kind === "drained");
  const finTimes = drained.map((c) => c.finMs).sort((a, b) => a - b);
  const firstFin = finTimes[0];
  const lastFin = finTimes.at(-1);
  const started = o.drainLog.find(
    (l) => l.msg === "drain started" && l.route === "v1" && l.timeMs >= o.changeMs - 1000,
  );
  const window = maxPerWindow(finTimes);

  const echoByConn = new Map(o.echo.filter((r) => r.backend === "one").map((r) => [r.conn, r]));
  const haveEcho = o.echoReported;
  let backendReceived = 0;
  let backendAnswered = 0;
  let lost = 0;
  let backendPartial = 0;
  let droppedAtGateway = 0;
  let unmatched = 0;
  let beforeBackendFin = 0;
  let maxLead = 0;
  const backendEnds: Record<string, number> = {};
  for (const c of drained) {
    const report = echoByConn.get(connectionName(c.id, c.gen));
    if (!report) {
      unmatched++;
      continue;
    }
    backendReceived += report.in;
    backendAnswered += report.answered;
    lost += Math.abs(report.answered - c.verifiedBytes);
    backendPartial += report.partial;
    droppedAtGateway += c.sentBytes - report.in;
    backendEnds[report.end] = (backendEnds[report.end] ?? 0) + 1;
    for (const sentMs of c.inFlightSentMs ?? [])
      if (sentMs < report.t) {
        beforeBackendFin++;
        maxLead = Math.max(maxLead, report.t - sentMs);
      }
  }
  const inFlight = drained.filter((c) => c.unechoedLines > 0 || c.partialLineBytes > 0);

  const later = closes.filter((c) => c.gen > 0);
  const opens = o.events.filter((e) => e.event === "open" && e.gen > 0);
  const intact = (c: CloseEvent) => c.kind === "end" && c.verifiedBytes === c.sentBytes;

  let raise: DrainSummary["raise"];
  if (o.scenario === "raise" && o.raiseMs !== undefined) {
    const raiseMs = o.raiseMs;
    const inForce = o.raiseAppliedMs ?? raiseMs;
    const ended = o.drainLog.find(
      (l) => l.msg === "drain ended" && l.route === "v1" && l.timeMs >= raiseMs - 1000,
    );
    const openInForce = onV1.filter((c) => !(c.kind === "drained" && c.finMs <= inForce));
    raise = {
      closesBeforeRaise: finTimes.filter((t) => t < raiseMs).length,
      closesAfterRaise: finTimes.filter((t) => t >= raiseMs).length,
      closesAfterInForce: finTimes.filter((t) => t > inForce).length,
      drainEndedMs: ended ? round(ended.timeMs - raiseMs) : undefined,
      drainEndedReason: ended?.reason,
      openWhenInForce: openInForce.length,
      intactAtEnd: openInForce.filter(intact).length,
      v1OpenDuringHold: o.v1DuringHold?.open,
    };
  }

  return {
    scenario: o.scenario,
    connections: o.plan.connections,
    onV1: onV1.length,
    reloadInForceMs: o.appliedMs === undefined ? undefined : round(o.appliedMs - o.changeMs),
    drainStartedMs: started ? round(started.timeMs - o.changeMs) : undefined,
    firstCloseMs: firstFin === undefined ? undefined : round(firstFin - o.changeMs),
    lastCloseMs: lastFin === undefined ? undefined : round(lastFin - o.changeMs),
    closeSpanSec:
      firstFin === undefined || lastFin === undefined
        ? undefined
        : round((lastFin - firstFin) / 1000, 2),
    meanRate:
      firstFin !== undefined && lastFin !== undefined && lastFin > firstFin
        ? round(((finTimes.length - 1) * 1000) / (lastFin - firstFin))
        : undefined,
    maxRate1s: window.count,
    rateLimit: closeRateLimit(o.plan.drainRate),
    drained: drained.length,
    clean: drained.filter((c) => c.afterFin === "clean").length,
    failed: closes
      .filter((c) => c.kind !== "drained" && c.kind !== "end")
      .map(({ id, gen, kind, detail }) => ({ id, gen, kind, detail })),
    bytes: {
      sent: drained.reduce((sum, c) => sum + c.sentBytes, 0),
      echoed: drained.reduce((sum, c) => sum + c.verifiedBytes, 0),
      inFlightLines: drained.reduce((sum, c) => sum + c.unechoedLines, 0),
      inFlightBytes: drained.reduce((sum, c) => sum + c.sentBytes - c.verifiedBytes, 0),
      inFlightPartialBytes: drained.reduce((sum, c) => sum + c.partialLineBytes, 0),
      connectionsWithInFlight: inFlight.length,
      maxInFlightAgeMs: round(Math.max(0, ...inFlight.map((c) => c.oldestUnechoedAgeMs)), 2),
      ...(haveEcho
        ? {
            backendReceived,
            backendAnswered,
            lost,
            backendPartial,
            droppedAtGateway,
            backendEnds,
            unmatched,
            inFlightBeforeBackendFin: beforeBackendFin,
            maxLeadBeforeBackendFinMs: round(maxLead, 3),
          }
        : {}),
    },
    reconnects: {
      opened: opens.length,
      onV2: opens.filter((e) => e.event === "open" && e.prefix === "two").length,
      onV1: opens.filter((e) => e.event === "open" && e.prefix === "one").length,
      intactAtEnd: later.filter(intact).length,
    },
    ...(raise ? { raise } : {}),
    v1After: o.v1After,
  };
}

/** How the problems and findings of a scenario name it. */
function scenarioLabel(s: DrainSummary): string {
  return s.scenario === "drain" ? "drain" : "drain stopped by a raise";
}

/** What makes a drain scenario fail (the run exits 1). */
export function drainProblems(s: DrainSummary): string[] {
  const problems: string[] = [];
  const label = scenarioLabel(s);
  if (s.onV1 !== s.connections)
    problems.push(`${label}: ${s.onV1}/${s.connections} first connections answered by v1`);
  for (const f of s.failed.slice(0, 5))
    problems.push(`${label}: connection ${f.id}.${f.gen} ended ${f.kind}: ${f.detail}`);
  if (s.failed.length > 5) problems.push(`${label}: ${s.failed.length - 5} more failed`);
  if (s.clean !== s.drained)
    problems.push(`${label}: ${s.drained - s.clean}/${s.drained} drain closes not clean (reset)`);
  if (s.maxRate1s > s.rateLimit)
    problems.push(`${label}: ${s.maxRate1s} closes in one 1 s window (limit ${s.rateLimit})`);
  if (s.bytes.lost !== undefined && s.bytes.lost > 0)
    problems.push(`${label}: ${s.bytes.lost} bytes answered by v1 but not back at the client`);
  if (s.bytes.unmatched) problems.push(`${label}: ${s.bytes.unmatched} closes without echo report`);
  const notFin = Object.entries(s.bytes.backendEnds ?? {}).filter(([end]) => end !== "fin");
  for (const [end, count] of notFin)
    problems.push(`${label}: ${count} v1 backend connections ended by ${end}, not a FIN`);
  if (s.v1After.open !== undefined && s.v1After.open !== 0)
    problems.push(
      `${label}: the gateway still counts ${s.v1After.open} open v1 connections after every client closed`,
    );
  if (s.v1After.resets) problems.push(`${label}: gateway counted ${s.v1After.resets} resets on v1`);
  if (s.scenario === "drain") {
    if (s.drained !== s.onV1)
      problems.push(`${label}: ${s.drained}/${s.onV1} v1 connections closed by the drain`);
    if (s.reconnects.onV1 > 0)
      problems.push(`${label}: ${s.reconnects.onV1} reconnects landed on v1 (weight 0)`);
    if (s.reconnects.onV2 !== s.drained)
      problems.push(`${label}: ${s.reconnects.onV2}/${s.drained} reconnects answered by v2`);
    if (s.reconnects.intactAtEnd !== s.reconnects.opened)
      problems.push(
        `${label}: ${s.reconnects.intactAtEnd}/${s.reconnects.opened} reconnected streams intact`,
      );
  }
  if (s.raise) {
    if (s.raise.closesAfterInForce > 0)
      problems.push(`${label}: ${s.raise.closesAfterInForce} closes after the raise was in force`);
    if (s.raise.intactAtEnd !== s.raise.openWhenInForce)
      problems.push(
        `${label}: ${s.raise.intactAtEnd}/${s.raise.openWhenInForce} connections open after the raise stayed intact`,
      );
    if (
      s.raise.v1OpenDuringHold !== undefined &&
      s.raise.v1OpenDuringHold !== s.raise.openWhenInForce - s.raise.closesAfterInForce
    )
      problems.push(
        `${label}: the gateway counted ${s.raise.v1OpenDuringHold} open v1 connections during the hold, the clients ${s.raise.openWhenInForce - s.raise.closesAfterInForce}`,
      );
  }
  return problems;
}

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined ? "–" : value.toLocaleString("en", { maximumFractionDigits: digits });

/**
 * What the run reports without failing: client bytes in flight when a drain closed their
 * stream got no reply. The gateway drops what it reads from a client after giving the backend
 * its FIN (dataplane/README.md); the brief wanted 0.
 */
export function drainFindings(s: DrainSummary): string[] {
  const b = s.bytes;
  if (b.inFlightBytes === 0) return [];
  const label = scenarioLabel(s);
  const before =
    b.inFlightBeforeBackendFin === undefined
      ? ""
      : `; ${b.inFlightBeforeBackendFin} of those lines were written before v1 read the gateway's FIN (up to ${fmt(b.maxLeadBeforeBackendFinMs, 3)} ms before)`;
  return [
    `${label}: ${fmt(b.inFlightBytes)} bytes in ${b.connectionsWithInFlight}/${s.drained} drained streams ` +
      `were written before the FIN reached the client and never answered (written at most ` +
      `${fmt(b.maxInFlightAgeMs, 2)} ms before it)${before}`,
  ];
}

/** The figures of a scenario as table rows. */
export function drainFigures(s: DrainSummary, plan: DrainPlan): Figure[] {
  const b = s.bytes;
  const rows: Figure[] = [
    {
      figure: "streams open on v1 before the change",
      measured: `${s.onV1}/${s.connections}`,
      expected: "all",
    },
    {
      figure: "change → new weights in force (/metrics) [ms]",
      measured: fmt(s.reloadInForceMs),
      expected: "≥ 50 (watcher settle)",
    },
    {
      figure: "change → drain started (gateway log) [ms]",
      measured: fmt(s.drainStartedMs),
      expected: `≈ ${plan.drainAfterSeconds * 1000} + settle`,
    },
    {
      figure: "change → first close at a client [ms]",
      measured: fmt(s.firstCloseMs),
      expected: `≥ ${plan.drainAfterSeconds * 1000}`,
    },
  ];
  if (s.scenario === "drain")
    rows.push(
      {
        figure: "change → last v1 connection closed [ms]",
        measured: fmt(s.lastCloseMs),
        expected: `≈ ${fmt(plan.drainAfterSeconds * 1000 + ((s.onV1 - 1) * 1000) / plan.drainRate)}`,
      },
      {
        figure: "first → last close [s]",
        measured: fmt(s.closeSpanSec, 2),
        expected: `≈ ${fmt((s.onV1 - 1) / plan.drainRate, 2)} ((n−1)/drainRate)`,
      },
    );
  rows.push(
    {
      figure: "close rate, mean [/s]",
      measured: fmt(s.meanRate, 1),
      expected: `≤ ${plan.drainRate}`,
    },
    {
      figure: "closes in any 1 s window, most",
      measured: String(s.maxRate1s),
      expected: `≤ ${s.rateLimit} (drainRate + 10 %)`,
    },
    {
      figure: "drain closes clean (FIN, client FIN, no reset)",
      measured: `${s.clean}/${s.drained}`,
      expected: "all",
    },
    {
      figure: "bytes lost after the gateway read them (v1 answered, client never got)",
      measured: fmt(b.lost),
      expected: "0",
    },
    {
      figure: "v1 backend connections ended by the gateway's FIN",
      measured: b.backendEnds ? `${b.backendEnds.fin ?? 0}/${s.drained}` : "–",
      expected: "all",
    },
    {
      figure: "bytes written / echoed and checked (drained streams)",
      measured: `${fmt(b.sent)} / ${fmt(b.echoed)}`,
      expected: "equal but for in flight",
    },
    {
      figure: "never answered: written before the FIN reached the client",
      measured:
        `${fmt(b.inFlightBytes)} B in ${b.connectionsWithInFlight} streams (${b.inFlightLines} ` +
        `lines${b.inFlightPartialBytes ? ` + ${fmt(b.inFlightPartialBytes)} B being written` : ""})`,
      expected: "0 wanted; dropped by design",
    },
    {
      figure: "  of those bytes: reached v1 as a cut line / never reached v1",
      measured: `${fmt(b.backendPartial)} / ${fmt(b.droppedAtGateway)}`,
      expected: "–",
    },
    {
      figure: "  lines written before v1 read its FIN / most ahead [ms]",
      measured:
        b.inFlightBeforeBackendFin === undefined
          ? "–"
          : `${b.inFlightBeforeBackendFin} / ${fmt(b.maxLeadBeforeBackendFinMs, 3)}`,
      expected: "–",
    },
    {
      figure: "  oldest, written before the FIN reached the client [ms]",
      measured: fmt(b.maxInFlightAgeMs, 2),
      expected: `< ${plan.lineIntervalMs}`,
    },
  );
  if (s.scenario === "drain")
    rows.push(
      {
        figure: "reconnects answered by v2 / by v1",
        measured: `${s.reconnects.onV2}/${s.reconnects.opened} / ${s.reconnects.onV1}`,
        expected: `${s.drained} / 0`,
      },
      {
        figure: "reconnected streams intact at the end",
        measured: `${s.reconnects.intactAtEnd}/${s.reconnects.opened}`,
        expected: "all",
      },
    );
  if (s.raise) {
    const r = s.raise;
    rows.push(
      {
        figure: "closes before the raise / after it / after in force",
        measured: `${r.closesBeforeRaise} / ${r.closesAfterRaise} / ${r.closesAfterInForce}`,
        expected: `≈ ${plan.raiseAfterCloses} / few / 0`,
      },
      {
        figure: "raise → drain ended (gateway log) [ms]",
        measured: `${fmt(r.drainEndedMs)} (${r.drainEndedReason ?? "–"})`,
        expected: "≈ settle",
      },
      {
        figure: "v1 open during the hold (/metrics)",
        measured: fmt(r.v1OpenDuringHold),
        expected: `${r.openWhenInForce - r.closesAfterInForce} (open at the clients)`,
      },
      {
        figure: `open once in force, intact after ${plan.holdAfterRaiseSec} s and to the end`,
        measured: `${r.intactAtEnd}/${r.openWhenInForce}`,
        expected: "all",
      },
    );
  }
  rows.push({
    figure: "gateway after every client closed: v1 open, draining, resets",
    measured: `${fmt(s.v1After.open)}, ${fmt(s.v1After.draining)}, ${fmt(s.v1After.resets)}`,
    expected: "0, 0, 0",
  });
  return rows;
}

/** Figures as a table. */
export function figureTable(rows: readonly Figure[]): string {
  return renderTable([
    ["figure", "measured", "expected"],
    ...rows.map((r) => [r.figure, r.measured, r.expected]),
  ]);
}

/** The drain client, running. */
interface DrainClient {
  readonly events: ClientEvent[];
  /** Resolve once `done(events)` holds; reject on timeout or if the client exits first. */
  waitFor(done: (events: readonly ClientEvent[]) => boolean, timeoutMs: number): Promise<void>;
  /** SIGTERM: every open stream half-closes and is checked; resolves when the client exited. */
  stop(): Promise<ClientEvent[]>;
}

function startDrainClient(target: string, plan: DrainPlan, reconnect: boolean): DrainClient {
  const args = [
    "--target",
    target,
    "--connections",
    String(plan.connections),
    "--line-size",
    String(plan.lineBytes),
    "--interval-ms",
    String(plan.lineIntervalMs),
    "--window",
    String(plan.window),
    "--clean-wait-ms",
    String(plan.cleanWaitMs),
    "--duration",
    "110",
    ...SOURCE_HOSTS.flatMap((source) => ["--source", source]),
    ...(reconnect ? ["--reconnect"] : []),
  ];
  const child = startChild({ command: DRAIN_CLIENT_BIN, args, label: "drain client" });
  child.stdin?.end();
  const events: ClientEvent[] = [];
  const waiters = new Set<() => void>();
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const closed = new Promise<void>((resolve) => lines.once("close", resolve));
  lines.on("line", (line) => {
    const event = parseClientEvent(line);
    if (!event) return;
    events.push(event);
    for (const waiter of waiters) waiter();
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
    for (const waiter of waiters) waiter();
  });
  return {
    events,
    waitFor(done, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (done(events)) finish();
          else if (exited) finish(new Error("the drain client exited"));
        };
        const finish = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const timer = setTimeout(() => finish(new Error(`not within ${timeoutMs} ms`)), timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      await stopChild(child, 20_000);
      await closed;
      return events;
    },
  };
}

/** v1's gauges once the gateway has closed every connection (or after `timeoutMs`). */
async function v1Settled(gateway: RunningGateway, timeoutMs = 3000): Promise<RouteGauges> {
  const deadline = wallMs() + timeoutMs;
  for (;;) {
    const gauges = routeGauges(await metricsText(gateway), "v1");
    if ((gauges.open === 0 && gauges.draining === 0) || wallMs() > deadline) return gauges;
    await sleep(100);
  }
}

/** The gateway's log file once its last line ("closed") is in (or after 2 s). */
async function logOnceClosed(file: string): Promise<string> {
  const deadline = wallMs() + 2000;
  for (;;) {
    const text = readFileSync(file, "utf8");
    if (text.includes('"msg":"closed"') || wallMs() > deadline) return text;
    await sleep(50);
  }
}

/** What a drain scenario needs besides the plan. */
export interface DrainContext extends PeerContext {
  /** Where the C echo's reports are collected (cleared at the start of each scenario). */
  echoReports: EchoReport[];
  log: (line: string) => void;
}

const finsOfFirst = (events: readonly ClientEvent[]) =>
  events.filter((e) => e.event === "fin" && e.gen === 0).length;

/** Run one scenario on a fresh gateway; returns everything it saw. */
export async function runDrainScenario(
  ctx: DrainContext,
  plan: DrainPlan,
  scenario: "drain" | "raise",
): Promise<DrainObservation> {
  ctx.echoReports.length = 0;
  const gateway = await startGateway({
    ...ctx,
    initialWeights: DRAIN_WEIGHTS.start,
    listener: {
      balance: "smooth",
      drainAfterSeconds: plan.drainAfterSeconds,
      drainRate: plan.drainRate,
    },
  });
  const observation: DrainObservation = {
    scenario,
    plan,
    changeMs: 0,
    events: [],
    echoReported: ctx.backends.kind === "c",
    echo: [],
    drainLog: [],
    v1After: {},
  };
  try {
    const client = startDrainClient(gateway.targets[0] as string, plan, scenario === "drain");
    try {
      await client.waitFor((events) => events.some((e) => e.event === "ready"), 15_000);
      const ready = client.events.find((e) => e.event === "ready");
      if (ready?.event === "ready")
        observation.ready = { connections: ready.connections, failed: ready.failed };
      await sleep(plan.streamBeforeSec * 1000);
      observation.changeMs = wallMs();
      gateway.writeRoutes(DRAIN_WEIGHTS.shifted);
      observation.appliedMs = await waitForWeights(gateway, DRAIN_WEIGHTS.shifted);
      const drainSec = plan.drainAfterSeconds + plan.connections / plan.drainRate;
      if (scenario === "drain") {
        ctx.log(`  waiting for the drain (≈ ${drainSec.toFixed(0)} s)`);
        await client.waitFor(
          (events) => finsOfFirst(events) >= plan.connections,
          (drainSec * 1.5 + 10) * 1000,
        );
        await sleep(plan.streamAfterSec * 1000);
      } else {
        await client.waitFor(
          (events) => finsOfFirst(events) >= plan.raiseAfterCloses,
          (drainSec + 10) * 1000,
        );
        observation.raiseMs = wallMs();
        gateway.writeRoutes(DRAIN_WEIGHTS.raised);
        observation.raiseAppliedMs = await waitForWeights(gateway, DRAIN_WEIGHTS.raised);
        ctx.log(`  v1 raised after ${finsOfFirst(client.events)} closes; holding`);
        await sleep(plan.holdAfterRaiseSec * 1000);
        observation.v1DuringHold = routeGauges(await metricsText(gateway), "v1");
      }
    } finally {
      observation.events = await client.stop();
    }
    observation.v1After = await v1Settled(gateway);
  } finally {
    await gateway.stop();
  }
  const summary = observation.events.find((e) => e.event === "summary");
  if (summary?.event === "summary") observation.clientCpuSec = summary.cpuSec;
  // The echo reports a connection when it closes it: a moment after the client saw the FIN.
  const names = observation.events
    .filter((e): e is CloseEvent => e.event === "close" && e.prefix !== "")
    .map((c) => connectionName(c.id, c.gen));
  const deadline = wallMs() + 2000;
  while (wallMs() < deadline) {
    const reported = new Set(ctx.echoReports.map((r) => r.conn));
    if (names.every((name) => reported.has(name))) break;
    await sleep(50);
  }
  observation.echo = [...ctx.echoReports];
  if (ctx.logFile) observation.drainLog = parseDrainLog(await logOnceClosed(ctx.logFile));
  return observation;
}
