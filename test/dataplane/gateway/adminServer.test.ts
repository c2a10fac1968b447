import { request } from "node:http";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createAdminServer } from "../../../dataplane/gateway/adminServer";

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path }, (response) => {
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

describe("admin server", () => {
  it("serves /healthz, /readyz (following readiness), /metrics from its registry, 404 otherwise", async () => {
    const registry = new Registry();
    new Counter({ name: "probe_total", help: "test", registers: [registry] }).inc(3);
    let ready = false;
    const admin = createAdminServer({
      address: "127.0.0.1:0",
      registry,
      isReady: () => ready,
    });
    const { port } = await admin.listen();
    try {
      expect(await get(port, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
      expect(await get(port, "/readyz")).toMatchObject({ status: 503, body: "not ready\n" });
      ready = true;
      expect(await get(port, "/readyz")).toMatchObject({ status: 200, body: "ready\n" });
      const metrics = await get(port, "/metrics");
      expect(metrics.status).toBe(200);
      expect(metrics.type).toContain("text/plain; version=0.0.4");
      expect(metrics.body).toContain("probe_total 3");
      expect((await get(port, "/nope")).status).toBe(404);
    } finally {
      await admin.close();
    }
  });

  it("rejects a bad address with E_ADDRESS naming the flag", () => {
    expect(() =>
      createAdminServer({ address: "localhost", registry: new Registry(), isReady: () => true }),
    ).toThrow(
      expect.objectContaining({ code: "E_ADDRESS", message: expect.stringContaining("--admin") }),
    );
  });
});
