import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collect, connectTo, echoPair, readBytes } from "../netHelpers";
import { aliveInGroup, runNpm } from "../npmProcess";

const backends = echoPair();
const directory = mkdtempSync(join(tmpdir(), "npm-gateway-"));
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe("npm run gateway (as a user runs it)", () => {
  it("kill -TERM of npm's pid drains: the open session gets its reply and a clean FIN, the port is released, nothing is left", async () => {
    const config = join(directory, "routes.yaml");
    writeFileSync(
      config,
      `listeners:
  - name: tcp-echo
    listen: 127.0.0.1:0
    routes:
      - { name: v1, weight: 1, endpoints: ["127.0.0.1:${backends.one.port}"] }
`,
    );
    const npm = runNpm([
      "run",
      "gateway",
      "--",
      "--config",
      config,
      "--admin",
      "127.0.0.1:0",
      "--drain-seconds",
      "20",
    ]);
    const pgid = npm.child.pid as number;
    try {
      const listening = await npm.line((line) => line.includes('"msg":"listening"'));
      const port = Number(/"address":"127\.0\.0\.1:(\d+)"/.exec(listening)?.[1]);
      await npm.line((line) => line.includes('"msg":"admin listening"'));
      const session = await connectTo(port);
      session.write("before\n");
      expect((await readBytes(session, 11)).toString()).toBe("one before\n");

      process.kill(pgid, "SIGTERM");
      await npm.line((line) => line.includes('"msg":"draining"'));
      // Draining: the open session is still served, then ends cleanly both ways.
      session.write("after\n");
      expect((await readBytes(session, 10)).toString()).toBe("one after\n");
      const ended = collect(session);
      session.end();
      const { error } = await ended;
      expect(error).toBeUndefined();

      const probe = (): Promise<string> =>
        connectTo(port).then(
          (socket) => {
            socket.destroy();
            return "open";
          },
          (error: NodeJS.ErrnoException) => String(error.code),
        );
      await expect.poll(probe, { timeout: 10_000 }).toBe("ECONNREFUSED");
      await expect.poll(() => aliveInGroup(pgid), { timeout: 10_000 }).toEqual([]);
      // Read to the end of the output (the last lines may still be in the pipe).
      await npm.line((line) => line.includes('"msg":"closed"'));
    } finally {
      npm.killAll();
    }
  });
});
