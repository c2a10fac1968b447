import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { type RouteFile, validateRouteFile } from "../../../contract/routeFile";
import { handlesUnavailableReason } from "../../../dataplane/gateway/libuvHandles";
import {
  createGateway,
  DATA_PATHS,
  type DataPath,
  sweepPeriodMs,
  type TcpGateway,
} from "../../../dataplane/gateway/tcpGateway";
import {
  at,
  captureLogger,
  collect,
  connectTo,
  count,
  deadPort,
  echoPair,
  exchange,
  gatewaysPerTest,
  HOST,
  portOf,
  prefixes,
  readBytes,
  sample,
  singleListener,
  startBlackhole,
  startRawEcho,
} from "../netHelpers";

const backends = echoPair();
const startGatewayWith = gatewaysPerTest();

/** Start a gateway on `routes` (closed after the test). */
function startGateway(dataPath: DataPath, routes: RouteFile): Promise<TcpGateway> {
  return startGatewayWith({ routes, dataPath });
}

/** A backend server handling sockets with `onSocket`, and a gateway whose one route is it. */
async function gatewayToBackend(
  dataPath: DataPath,
  onSocket: (socket: Socket) => void,
): Promise<{ backend: Server; gateway: TcpGateway }> {
  const backend = createServer({ allowHalfOpen: true }, onSocket);
  backend.listen(0, HOST);
  await once(backend, "listening");
  const port = (backend.address() as AddressInfo).port;
  const gateway = await startGateway(
    dataPath,
    singleListener([{ name: "v1", weight: 1, endpoints: [at(port)] }]),
  );
  return { backend, gateway };
}

async function metrics(gateway: TcpGateway): Promise<string> {
  return gateway.registry.metrics();
}

describe.each(DATA_PATHS)("%s data path", (dataPath) => {
  describe("route weights", () => {
    it("smooth: 80/20 gives exactly 8 and 2 in every 10 connections, 80/20 of 100", async () => {
      const gateway = await startGateway(dataPath, singleListener(backends.routes(80, 20)));
      const answers = await prefixes(portOf(gateway), 100);
      expect(count(answers, "one")).toBe(80);
      expect(count(answers, "two")).toBe(20);
      for (let window = 0; window < 100; window += 10)
        expect(count(answers.slice(window, window + 10), "two")).toBe(2);
      const text = await metrics(gateway);
      expect(sample(text, 'tcp_gateway_connections_total{listener="app",route="v1"}')).toBe(80);
      expect(sample(text, 'tcp_gateway_connections_total{listener="app",route="v2"}')).toBe(20);
      expect(sample(text, 'tcp_gateway_route_weight{listener="app",route="v2"}')).toBe(20);
    });

    it("0/100 and 100/0 send nothing to the zero side", async () => {
      const allTwo = await startGateway(dataPath, singleListener(backends.routes(0, 100)));
      expect(count(await prefixes(portOf(allTwo), 20), "two")).toBe(20);
      const allOne = await startGateway(dataPath, singleListener(backends.routes(100, 0)));
      expect(count(await prefixes(portOf(allOne), 20), "one")).toBe(20);
    });
  });

  describe("proxying", () => {
    it("carries the client's half-close: a line then FIN still gets its reply", async () => {
      const gateway = await startGateway(dataPath, singleListener(backends.routes(100, 0)));
      const line = "Mon Nov 12 23:38:45 UTC 2018\n";
      expect((await exchange(portOf(gateway), line)).toString()).toBe(`one ${line}`);
    });

    it("carries the backend's half-close: the client can still send after the backend's FIN", async () => {
      const received: Buffer[] = [];
      let backendEnded: () => void = () => {};
      const backendDone = new Promise<void>((resolve) => {
        backendEnded = resolve;
      });
      const { backend, gateway } = await gatewayToBackend(dataPath, (socket) => {
        socket.on("data", (chunk: Buffer) => received.push(chunk));
        socket.on("end", () => {
          socket.destroy();
          backendEnded();
        });
        socket.end("bye\n");
      });
      const socket = await connectTo(portOf(gateway));
      socket.resume();
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      await once(socket, "end");
      expect(Buffer.concat(chunks).toString()).toBe("bye\n");
      const closed = once(socket, "close");
      socket.end("late\n");
      await closed;
      await backendDone;
      expect(Buffer.concat(received).toString()).toBe("late\n");
      backend.close();
    });

    it("moves 64 MiB each way intact (sha256), with backpressure", async () => {
      const raw = await startRawEcho();
      const gateway = await startGateway(
        dataPath,
        singleListener([{ name: "v1", weight: 1, endpoints: [at(raw.port)] }]),
      );
      const socket = await connectTo(portOf(gateway));
      const sent = createHash("sha256");
      const got = createHash("sha256");
      let received = 0;
      socket.on("data", (chunk: Buffer) => {
        got.update(chunk);
        received += chunk.length;
      });
      const closed = once(socket, "close");
      const block = randomBytes(1024 * 1024);
      for (let i = 0; i < 64; i++) {
        const chunk = Buffer.from(block);
        chunk.writeUInt32BE(i, 0);
        sent.update(chunk);
        if (!socket.write(chunk)) await once(socket, "drain");
      }
      socket.end();
      await closed;
      expect(received).toBe(64 * 1024 * 1024);
      expect(got.digest("hex")).toBe(sent.digest("hex"));
      const text = await metrics(gateway);
      const bytes = 'tcp_gateway_bytes_total{listener="app",route="v1",direction=';
      expect(sample(text, `${bytes}"to_backend"}`)).toBe(64 * 1024 * 1024);
      expect(sample(text, `${bytes}"to_client"}`)).toBe(64 * 1024 * 1024);
      raw.server.close();
    });

    it("delivers every queued byte to a slow reader after both sides' FINs", async () => {
      // The backend sends 8 MiB and its FIN at once; the client has already sent its FIN and
      // does not read for a while, so the gateway holds queued bytes while both FINs are in.
      const payload = randomBytes(8 * 1024 * 1024);
      const { backend, gateway } = await gatewayToBackend(dataPath, (socket) => {
        socket.on("error", () => socket.destroy());
        socket.resume();
        socket.end(payload);
      });
      const socket = await connectTo(portOf(gateway));
      socket.pause();
      socket.end();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const collected = collect(socket);
      socket.resume(); // paused explicitly: a 'data' listener alone does not resume it
      const { data, error } = await collected;
      expect(error).toBeUndefined();
      expect(data.length).toBe(payload.length);
      expect(data.equals(payload)).toBe(true);
      await expect.poll(() => gateway.activeConnections).toBe(0);
      backend.close();
    });

    it("a reset on either side closes the other side too", async () => {
      // The backend remembers its sockets and when each one closed.
      const accepted: Socket[] = [];
      const { backend, gateway } = await gatewayToBackend(dataPath, (socket) => {
        socket.on("error", () => {});
        accepted.push(socket);
        socket.pipe(socket);
      });

      // The client resets: the gateway closes its backend connection.
      const client = await connectTo(portOf(gateway));
      client.write("x\n");
      expect((await readBytes(client, 2)).toString()).toBe("x\n");
      const first = accepted[0] as Socket;
      const backendClosed = once(first, "close");
      client.resetAndDestroy();
      await backendClosed;
      await expect.poll(() => gateway.activeConnections).toBe(0);

      // The backend resets: the gateway closes the client.
      const other = await connectTo(portOf(gateway), false);
      other.write("y\n");
      expect((await readBytes(other, 2)).toString()).toBe("y\n");
      const ended = collect(other);
      (accepted[1] as Socket).resetAndDestroy();
      await ended;
      await expect.poll(() => gateway.activeConnections).toBe(0);
      backend.close();
    });

    it("counts resets of established connections (either side) and their lifetimes, per route", async () => {
      // v1: tcp-echo. v2: a backend that resets when the first bytes arrive. v3: nothing listens.
      const resetting = createServer((socket) => {
        socket.on("error", () => {});
        socket.once("data", () => socket.resetAndDestroy());
      });
      resetting.listen(0, HOST);
      await once(resetting, "listening");
      const dead = await deadPort();
      const routes = (v1: number, v2: number, v3: number) =>
        singleListener([
          { name: "v1", weight: v1, endpoints: [at(backends.one.port)] },
          { name: "v2", weight: v2, endpoints: [at((resetting.address() as AddressInfo).port)] },
          { name: "v3", weight: v3, endpoints: [at(dead)] },
        ]);
      const gateway = await startGateway(dataPath, routes(1, 0, 0));
      const port = portOf(gateway);
      const settled = () => expect.poll(() => gateway.activeConnections).toBe(0);

      // v1: a clean exchange, one held open for 320 ms, and one the client resets.
      expect((await exchange(port, "a\n")).toString()).toBe("one a\n");
      const held = await connectTo(port);
      held.write("b\n");
      expect((await readBytes(held, 6)).toString()).toBe("one b\n");
      await new Promise((resolve) => setTimeout(resolve, 320));
      const heldDone = collect(held);
      held.end();
      expect((await heldDone).error).toBeUndefined();
      const aborted = await connectTo(port);
      aborted.write("c\n");
      expect((await readBytes(aborted, 6)).toString()).toBe("one c\n");
      aborted.resetAndDestroy();
      await settled();

      // v2: the backend resets; the client is closed without a reply.
      await gateway.reload(routes(0, 1, 0));
      const victim = await connectTo(port, false);
      victim.write("d\n");
      expect((await collect(victim)).data.length).toBe(0);
      await settled();

      // v3: never established (every connect refused): neither a reset nor a lifetime.
      await gateway.reload(routes(0, 0, 1));
      expect((await collect(await connectTo(port, false))).data.length).toBe(0);
      await settled();

      const text = await metrics(gateway);
      const resets = (route: string) =>
        sample(text, `tcp_gateway_backend_resets_total{listener="app",route="${route}"}`);
      expect([resets("v1"), resets("v2"), resets("v3")]).toEqual([1, 1, 0]);
      const duration = (route: string, series: "sum" | "count") =>
        sample(
          text,
          `tcp_gateway_connection_duration_seconds_${series}{listener="app",route="${route}"}`,
        );
      const bucket = (route: string, le: string) =>
        sample(
          text,
          `tcp_gateway_connection_duration_seconds_bucket{listener="app",route="${route}",le="${le}"}`,
        );
      expect([duration("v1", "count"), duration("v2", "count"), duration("v3", "count")]).toEqual([
        3, 1, 0,
      ]);
      // The held connection lived more than 0.25 s; the other two (a few ms) are below it.
      expect(bucket("v1", "0.25")).toBeLessThanOrEqual(2);
      expect(bucket("v1", "+Inf")).toBe(3);
      expect(duration("v1", "sum")).toBeGreaterThanOrEqual(0.32);
      expect(bucket("v3", "+Inf")).toBe(0);
      resetting.close();
    });

    it("refuses connections past maxConnections with a reset, counted, whether or not the client sent", async () => {
      const gateway = await startGateway(
        dataPath,
        singleListener(backends.routes(100, 0), { maxConnections: 2 }),
      );
      const port = portOf(gateway);
      const first = await connectTo(port);
      const second = await connectTo(port);
      // Both are through to the backend before the third arrives.
      first.write("a\n");
      second.write("b\n");
      expect((await readBytes(first, 6)).toString()).toBe("one a\n");
      expect((await readBytes(second, 6)).toString()).toBe("one b\n");
      // A client that sends nothing and one that sends at once: the same answer, a reset.
      for (const payload of ["", "c\n"]) {
        const third = connect({ host: HOST, port, allowHalfOpen: true });
        if (payload) third.write(payload);
        const refused = await collect(third);
        expect(refused.data.length).toBe(0);
        expect(refused.error).toMatchObject({ code: "ECONNRESET" });
      }
      expect(
        sample(await metrics(gateway), 'tcp_gateway_refused_connections_total{listener="app"}'),
      ).toBe(2);
      // Below the limit again, connections are served.
      const firstDone = collect(first);
      first.end();
      await firstDone;
      await expect.poll(() => gateway.activeConnections).toBe(1);
      expect((await exchange(port, "c\n")).toString()).toBe("one c\n");
      second.destroy();
    });

    it("closes a connection idle in both directions after idleTimeoutSeconds", async () => {
      const gateway = await startGateway(
        dataPath,
        singleListener(backends.routes(100, 0), { idleTimeoutSeconds: 1 }),
      );
      const socket = await connectTo(portOf(gateway), false);
      socket.write("a\n");
      expect((await readBytes(socket, 6)).toString()).toBe("one a\n");
      const started = Date.now();
      await collect(socket);
      const idleFor = Date.now() - started;
      expect(idleFor).toBeGreaterThanOrEqual(900);
      expect(idleFor).toBeLessThan(5_000);
      expect(
        sample(await metrics(gateway), 'tcp_gateway_idle_timeouts_total{listener="app"}'),
      ).toBe(1);
    });
  });

  describe("failing endpoints", () => {
    it("retries a dead endpoint's connections on the next endpoint of the same route", async () => {
      const dead = await deadPort();
      const gateway = await startGateway(
        dataPath,
        singleListener([
          { name: "v1", weight: 1, endpoints: [at(dead), at(backends.one.port)] },
          { name: "v2", weight: 0, endpoints: [at(backends.two.port)] },
        ]),
      );
      const answers = await prefixes(portOf(gateway), 6);
      expect(answers).toEqual(["one", "one", "one", "one", "one", "one"]);
      const text = await metrics(gateway);
      // The dead endpoint is tried once, then skipped while it cools down.
      expect(sample(text, 'tcp_gateway_connect_failures_total{listener="app",route="v1"}')).toBe(1);
      expect(sample(text, 'tcp_gateway_backend_unavailable_total{listener="app",route="v1"}')).toBe(
        0,
      );
    });

    it("never falls over to another route: all endpoints dead means a clean close, counted", async () => {
      const dead = await deadPort();
      const gateway = await startGateway(
        dataPath,
        singleListener([
          { name: "v1", weight: 1, endpoints: [at(dead)] },
          { name: "v2", weight: 0, endpoints: [at(backends.two.port)] },
        ]),
      );
      const socket = await connectTo(portOf(gateway), false);
      const { data, error } = await collect(socket);
      expect(data.length).toBe(0);
      expect(error).toBeUndefined();
      const text = await metrics(gateway);
      expect(sample(text, 'tcp_gateway_connect_failures_total{listener="app",route="v1"}')).toBe(3);
      expect(sample(text, 'tcp_gateway_backend_unavailable_total{listener="app",route="v1"}')).toBe(
        1,
      );
      await expect.poll(() => gateway.activeConnections).toBe(0);
    });

    it("logs a dead route's failures rate-limited with counts, not 4 lines per client", async () => {
      const dead = await deadPort();
      const { logger, lines } = captureLogger();
      const gateway = await startGatewayWith({
        dataPath,
        logger,
        logIntervalMs: 600,
        routes: singleListener([{ name: "v1", weight: 1, endpoints: [at(dead)] }]),
      });
      for (let i = 0; i < 30; i++) {
        const socket = await connectTo(portOf(gateway), false);
        await collect(socket);
      }
      /** The lines of one kind, and how many events they stand for (a summary: `repeated`). */
      const kind = (prefix: string) => {
        const of = lines.filter((line) => line.msg.startsWith(prefix));
        return {
          lines: of.length,
          events: of.reduce((sum, line) => sum + Number(line.repeated ?? 1), 0),
        };
      };
      const connect = "backend connect failed";
      const unavailable = "no endpoint of the route accepted the connection; client closed";
      // Before: 30 clients x (3 connect failures + 1 unavailable) = 120 lines. Now the first of
      // each kind at once, then a summary with the count: every event accounted for.
      await expect.poll(() => kind(connect).events, { timeout: 5_000 }).toBe(90);
      await expect.poll(() => kind(unavailable).events, { timeout: 5_000 }).toBe(30);
      expect(kind(connect).lines).toBeLessThanOrEqual(4);
      expect(kind(unavailable).lines).toBeLessThanOrEqual(4);
      expect(lines).toContainEqual(
        expect.objectContaining({
          msg: expect.stringMatching(
            /^backend connect failed \(and \d+ more in the last 0\.6 s\)$/,
          ),
          listener: "app",
          route: "v1",
        }),
      );
    });

    it("gives up on a connect that does not complete within connectTimeoutMs", async () => {
      const blackhole = await startBlackhole();
      const gateway = await startGateway(
        dataPath,
        singleListener([{ name: "v1", weight: 1, endpoints: [at(blackhole.port)] }], {
          connectTimeoutMs: 100,
        }),
      );
      const socket = await connectTo(portOf(gateway), false);
      const { data } = await collect(socket);
      expect(data.length).toBe(0);
      const text = await metrics(gateway);
      expect(sample(text, 'tcp_gateway_connect_failures_total{listener="app",route="v1"}')).toBe(3);
      expect(sample(text, 'tcp_gateway_backend_unavailable_total{listener="app",route="v1"}')).toBe(
        1,
      );
      blackhole.close();
    });
  });

  describe("listen and close", () => {
    it("rejects with E_LISTEN naming the address, leaving nothing bound", async () => {
      const taken = await startGateway(dataPath, singleListener(backends.routes(1, 1)));
      const busy = at(portOf(taken));
      const gateway = createGateway({
        dataPath,
        routes: validateRouteFile(
          {
            listeners: [
              { name: "free", listen: `${HOST}:0`, routes: backends.routes(1, 1) },
              { name: "busy", listen: busy, routes: backends.routes(1, 1) },
            ],
          },
          "test",
        ),
      });
      await expect(gateway.listen()).rejects.toMatchObject({
        code: "E_LISTEN",
        message: expect.stringContaining(busy),
      });
      expect(gateway.address("free")).toBeUndefined();
      expect(gateway.ready).toBe(false);
    });

    it("close() stops accepting, lets open connections finish, then resolves", async () => {
      const gateway = createGateway({ dataPath, routes: singleListener(backends.routes(100, 0)) });
      await gateway.listen();
      const port = portOf(gateway);
      const socket = await connectTo(port);
      socket.write("before\n");
      expect((await readBytes(socket, 11)).toString()).toBe("one before\n");
      const closed = gateway.close(10_000);
      expect(gateway.ready).toBe(false);
      await expect(connectTo(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
      socket.write("during\n");
      expect((await readBytes(socket, 11)).toString()).toBe("one during\n");
      const done = collect(socket);
      socket.end();
      await done;
      await closed;
      expect(gateway.activeConnections).toBe(0);
    });

    it("close() destroys connections still open after the grace period", async () => {
      const gateway = createGateway({ dataPath, routes: singleListener(backends.routes(100, 0)) });
      await gateway.listen();
      const socket = await connectTo(portOf(gateway), false);
      socket.write("a\n");
      await readBytes(socket, 6);
      const done = collect(socket);
      await gateway.close(50);
      await done;
      expect(gateway.activeConnections).toBe(0);
    });
  });
});

describe("data path", () => {
  it("carries connections on libuv handles by default on this Node, on sockets on request", () => {
    const routes = singleListener(backends.routes(1, 1));
    expect(handlesUnavailableReason).toBeUndefined();
    expect(createGateway({ routes }).dataPath).toBe("handles");
    expect(createGateway({ routes, dataPath: "sockets" }).dataPath).toBe("sockets");
  });
});

describe("timeout sweep", () => {
  it("runs at a quarter of the shortest connect or idle timeout of any listener, within 10 ms - 1 s", () => {
    const listener = (name: string, connectTimeoutMs: number, idleTimeoutSeconds: number) => ({
      name,
      listen: `${HOST}:0`,
      connectTimeoutMs,
      idleTimeoutSeconds,
      routes: backends.routes(1, 1),
    });
    const period = (...listeners: ReturnType<typeof listener>[]) =>
      sweepPeriodMs(validateRouteFile({ listeners }, "test"));
    expect(period(listener("a", 3_000, 900))).toBe(750);
    expect(period(listener("a", 60_000, 900))).toBe(1_000);
    expect(period(listener("a", 60_000, 2))).toBe(500);
    expect(period(listener("a", 3_000, 900), listener("b", 100, 900))).toBe(25);
    expect(period(listener("a", 1, 900))).toBe(10);
  });
});

describe("file descriptors", () => {
  it("warns at start when the open-files limit cannot carry maxConnections (2 per connection)", async () => {
    const { logger, lines } = captureLogger();
    await startGatewayWith({
      logger,
      openFilesLimit: () => 1024,
      routes: singleListener(backends.routes(1, 1), { maxConnections: 10_000 }),
    });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "open-files limit too low for maxConnections",
        limit: 1024,
        needed: 20_065,
        maxConnections: "app=10000",
      }),
    );
    const quiet = captureLogger();
    await startGatewayWith({
      logger: quiet.logger,
      openFilesLimit: () => 1_048_576,
      routes: singleListener(backends.routes(1, 1)),
    });
    expect(quiet.lines.filter((line) => line.msg.startsWith("open-files"))).toEqual([]);
  });
});
