import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import type { RouteFileInput } from "../../../contract/routeFile";
import { DATA_PATHS, type GatewayOptions } from "../../../dataplane/gateway/tcpGateway";
import {
  at,
  captureLogger,
  collect,
  connectTo,
  echoPair,
  exchange,
  gatewaysPerTest,
  HOST,
  portOf,
  readBytes,
  sample,
  singleListener,
} from "../netHelpers";

const backends = echoPair();
const startGateway = gatewaysPerTest();

type ListenerInput = Partial<RouteFileInput["listeners"][number]>;

/** An open connection answered by v1, watched for how it ends. */
async function openOnV1(port: number) {
  const socket = await connectTo(port, false);
  socket.write("hi\n");
  expect((await readBytes(socket, 7)).toString()).toBe("one hi\n");
  socket.resume();
  const ended = new Promise<{ at: number; error?: Error }>((resolve) => {
    let error: Error | undefined;
    socket.on("error", (e) => {
      error = e;
    });
    socket.on("close", () => resolve({ at: Date.now(), error }));
  });
  return { socket, ended };
}

/**
 * A gateway whose listener `app` (with `options`) sends everything to v1, and `count` connections
 * open on v1; `reweigh` reloads the same listener with other weights.
 */
async function openOnV1Behind(
  gateway: Omit<GatewayOptions, "routes">,
  options: ListenerInput,
  count: number,
) {
  const started = await startGateway({
    ...gateway,
    routes: singleListener(backends.routes(100, 0), options),
  });
  const port = portOf(started);
  const open = [];
  for (let i = 0; i < count; i++) open.push(await openOnV1(port));
  const reweigh = (v1: number, v2: number) =>
    started.reload(singleListener(backends.routes(v1, v2), { ...options, listen: at(port) }));
  return { gateway: started, port, open, reweigh };
}

// When and how fast a drain closes is the gateway's (routeDrain.ts), the same for both data
// paths; how one connection closes is each data path's, tested on both below.
describe("drain schedule (handles data path)", () => {
  const dataPath = "handles";

  it("drains a route at weight 0: after drainAfterSeconds, oldest first, at most drainRate per second, each a clean FIN", async () => {
    const { logger, lines } = captureLogger();
    const { gateway, port, open, reweigh } = await openOnV1Behind(
      { dataPath, logger },
      { drainAfterSeconds: 1, drainRate: 10 },
      6,
    );

    const shifted = Date.now();
    await reweigh(0, 100);
    // New connections follow the weights at once; the open ones stay until the drain.
    expect((await exchange(port, "new\n")).toString()).toBe("two new\n");
    const text = await gateway.registry.metrics();
    expect(sample(text, 'tcp_gateway_route_open_connections{listener="app",route="v1"}')).toBe(6);

    const ends = await Promise.all(open.map((connection) => connection.ended));
    for (const end of ends) expect(end.error).toBeUndefined();
    const times = ends.map((end) => end.at);
    // Not before drainAfterSeconds; oldest first; spread out (6 at 10/s: ~0.5 s, jittered).
    expect(Math.min(...times) - shifted).toBeGreaterThanOrEqual(900);
    // Oldest first: a tick closes at most two (a late tick's tokens), so each connection ends no
    // later than the one opened two after it.
    for (let i = 0; i + 2 < times.length; i++)
      expect(times[i] as number).toBeLessThanOrEqual(times[i + 2] as number);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...times) - shifted).toBeLessThan(10_000);

    await expect.poll(() => gateway.activeConnections).toBe(0);
    const after = await gateway.registry.metrics();
    expect(sample(after, 'tcp_gateway_drained_connections_total{listener="app",route="v1"}')).toBe(
      6,
    );
    expect(sample(after, 'tcp_gateway_route_open_connections{listener="app",route="v1"}')).toBe(0);
    expect(sample(after, 'tcp_gateway_route_draining_connections{listener="app",route="v1"}')).toBe(
      0,
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: "drain started", route: "v1", open: 6, ratePerSecond: 10 }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: "drain ended", route: "v1", drained: 6 }),
    );
  });

  it("a weight raised above 0 stops the drain; open connections that were not closed stay", async () => {
    const { logger, lines } = captureLogger();
    const { open, reweigh } = await openOnV1Behind(
      { dataPath, logger },
      { drainAfterSeconds: 0, drainRate: 2 },
      6,
    );
    await reweigh(0, 100);
    await open[0]?.ended;
    await reweigh(50, 50);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: "drain ended", reason: "weight raised above 0" }),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    // At 2/s, at most a couple were closed before the weight came back; the rest still talk.
    const stillOpen = open.filter((connection) => !connection.socket.destroyed);
    expect(stillOpen.length).toBeGreaterThanOrEqual(3);
    const last = stillOpen.at(-1)?.socket as Socket;
    last.pause();
    last.write("still\n");
    expect((await readBytes(last, 10)).toString()).toBe("one still\n");
    for (const connection of open) connection.socket.destroy();
  });

  it("without drainAfterSeconds a weight-0 route's connections are never closed", async () => {
    const { open, reweigh } = await openOnV1Behind({ dataPath }, {}, 1);
    const connection = open[0] as (typeof open)[number];
    await reweigh(0, 100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connection.socket.destroyed).toBe(false);
    connection.socket.pause();
    connection.socket.write("later\n");
    expect((await readBytes(connection.socket, 10)).toString()).toBe("one later\n");
    connection.socket.destroy();
  });
});

describe.each(DATA_PATHS)("%s data path", (dataPath) => {
  /** Routes of weights (v1, v2) with v1 served by `v1` and v2 by the shared echo server. */
  const routesWithV1 = (v1: ReturnType<typeof at>) => (one: number, two: number) => [
    { name: "v1", weight: one, endpoints: [v1] },
    { name: "v2", weight: two, endpoints: [at(backends.two.port)] },
  ];

  /**
   * A gateway sending everything to v1 (drained at once when v1 goes to 0) and one client on v1
   * (half-open allowed, paused); `drain()` sets v1 to 0.
   */
  async function clientOnV1(routes = backends.routes) {
    const listen = { drainAfterSeconds: 0, drainRate: 1000 };
    const gateway = await startGateway({
      dataPath,
      routes: singleListener(routes(100, 0), listen),
    });
    const port = portOf(gateway);
    const client = await connectTo(port);
    client.write("hi\n");
    expect((await readBytes(client, 7)).toString()).toBe("one hi\n");
    const drain = () =>
      gateway.reload(singleListener(routes(0, 100), { ...listen, listen: at(port) }));
    return { gateway, client, drain };
  }

  it("a drained client that keeps writing after the gateway's FIN gets no reset: its bytes are dropped until its own FIN", async () => {
    const { gateway, client, drain } = await clientOnV1();
    const result = collect(client);
    client.resume();
    const gatewayFin = once(client, "end");
    await drain();
    await gatewayFin;
    // The backend has ended both ways by now; the client goes on writing for a while.
    for (let i = 0; i < 20; i++) {
      client.write("late\n");
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    client.end("last\n");
    const { data, error } = await result;
    expect(error).toBeUndefined();
    expect(data.toString()).toBe("");
    await expect.poll(() => gateway.activeConnections).toBe(0);
    const text = await gateway.registry.metrics();
    expect(sample(text, 'tcp_gateway_backend_resets_total{listener="app",route="v1"}')).toBe(0);
  });

  it("a drained connection closes as soon as both FINs are in, the client's first", async () => {
    // v1 answers lines and sends its FIN only when told (after the client's FIN).
    let backendGotFin: () => void = () => {};
    const gotFin = new Promise<void>((resolve) => (backendGotFin = resolve));
    let backendEnd: () => void = () => {};
    const backend = createServer({ allowHalfOpen: true }, (socket: Socket) => {
      socket.on("error", () => socket.destroy());
      socket.on("data", (chunk: Buffer) => socket.write(`one ${chunk}`));
      socket.on("end", () => {
        backendEnd = () => socket.end();
        backendGotFin();
      });
    });
    backend.listen(0, HOST);
    await once(backend, "listening");
    const routes = routesWithV1(at((backend.address() as AddressInfo).port));
    const { gateway, client, drain } = await clientOnV1(routes);
    const result = collect(client);
    client.resume();
    await drain();
    await gotFin;
    client.end();
    await once(client, "finish");
    // Two turns of the event loop: the gateway (this process) reads the client's FIN in between.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    backendEnd();
    const { data, error } = await result;
    expect(error).toBeUndefined();
    expect(data.toString()).toBe("");
    await expect.poll(() => gateway.activeConnections).toBe(0);
    const text = await gateway.registry.metrics();
    expect(sample(text, 'tcp_gateway_route_open_connections{listener="app",route="v1"}')).toBe(0);
    expect(sample(text, 'tcp_gateway_route_draining_connections{listener="app",route="v1"}')).toBe(
      0,
    );
    backend.close();
  });

  it("a drain forwards what the gateway's socket already holds when the drain's timer fires", async () => {
    const { client, drain } = await clientOnV1();
    client.on("end", () => client.end());
    const result = collect(client);
    client.resume();
    await drain(); // drainAfterSeconds 0: the drain's timer is due at the next timers phase
    // On loopback the line is in the gateway's socket when write() returns.
    client.write("queued\n");
    // Hold this process (and its gateway) until the timer is due: Node then runs it before it
    // polls the socket, as after a GC pause or on a busy core.
    const until = Date.now() + 5;
    while (Date.now() < until);
    const { data, error } = await result;
    expect(error).toBeUndefined();
    expect(data.toString()).toBe("one queued\n");
  });

  it("a drained connection ends with a clean FIN both ways; new connections go to the routes with weight", async () => {
    const { gateway, port, open, reweigh } = await openOnV1Behind(
      { dataPath },
      { drainAfterSeconds: 0, drainRate: 1000 },
      3,
    );
    await reweigh(0, 100);
    for (const end of await Promise.all(open.map((connection) => connection.ended)))
      expect(end.error).toBeUndefined();
    expect((await exchange(port, "new\n")).toString()).toBe("two new\n");
    await expect.poll(() => gateway.activeConnections).toBe(0);
    expect(
      sample(
        await gateway.registry.metrics(),
        'tcp_gateway_drained_connections_total{listener="app",route="v1"}',
      ),
    ).toBe(3);
  });

  it("a drain delivers every byte the backend already sent before the FIN, to a client that is slow to read", async () => {
    const payload = randomBytes(8 * 1024 * 1024);
    let backendSawEnd = false;
    const backend = createServer({ allowHalfOpen: true }, (socket: Socket) => {
      socket.on("error", () => socket.destroy());
      socket.once("data", () => socket.write(payload));
      socket.on("end", () => {
        backendSawEnd = true;
        socket.end();
      });
      socket.resume();
    });
    backend.listen(0, HOST);
    await once(backend, "listening");
    const backendPort = (backend.address() as AddressInfo).port;
    const routes = (weight: number, port = 0) =>
      singleListener(
        [
          { name: "v1", weight, endpoints: [at(backendPort)] },
          { name: "v2", weight: 100 - weight, endpoints: [at(backends.two.port)] },
        ],
        { drainAfterSeconds: 0, listen: at(port) },
      );
    const gateway = await startGateway({ dataPath, routes: routes(100) });
    const port = portOf(gateway);
    const client = await connectTo(port, false);
    client.pause();
    client.write("go\n");
    // The backend's first bytes reach the client: the rest of its 8 MiB is on the way, in
    // the kernel buffers and the gateway's queue.
    await once(client, "readable");
    await gateway.reload(routes(0, port));
    await expect.poll(() => backendSawEnd).toBe(true);
    const chunks: Buffer[] = [];
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    let error: Error | undefined;
    client.on("error", (e) => {
      error = e;
    });
    const closed = once(client, "close");
    client.resume();
    await closed;
    expect(error).toBeUndefined();
    const received = Buffer.concat(chunks);
    expect(received.length).toBe(payload.length);
    expect(received.equals(payload)).toBe(true);
    backend.close();
  });

  it("a drain with a backend slow to read cuts nothing it forwarded: the backend gets an unbroken prefix of the client's stream, then a FIN", async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const received: Buffer[] = [];
    let held: Socket | undefined;
    const backend = createServer({ allowHalfOpen: true }, (socket: Socket) => {
      held = socket;
      socket.on("error", () => socket.destroy());
      socket.pause();
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.on("end", () => socket.end());
    });
    backend.listen(0, HOST);
    await once(backend, "listening");
    const listen = { drainAfterSeconds: 0, drainRate: 1000 };
    const routes = routesWithV1(at((backend.address() as AddressInfo).port));
    const gateway = await startGateway({
      dataPath,
      routes: singleListener(routes(100, 0), listen),
    });
    const port = portOf(gateway);
    const client = await connectTo(port);
    client.on("end", () => client.end());
    const result = collect(client);
    // More than the kernel buffers on the way hold while v1 does not read: once the client has
    // handed it all to its kernel, the gateway has a write to v1 pending and is not reading.
    if (!client.write(payload)) await once(client, "drain");
    await gateway.reload(singleListener(routes(0, 100), { ...listen, listen: at(port) }));
    held?.resume();
    const { error } = await result;
    expect(error).toBeUndefined();
    // What the client's own kernel still held when the gateway's FIN went out is not the
    // gateway's to forward (as a write after the FIN); everything before it arrives, in order.
    const all = Buffer.concat(received);
    expect(all.length).toBeGreaterThan(0);
    expect(all.equals(payload.subarray(0, all.length))).toBe(true);
    backend.close();
  });
});
