import { once } from "node:events";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { type AdminServerOptions, createAdminServer } from "../../../dataplane/gateway/adminServer";

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          type: String(response.headers["content-type"]),
          body: Buffer.concat(chunks).toString(),
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

/** A registry whose one counter, `renders_total`, counts the registry's renderings. */
function countingRegistry(): { registry: Registry; renders: () => number } {
  const registry = new Registry();
  let renders = 0;
  new Counter({
    name: "renders_total",
    help: "test",
    registers: [registry],
    collect() {
      renders++;
      this.reset();
      this.inc(renders);
    },
  });
  return { registry, renders: () => renders };
}

/** Run `check` against an admin server with `options`, listening on an OS port; closed after. */
async function withAdmin(
  options: Omit<AdminServerOptions, "address">,
  check: (port: number) => Promise<void>,
): Promise<void> {
  const admin = createAdminServer({ address: "127.0.0.1:0", ...options });
  const { port } = await admin.listen();
  try {
    await check(port);
  } finally {
    await admin.close();
  }
}

describe("admin server", () => {
  it("serves /healthz, /readyz (following readiness), /metrics from its registry, 404 otherwise", async () => {
    const registry = new Registry();
    new Counter({ name: "probe_total", help: "test", registers: [registry] }).inc(3);
    let ready = false;
    await withAdmin({ registry, isReady: () => ready }, async (port) => {
      expect(await get(port, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
      expect(await get(port, "/readyz")).toMatchObject({ status: 503, body: "not ready\n" });
      ready = true;
      expect(await get(port, "/readyz")).toMatchObject({ status: 200, body: "ready\n" });
      const metrics = await get(port, "/metrics");
      expect(metrics.status).toBe(200);
      expect(metrics.type).toContain("text/plain; version=0.0.4");
      expect(metrics.body).toContain("probe_total 3");
      expect((await get(port, "/nope")).status).toBe(404);
    });
  });

  it("renders /metrics at most once per cache interval, however many scrapes come", async () => {
    const { registry, renders } = countingRegistry();
    await withAdmin({ registry, isReady: () => true, metricsCacheMs: 400 }, async (port) => {
      const bodies = await Promise.all(
        Array.from({ length: 20 }, () => get(port, "/metrics").then((r) => r.body)),
      );
      expect(new Set(bodies)).toEqual(
        new Set(["# HELP renders_total test\n# TYPE renders_total counter\nrenders_total 1\n"]),
      );
      expect(renders()).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect((await get(port, "/metrics")).body).toContain("renders_total 2");
    });
  });

  it("renders /metrics afresh when metricsVersion changes (a reload), cached otherwise", async () => {
    const { registry, renders } = countingRegistry();
    let version = 0;
    await withAdmin(
      {
        registry,
        isReady: () => true,
        metricsVersion: () => version,
        // Long enough that only a version change can explain a second rendering.
        metricsCacheMs: 60_000,
      },
      async (port) => {
        expect((await get(port, "/metrics")).body).toContain("renders_total 1");
        expect((await get(port, "/metrics")).body).toContain("renders_total 1");
        version++;
        expect((await get(port, "/metrics")).body).toContain("renders_total 2");
        expect((await get(port, "/metrics")).body).toContain("renders_total 2");
        expect(renders()).toBe(2);
      },
    );
  });

  it("gives a Cache-Control: no-cache scrape a rendering at most metricsFreshMs old, still at most one per interval", async () => {
    const { registry, renders } = countingRegistry();
    await withAdmin(
      { registry, isReady: () => true, metricsCacheMs: 60_000, metricsFreshMs: 200 },
      async (port) => {
        const fresh = { "cache-control": "no-cache" };
        expect((await get(port, "/metrics")).body).toContain("renders_total 1");
        // A flood of no-cache scrapes within 200 ms: the same rendering.
        const bodies = await Promise.all(
          Array.from({ length: 10 }, () => get(port, "/metrics", fresh).then((r) => r.body)),
        );
        expect(renders()).toBeLessThanOrEqual(2);
        await new Promise((resolve) => setTimeout(resolve, 250));
        const later = (await get(port, "/metrics", fresh)).body;
        expect(later).toContain(`renders_total ${renders()}`);
        expect(later).not.toBe(bodies.at(-1));
        // A plain scrape keeps the long cache: the same text as the last rendering.
        expect((await get(port, "/metrics")).body).toBe(later);
      },
    );
  });

  it("caps its connections and closes one that does not finish its headers in time", async () => {
    await withAdmin(
      {
        registry: new Registry(),
        isReady: () => true,
        maxConnections: 4,
        headersTimeoutMs: 300,
      },
      async (port) => {
        const sockets: Socket[] = [];
        try {
          // Four idle connections fill it; a fifth is closed at once, unanswered.
          for (let i = 0; i < 4; i++) {
            const socket = connect({ host: "127.0.0.1", port });
            await once(socket, "connect");
            socket.resume(); // read, so a close by the server is seen
            sockets.push(socket);
          }
          const fifth = connect({ host: "127.0.0.1", port });
          fifth.on("error", () => {});
          fifth.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
          const fifthReply: Buffer[] = [];
          fifth.on("data", (chunk: Buffer) => fifthReply.push(chunk));
          await once(fifth, "close");
          expect(Buffer.concat(fifthReply).length).toBe(0);

          // A slow client: half a request line, then nothing. Closed after the headers timeout.
          const started = Date.now();
          (sockets[0] as Socket).write("GET /metr");
          await once(sockets[0] as Socket, "close");
          expect(Date.now() - started).toBeGreaterThanOrEqual(250);
          expect(Date.now() - started).toBeLessThan(5_000);
          for (const socket of sockets) socket.destroy();
          await new Promise((resolve) => setTimeout(resolve, 50));
          expect(await get(port, "/healthz")).toMatchObject({ status: 200 });
        } finally {
          for (const socket of sockets) socket.destroy();
        }
      },
    );
  });

  it("rejects a bad address with E_ADDRESS naming the flag", () => {
    expect(() =>
      createAdminServer({ address: "localhost", registry: new Registry(), isReady: () => true }),
    ).toThrow(
      expect.objectContaining({ code: "E_ADDRESS", message: expect.stringContaining("--admin") }),
    );
  });
});
