import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { type RouteFile, validateRouteFile } from "../../../contract/routeFile";
import { createGateway, DATA_PATHS } from "../../../dataplane/gateway/tcpGateway";
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
} from "../netHelpers";

const backends = echoPair();
const startGateway = gatewaysPerTest();

/** The same listener (same name, same bound address) with other weights. */
function reweighted(v1: number, v2: number, port: number): RouteFile {
  return singleListener(backends.routes(v1, v2), { listen: at(port) });
}

describe.each(DATA_PATHS)("%s data path", (dataPath) => {
  describe("hot reload", () => {
    it("a long-lived connection streams through several reloads with no byte lost, while new connections follow the new weights", async () => {
      const gateway = await startGateway({
        dataPath,
        routes: singleListener(backends.routes(100, 0)),
      });
      const port = portOf(gateway);

      // The long-lived connection lands on v1 (weight 100) and keeps a stream of numbered lines
      // in flight the whole time.
      const stream = await connectTo(port);
      const received = collect(stream);
      let sent = 0;
      let expected = "";
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const line = `line ${sent++} ${"z".repeat(200)}\n`;
          expected += `one ${line}`;
          if (!stream.write(line)) await new Promise((resolve) => stream.once("drain", resolve));
          if (sent % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();

      const plan: [number, number][] = [
        [0, 100],
        [80, 20],
        [50, 50],
        [0, 100],
      ];
      for (const [v1, v2] of plan) {
        await gateway.reload(reweighted(v1, v2, port));
        const answers = await prefixes(port, 10);
        expect([count(answers, "one"), count(answers, "two")]).toEqual([v1 / 10, v2 / 10]);
      }
      writing = false;
      await writer;
      stream.end();
      const { data, error } = await received;
      expect(error).toBeUndefined();
      expect(sent).toBeGreaterThan(100);
      // Every byte of every line came back, in order, from v1: the reloads never touched it.
      expect(data.length).toBe(Buffer.byteLength(expected));
      expect(data.toString() === expected).toBe(true);
      expect(gateway.address("app")?.port).toBe(port);
      const text = await gateway.registry.metrics();
      expect(sample(text, "tcp_gateway_reloads_total")).toBe(4);
      expect(sample(text, 'tcp_gateway_route_weight{listener="app",route="v1"}')).toBe(0);
      expect(sample(text, 'tcp_gateway_route_weight{listener="app",route="v2"}')).toBe(100);
    });

    it("adds, keeps and removes listeners to match the file; removed listeners' open connections keep flowing", async () => {
      const listener = (name: string, listen: string, v1: number, v2: number) => ({
        name,
        listen,
        routes: backends.routes(v1, v2),
      });
      const gateway = await startGateway({
        dataPath,
        routes: validateRouteFile({ listeners: [listener("a", `${HOST}:0`, 100, 0)] }, "test"),
      });
      const portA = gateway.address("a")?.port as number;
      const open = await connectTo(portA);
      open.write("before\n");
      expect((await readBytes(open, 11)).toString()).toBe("one before\n");

      await gateway.reload(
        validateRouteFile(
          { listeners: [listener("a", at(portA), 0, 100), listener("b", `${HOST}:0`, 100, 0)] },
          "test",
        ),
      );
      const portB = gateway.address("b")?.port as number;
      expect(gateway.address("a")?.port).toBe(portA);
      expect((await exchange(portA, "x\n")).toString()).toBe("two x\n");
      expect((await exchange(portB, "x\n")).toString()).toBe("one x\n");

      await gateway.reload(
        validateRouteFile({ listeners: [listener("b", at(portB), 0, 100)] }, "test"),
      );
      expect(gateway.address("a")).toBeUndefined();
      await expect(connectTo(portA)).rejects.toMatchObject({ code: "ECONNREFUSED" });
      expect((await exchange(portB, "x\n")).toString()).toBe("two x\n");
      // The connection accepted by the removed listener is untouched.
      open.write("after\n");
      expect((await readBytes(open, 10)).toString()).toBe("one after\n");
      const done = collect(open);
      open.end();
      await done;
    });

    it("a reload whose new listener cannot bind changes nothing: rejected with E_LISTEN, counted, no weight applied", async () => {
      const { logger, lines } = captureLogger();
      const gateway = await startGateway({
        dataPath,
        logger,
        routes: singleListener(backends.routes(100, 0)),
      });
      const port = portOf(gateway);
      const other = createGateway({
        dataPath,
        routes: singleListener(backends.routes(100, 0), {}, "other"),
      });
      await other.listen();
      const busy = at(other.address("other")?.port as number);
      const next = validateRouteFile(
        {
          listeners: [
            { name: "app", listen: at(port), routes: backends.routes(0, 100) },
            { name: "extra", listen: busy, routes: backends.routes(100, 0) },
          ],
        },
        "test",
      );
      await expect(gateway.reload(next)).rejects.toMatchObject({
        code: "E_LISTEN",
        message: expect.stringContaining(busy),
      });
      // All or nothing: app keeps its old weights (v1), and the log says so truthfully.
      expect(await prefixes(port, 4)).toEqual(["one", "one", "one", "one"]);
      const text = await gateway.registry.metrics();
      expect(sample(text, "tcp_gateway_reload_failures_total")).toBe(1);
      expect(sample(text, "tcp_gateway_reloads_total")).toBe(0);
      expect(sample(text, 'tcp_gateway_route_weight{listener="app",route="v1"}')).toBe(100);
      expect(sample(text, "tcp_gateway_ready")).toBe(1);
      expect(gateway.routes.listeners).toHaveLength(1);
      expect(lines.filter((line) => line.msg === "routes reloaded")).toEqual([]);
      expect(lines.at(-1)).toMatchObject({
        level: "error",
        msg: "route reload rejected; keeping the last good routes",
        code: "E_LISTEN",
      });
      await other.close(0);
    });

    it("a reload that moves a listener onto an address it cannot bind keeps it where it was, serving and ready", async () => {
      const gateway = await startGateway({
        dataPath,
        routes: singleListener(backends.routes(100, 0)),
      });
      const port = portOf(gateway);
      // The address taken: what the admin port is to a gateway whose file moves onto it.
      const taken = createServer();
      taken.listen(0, HOST);
      await once(taken, "listening");
      const busy = at((taken.address() as AddressInfo).port);
      await expect(
        gateway.reload(singleListener(backends.routes(0, 100), { listen: busy })),
      ).rejects.toMatchObject({ code: "E_LISTEN" });
      expect(gateway.address("app")?.port).toBe(port);
      expect((await exchange(port, "x\n")).toString()).toBe("one x\n");
      expect(gateway.ready).toBe(true);
      expect(sample(await gateway.registry.metrics(), "tcp_gateway_ready")).toBe(1);
      taken.close();
    });

    it("moves a listener to a new address (bound first), and renames one that keeps its address", async () => {
      const gateway = await startGateway({
        dataPath,
        routes: singleListener(backends.routes(100, 0)),
      });
      const first = portOf(gateway);
      const second = await deadPort();
      await gateway.reload(singleListener(backends.routes(100, 0), { listen: at(second) }));
      expect(gateway.address("app")?.port).toBe(second);
      await expect(connectTo(first)).rejects.toMatchObject({ code: "ECONNREFUSED" });
      expect((await exchange(second, "x\n")).toString()).toBe("one x\n");
      // Same address, new name: the address is handed over.
      await gateway.reload(
        singleListener(backends.routes(0, 100), { listen: at(second) }, "renamed"),
      );
      expect(gateway.address("app")).toBeUndefined();
      expect(gateway.address("renamed")?.port).toBe(second);
      expect((await exchange(second, "x\n")).toString()).toBe("two x\n");
      expect(gateway.ready).toBe(true);
    });

    it("recomputes the timeout sweep on every reload (a short connect timeout does not stay)", async () => {
      const gateway = await startGateway({
        dataPath,
        routes: singleListener(backends.routes(100, 0)),
      });
      const port = portOf(gateway);
      expect(gateway.sweepPeriodMs).toBe(750);
      await gateway.reload(
        singleListener(backends.routes(100, 0), { listen: at(port), connectTimeoutMs: 40 }),
      );
      expect(gateway.sweepPeriodMs).toBe(10);
      await gateway.reload(singleListener(backends.routes(100, 0), { listen: at(port) }));
      expect(gateway.sweepPeriodMs).toBe(750);
    });

    it("drops the series of a renamed route once its connections are gone", async () => {
      const gateway = await startGateway({
        dataPath,
        routes: singleListener(backends.routes(100, 0)),
      });
      const port = portOf(gateway);
      const open = await connectTo(port);
      open.write("a\n");
      await readBytes(open, 6);
      const renamed = [
        { name: "blue", weight: 1, endpoints: [at(backends.one.port)] },
        { name: "green", weight: 1, endpoints: [at(backends.two.port)] },
      ];
      await gateway.reload(singleListener(renamed, { listen: at(port) }));
      await prefixes(port, 2);
      let text = await gateway.registry.metrics();
      // v1 still has an open connection: its series stay until it closes.
      expect(sample(text, 'tcp_gateway_route_open_connections{listener="app",route="v1"}')).toBe(1);
      expect(text).not.toContain('route="v2"');
      expect(sample(text, 'tcp_gateway_connections_total{listener="app",route="blue"}')).toBe(1);
      const done = collect(open);
      open.end();
      await done;
      await expect.poll(() => gateway.activeConnections).toBe(0);
      text = await gateway.registry.metrics();
      expect(text).not.toContain('route="v1"');
      expect(sample(text, 'tcp_gateway_route_weight{listener="app",route="green"}')).toBe(1);
    });

    it("warns when a listener's weights do not sum to 100: they are relative", async () => {
      const { logger, lines } = captureLogger();
      const gateway = await startGateway({
        dataPath,
        logger,
        routes: singleListener(backends.routes(80, 10)),
      });
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: "warn",
          msg: "route weights do not sum to 100; they are relative",
          listener: "app",
          total: 90,
          shares: "v1=88.9%,v2=11.1%",
        }),
      );
      const relative = () => lines.filter((line) => line.msg.startsWith("route weights"));
      expect(relative()).toHaveLength(1);
      await gateway.reload(
        singleListener(backends.routes(80, 20), {
          listen: at(portOf(gateway)),
        }),
      );
      expect(relative()).toHaveLength(1);
    });
  });
});
