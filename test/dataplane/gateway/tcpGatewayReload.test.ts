import { afterEach, describe, expect, it } from "vitest";
import { type RouteFile, validateRouteFile } from "../../../contract/routeFile";
import { createGateway, DATA_PATHS, type TcpGateway } from "../../../dataplane/gateway/tcpGateway";
import {
  at,
  collect,
  connectTo,
  count,
  echoPair,
  exchange,
  HOST,
  prefixes,
  readBytes,
  sample,
  singleListener,
} from "../netHelpers";

const backends = echoPair();
let gateway: TcpGateway;

afterEach(async () => {
  await gateway.close(0);
});

/** The same listener (same name, same bound address) with other weights. */
function reweighted(v1: number, v2: number, port: number): RouteFile {
  return singleListener(backends.routes(v1, v2), { listen: at(port) });
}

describe.each(DATA_PATHS)("%s data path", (dataPath) => {
  describe("hot reload", () => {
    it("a long-lived connection streams through several reloads with no byte lost, while new connections follow the new weights", async () => {
      gateway = createGateway({ dataPath, routes: singleListener(backends.routes(100, 0)) });
      await gateway.listen();
      const port = gateway.address("app")?.port as number;

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
      gateway = createGateway({
        dataPath,
        routes: validateRouteFile({ listeners: [listener("a", `${HOST}:0`, 100, 0)] }, "test"),
      });
      await gateway.listen();
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

    it("a reload whose new listener cannot bind rejects with E_LISTEN, counted; the rest applies", async () => {
      gateway = createGateway({ dataPath, routes: singleListener(backends.routes(100, 0)) });
      await gateway.listen();
      const port = gateway.address("app")?.port as number;
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
      expect((await exchange(port, "x\n")).toString()).toBe("two x\n");
      expect(sample(await gateway.registry.metrics(), "tcp_gateway_reload_failures_total")).toBe(1);
      await other.close(0);
    });
  });
});
