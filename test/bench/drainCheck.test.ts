import { describe, expect, it } from "vitest";
import {
  type ClientEvent,
  type CloseEvent,
  closeRateLimit,
  connectionName,
  DRAIN_PLAN,
  type DrainObservation,
  drainFigures,
  drainFindings,
  drainProblems,
  type EchoReport,
  maxPerWindow,
  parseClientEvent,
  parseDrainLog,
  parseEchoReport,
  summarizeDrain,
} from "../../bench/drainCheck";
import { metricSamples, routeGauges } from "../../bench/gatewayMetrics";
import { gatewayRoutes } from "../../bench/peers";
import { validateRouteFile } from "../../contract/routeFile";

describe("maxPerWindow", () => {
  it("counts the most events in any half-open 1 s window", () => {
    expect(maxPerWindow([0, 100, 999, 1000, 1999])).toEqual({ count: 3, startMs: 0 });
    expect(maxPerWindow([5000, 0, 4000, 4500, 4999])).toEqual({ count: 3, startMs: 4000 });
    expect(maxPerWindow([5000, 0, 4000, 4500, 4999, 4999.9]).count).toBe(4);
    expect(maxPerWindow([])).toEqual({ count: 0, startMs: undefined });
  });

  it("gives exactly the rate for evenly spaced events", () => {
    const every20ms = Array.from({ length: 300 }, (_, i) => 10_000 + 20 * i);
    expect(maxPerWindow(every20ms).count).toBe(50);
  });
});

describe("closeRateLimit", () => {
  it("is drainRate plus 10 %, at least 2", () => {
    expect(closeRateLimit(50)).toBe(55);
    expect(closeRateLimit(10)).toBe(12);
    expect(closeRateLimit(1000)).toBe(1100);
  });
});

describe("parsers", () => {
  it("reads the drain client's lines and ignores anything else", () => {
    expect(parseClientEvent('{"event":"ready","connections":300,"failed":0,"t":1.5}')).toEqual({
      event: "ready",
      connections: 300,
      failed: 0,
      t: 1.5,
    });
    expect(parseClientEvent('{"event":"fin","id":3,"gen":0,"prefix":"one","t":2}')).toEqual({
      event: "fin",
      id: 3,
      gen: 0,
      prefix: "one",
      t: 2,
    });
    expect(parseClientEvent('{"phase":"bulk"}')).toBeUndefined();
    expect(parseClientEvent("drainclient: bind: Cannot assign")).toBeUndefined();
    expect(parseClientEvent('{"event":"clo')).toBeUndefined();
  });

  it("reads the echo's per-connection report", () => {
    expect(
      parseEchoReport(
        '{"conn":"c00001.0","in":29,"answered":22,"partial":7,"end":"fin","t":1795790863583.223}',
        "one",
      ),
    ).toEqual({
      backend: "one",
      conn: "c00001.0",
      in: 29,
      answered: 22,
      partial: 7,
      end: "fin",
      t: 1795790863583.223,
    });
    expect(parseEchoReport('{"listening":"127.0.1.1:9001"}', "one")).toBeUndefined();
  });

  it("names a connection as its lines do", () => {
    expect(connectionName(17, 0)).toBe("c00017.0");
    expect(connectionName(123456, 2)).toBe("c123456.2");
  });

  it("reads the drain lines of the gateway's log", () => {
    const log = [
      '{"time":"2026-11-27T14:52:10.000Z","level":"info","msg":"routes reloaded"}',
      '{"time":"2026-11-27T14:52:12.065Z","level":"info","name":"tcp-gateway","msg":"drain started","listener":"bench","route":"v1","open":100,"ratePerSecond":50,"weightZeroForSeconds":2}',
      "not json",
      '{"time":"2026-11-27T14:52:14.100Z","level":"info","msg":"drain ended","listener":"bench","route":"v1","reason":"weight raised above 0","drained":43,"stillClosing":0}',
    ].join("\n");
    expect(parseDrainLog(log)).toEqual([
      {
        msg: "drain started",
        timeMs: Date.parse("2026-11-27T14:52:12.065Z"),
        route: "v1",
        open: 100,
      },
      {
        msg: "drain ended",
        timeMs: Date.parse("2026-11-27T14:52:14.100Z"),
        route: "v1",
        reason: "weight raised above 0",
        drained: 43,
      },
    ]);
  });

  it("reads a route's drain gauges from /metrics", () => {
    const text = [
      "# HELP tcp_gateway_route_open_connections Open connections",
      'tcp_gateway_route_open_connections{listener="bench",route="v1"} 57',
      'tcp_gateway_route_open_connections{listener="bench",route="v2"} 43',
      'tcp_gateway_route_draining_connections{listener="bench",route="v1"} 0',
      'tcp_gateway_drained_connections_total{listener="bench",route="v1"} 43',
      'tcp_gateway_backend_resets_total{listener="bench",route="v1"} 0',
      "tcp_gateway_reloads_total 2",
    ].join("\n");
    expect(metricSamples(text, "reloads_total")).toEqual([{ labels: {}, value: 2 }]);
    expect(routeGauges(text, "v1")).toEqual({ open: 57, draining: 0, drained: 43, resets: 0 });
    expect(routeGauges(text, "v3")).toEqual({
      open: undefined,
      draining: undefined,
      drained: undefined,
      resets: undefined,
    });
  });
});

describe("the route file of the drain and sticky checks", () => {
  it("carries balance and the drain fields, and the gateway's schema accepts it", () => {
    const backends = { hosts: ["127.0.1.1"], one: { port: 9001 }, two: { port: 9002 } };
    const routes = validateRouteFile(
      gatewayRoutes(31400, backends, { one: 100, two: 0 }, 20_000, {
        balance: "smooth",
        drainAfterSeconds: 2,
        drainRate: 50,
      }),
      "bench",
    );
    const listener = routes.listeners[0];
    expect([listener?.balance, listener?.drainAfterSeconds, listener?.drainRate]).toEqual([
      "smooth",
      2,
      50,
    ]);
    const sticky = validateRouteFile(
      gatewayRoutes(31400, backends, { one: 80, two: 20 }, 20_000, { balance: "sticky" }),
      "bench",
    );
    expect(sticky.listeners[0]?.balance).toBe("sticky");
    expect(sticky.listeners[0]?.drainAfterSeconds).toBeUndefined();
  });
});

const CHANGE = 1_000_000;

function drainedClose(id: number, finMs: number, extra: Partial<CloseEvent> = {}): CloseEvent {
  return {
    event: "close",
    id,
    gen: 0,
    prefix: "one",
    kind: "drained",
    detail: "",
    openMs: CHANGE - 2000,
    firstReplyMs: CHANGE - 1999,
    finMs,
    closeMs: finMs + 300,
    sentBytes: 10_240,
    verifiedBytes: 10_240,
    sentLines: 10,
    echoedLines: 10,
    unechoedLines: 0,
    partialLineBytes: 0,
    oldestUnechoedAgeMs: 0,
    afterFin: "clean",
    inFlightSentMs: [],
    ...extra,
  };
}

function echoOf(c: CloseEvent, extra: Partial<EchoReport> = {}): EchoReport {
  return {
    backend: "one",
    conn: connectionName(c.id, c.gen),
    in: c.verifiedBytes,
    answered: c.verifiedBytes,
    partial: 0,
    end: "fin",
    t: c.finMs - 0.5,
    ...extra,
  };
}

function reconnect(id: number, t: number, prefix: "one" | "two" = "two"): ClientEvent[] {
  return [
    { event: "open", id, gen: 1, prefix, t },
    {
      ...drainedClose(id, 0),
      gen: 1,
      prefix,
      kind: "end",
      finMs: 0,
      afterFin: "-",
      sentBytes: 2048,
      verifiedBytes: 2048,
    },
  ];
}

function observation(
  closes: CloseEvent[],
  extra: Partial<DrainObservation> = {},
): DrainObservation {
  const plan = { ...DRAIN_PLAN, connections: closes.length };
  return {
    scenario: "drain",
    plan,
    changeMs: CHANGE,
    appliedMs: CHANGE + 60,
    events: [
      ...closes,
      ...closes.flatMap((c) => reconnect(c.id, c.finMs + 1)),
      {
        event: "summary",
        opened: 6,
        closed: 6,
        problems: 0,
        sentBytes: 0,
        verifiedBytes: 0,
        cpuSec: 0.1,
        t: 0,
      },
    ],
    echoReported: true,
    echo: closes.map((c) => echoOf(c)),
    drainLog: [{ msg: "drain started", timeMs: CHANGE + 2060, route: "v1", open: 3 }],
    v1After: { open: 0, draining: 0, drained: 3, resets: 0 },
    ...extra,
  };
}

describe("summarizeDrain", () => {
  // one close every 20 ms from +2,062 ms: 50 per second
  const closes = [0, 1, 2].map((i) => drainedClose(i, CHANGE + 2062 + 20 * i));

  it("times the drain from the route file change and rates its closes", () => {
    const s = summarizeDrain(observation(closes));
    expect(s).toMatchObject({
      onV1: 3,
      reloadInForceMs: 60,
      drainStartedMs: 2060,
      firstCloseMs: 2062,
      lastCloseMs: 2102,
      closeSpanSec: 0.04,
      meanRate: 50,
      maxRate1s: 3,
      rateLimit: 55,
      drained: 3,
      clean: 3,
      failed: [],
      reconnects: { opened: 3, onV2: 3, onV1: 0, intactAtEnd: 3 },
    });
    expect(s.bytes).toMatchObject({ sent: 30_720, echoed: 30_720, lost: 0, inFlightBytes: 0 });
    expect(drainProblems(s)).toEqual([]);
    expect(drainFindings(s)).toEqual([]);
    expect(drainFigures(s, DRAIN_PLAN).map((f) => f.figure)).toContain(
      "closes in any 1 s window, most",
    );
  });

  it("splits bytes in flight at the FIN into those that reached v1 and those dropped before", () => {
    // a line and a half written, the FIN came 1.5 ms after the first started; v1 got 300 B of it
    const inFlight = drainedClose(1, CHANGE + 2082, {
      sentBytes: 10_240 + 1024 + 512,
      unechoedLines: 1,
      partialLineBytes: 512,
      oldestUnechoedAgeMs: 1.5,
      inFlightSentMs: [CHANGE + 2080.5, CHANGE + 2081.5],
    });
    const o = observation([closes[0] as CloseEvent, inFlight, closes[2] as CloseEvent]);
    o.echo[1] = echoOf(inFlight, { in: 10_240 + 300, partial: 300, t: CHANGE + 2081 });
    const s = summarizeDrain(o);
    expect(s.bytes).toMatchObject({
      inFlightLines: 1,
      inFlightBytes: 1536,
      inFlightPartialBytes: 512,
      connectionsWithInFlight: 1,
      maxInFlightAgeMs: 1.5,
      lost: 0,
      backendPartial: 300,
      droppedAtGateway: 1236,
      inFlightBeforeBackendFin: 1,
      maxLeadBeforeBackendFinMs: 0.5,
    });
    expect(drainProblems(s)).toEqual([]);
    expect(drainFigures(s, DRAIN_PLAN)).toContainEqual({
      figure: "never answered: written before the FIN reached the client",
      measured: "1,536 B in 1 streams (1 lines + 512 B being written)",
      expected: "0 wanted; dropped by design",
    });
    expect(drainFindings(s)).toEqual([
      "drain: 1,536 bytes in 1/3 drained streams were written before the FIN reached the client " +
        "and never answered (written at most 1.5 ms before it); 1 of those lines were written " +
        "before v1 read the gateway's FIN (up to 0.5 ms before)",
    ]);
  });

  it("fails on a reset, lost bytes, a close burst, a reconnect on v1 and a connection left open", () => {
    const burst = [0, 1, 2].map((i) =>
      drainedClose(
        i,
        CHANGE + 2062 + i,
        i === 1 ? { afterFin: "reset: Connection reset by peer" } : {},
      ),
    );
    const o = observation(burst, {
      plan: { ...DRAIN_PLAN, connections: 3, drainRate: 0.5 },
      v1After: { open: 1, draining: 1, drained: 3, resets: 0 },
    });
    o.echo[2] = echoOf(burst[2] as CloseEvent, { answered: 10_240 + 1024, in: 10_240 + 1024 });
    o.events = o.events.map((e) =>
      e.event === "open" && e.id === 0 ? { ...e, prefix: "one" as const } : e,
    );
    expect(drainProblems(summarizeDrain(o))).toEqual([
      "drain: 1/3 drain closes not clean (reset)",
      "drain: 3 closes in one 1 s window (limit 2.5)",
      "drain: 1024 bytes answered by v1 but not back at the client",
      "drain: the gateway still counts 1 open v1 connections after every client closed",
      "drain: 1 reconnects landed on v1 (weight 0)",
      "drain: 2/3 reconnects answered by v2",
    ]);
  });
});

describe("summarizeDrain, the drain stopped by a raise", () => {
  it("counts closes around the raise and checks the rest stayed open and intact", () => {
    const closes = [0, 1, 2, 3].map((i) => drainedClose(i, CHANGE + 2062 + 20 * i));
    const stayed = [4, 5].map((id) => ({
      ...drainedClose(id, 0),
      kind: "end" as const,
      afterFin: "-",
    }));
    const raiseMs = CHANGE + 2115; // after 3 closes; in force at +2,150: one more close between
    const s = summarizeDrain({
      ...observation([...closes, ...stayed]),
      scenario: "raise",
      events: [...closes, ...stayed],
      raiseMs,
      raiseAppliedMs: raiseMs + 35,
      drainLog: [
        { msg: "drain started", timeMs: CHANGE + 2060, route: "v1", open: 6 },
        { msg: "drain ended", timeMs: raiseMs + 30, route: "v1", reason: "weight raised above 0" },
      ],
      v1DuringHold: { open: 2, draining: 0 },
    });
    expect(s.raise).toEqual({
      closesBeforeRaise: 3,
      closesAfterRaise: 1,
      closesAfterInForce: 0,
      drainEndedMs: 30,
      drainEndedReason: "weight raised above 0",
      openWhenInForce: 2,
      intactAtEnd: 2,
      v1OpenDuringHold: 2,
    });
    expect(drainProblems(s)).toEqual([]);

    const late = summarizeDrain({
      ...observation([...closes, ...stayed]),
      scenario: "raise",
      events: [...closes, { ...drainedClose(4, raiseMs + 500) }, stayed[1] as CloseEvent],
      raiseMs,
      raiseAppliedMs: raiseMs + 35,
      v1DuringHold: { open: 1, draining: 0 },
    });
    expect(drainProblems(late)).toEqual([
      "drain stopped by a raise: 1 closes after the raise was in force",
      "drain stopped by a raise: 1/2 connections open after the raise stayed intact",
    ]);
  });
});
