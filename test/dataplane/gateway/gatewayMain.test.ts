import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGatewayArgs } from "../../../dataplane/gateway/gatewayArgs";
import { type Program, portOfAddress, startProgram } from "../childProcess";
import { collect, connectTo, echoPair, exchange, httpGet, readBytes, sample } from "../netHelpers";

const backends = echoPair();
let directory: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "gateway-main-"));
});
afterAll(async () => {
  rmSync(directory, { recursive: true, force: true });
});

/** A route file on 127.0.0.1:0 (the same `listen` text on reload keeps the bound port). */
const routes = (v1: number, v2: number) => `listeners:
  - name: tcp-echo
    listen: 127.0.0.1:0
    routes:
      - { name: v1, weight: ${v1}, endpoints: ["127.0.0.1:${backends.one.port}"] }
      - { name: v2, weight: ${v2}, endpoints: ["127.0.0.1:${backends.two.port}"] }
`;

/** Start gatewayMain on a fresh all-v1 route file `<name>.yaml`, admin on an OS port. */
function startGateway(name: string, flags: string[]) {
  const config = join(directory, `${name}.yaml`);
  writeFileSync(config, routes(100, 0));
  const program = startProgram("gateway/gatewayMain.ts", [
    "--config",
    config,
    "--admin",
    "127.0.0.1:0",
    ...flags,
  ]);
  /** The port of the first log line with message `msg` (listener or admin). */
  const portOf = async (msg: string) =>
    portOfAddress((await program.waitForLog((line) => line.msg === msg)).address);
  return { config, program, portOf };
}

/** Wait until workers 1 and 2 listen, adding their pids to `pids` as they come. */
async function workersListening(program: Program, pids: number[]): Promise<void> {
  for (const worker of [1, 2]) {
    const line = await program.waitForLog(
      (l) => l.msg === "worker listening" && l.worker === worker,
    );
    pids.push(Number(line.pid));
  }
}

/** Kill the primary and the workers `pids` (those still alive). */
function killAll(program: Program, pids: number[]): void {
  program.child.kill("SIGKILL");
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** While draining: not ready, new connections refused, the open one still answered and ends cleanly. */
async function expectDrain(
  admin: number,
  port: number,
  open: Socket,
  reply: string,
): Promise<void> {
  expect((await httpGet(admin, "/readyz")).status).toBe(503);
  await expect(connectTo(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  open.write("still\n");
  expect((await readBytes(open, reply.length)).toString()).toBe(reply);
  const done = collect(open);
  open.end();
  await done;
}

describe("gatewayMain arguments", () => {
  it("parses flags with defaults", () => {
    expect(parseGatewayArgs(["--config", "r.yaml"])).toEqual({
      config: "r.yaml",
      admin: "127.0.0.1:9901",
      drainSeconds: 25,
      logLevel: "info",
      workers: 1,
    });
    expect(parseGatewayArgs(["--config", "r.yaml", "--workers", "2"])).toMatchObject({
      workers: 2,
    });
    expect(parseGatewayArgs(["--config", "r.yaml", "--data-path", "sockets"])).toMatchObject({
      dataPath: "sockets",
    });
    expect(
      parseGatewayArgs(["--config=r.yaml", "--admin", "0.0.0.0:9000", "--drain-seconds", "5"], {
        LOG_LEVEL: "warn",
      }),
    ).toMatchObject({ admin: "0.0.0.0:9000", drainSeconds: 5, logLevel: "warn" });
  });

  it.each([
    [[], /--config FILE is required/],
    [["--config", "r.yaml", "--admin", "9901"], /--admin must be host:port/],
    [["--config", "r.yaml", "--drain-seconds", "-1"], /--drain-seconds/],
    [["--config", "r.yaml", "--log-level", "loud"], /--log-level must be one of/],
    [["--config", "r.yaml", "--bogus"], /bogus/],
    [["--config", "r.yaml", "--workers", "0"], /--workers must be an integer from 1 to 64/],
    [["--config", "r.yaml", "--workers", "1.5"], /--workers must be an integer from 1 to 64/],
    [
      ["--config", "r.yaml", "--data-path", "splice"],
      /--data-path must be one of handles\|sockets/,
    ],
  ])("rejects %j", (argv, message) => {
    expect(() => parseGatewayArgs(argv)).toThrow(message);
  });
});

describe("gatewayMain process", () => {
  it("exits 2 with usage on a usage error, 1 with a JSON error line (no stack) on a bad route file", async () => {
    const usage = startProgram("gateway/gatewayMain.ts", []);
    expect(await usage.exited).toBe(2);
    expect(usage.stderr()).toContain("usage: gatewayMain --config FILE");

    const bad = join(directory, "bad.yaml");
    writeFileSync(bad, "listeners: []\n");
    const program = startProgram("gateway/gatewayMain.ts", [
      "--config",
      bad,
      "--admin",
      "127.0.0.1:0",
    ]);
    expect(await program.exited).toBe(1);
    const [line] = program.logs;
    expect(line).toMatchObject({ level: "error", code: "E_ROUTE_FILE" });
    expect(String(line?.msg)).toContain(bad);
    expect(line?.stack).toBeUndefined();
  });

  it("serves, reloads on file change and SIGHUP, rejects an invalid file, drains on SIGTERM", async () => {
    const { config, program, portOf } = startGateway("routes", ["--drain-seconds", "20"]);
    try {
      const port = await portOf("listening");
      const admin = await portOf("admin listening");
      expect(await httpGet(admin, "/healthz")).toEqual({ status: 200, body: "ok\n" });
      expect(await httpGet(admin, "/readyz")).toEqual({ status: 200, body: "ready\n" });
      expect((await exchange(port, "a\n")).toString()).toBe("one a\n");

      // A long-lived connection opened now stays on v1 through everything below.
      const open = await connectTo(port);

      // An invalid file is rejected with a clear log line; the last good routes stay.
      writeFileSync(config, routes(0, 0));
      const rejected = await program.waitForLog((line) => line.level === "error");
      expect(rejected).toMatchObject({ code: "E_ROUTE_FILE" });
      expect(String(rejected.error)).toContain("total route weight = 0");
      expect((await exchange(port, "b\n")).toString()).toBe("one b\n");

      // A valid change applies to new connections.
      writeFileSync(config, routes(0, 100));
      await program.waitForLog((line) => line.msg === "routes reloaded");
      expect((await exchange(port, "c\n")).toString()).toBe("two c\n");

      // SIGHUP re-reads the file.
      const beforeHup = program.logs.length;
      program.child.kill("SIGHUP");
      await program.waitForLog((line) => line.msg === "routes reloaded", beforeHup);

      const metrics = (await httpGet(admin, "/metrics")).body;
      expect(sample(metrics, "tcp_gateway_reloads_total")).toBe(2);
      expect(sample(metrics, "tcp_gateway_reload_failures_total")).toBe(1);
      expect(sample(metrics, 'tcp_gateway_connections_total{listener="tcp-echo",route="v1"}')).toBe(
        3,
      );
      expect(sample(metrics, 'tcp_gateway_route_weight{listener="tcp-echo",route="v2"}')).toBe(100);
      expect(sample(metrics, 'tcp_gateway_active_connections{listener="tcp-echo"}')).toBe(1);
      expect(metrics).toContain("process_cpu_seconds_total");

      // SIGTERM: not ready, no new connections, the open one keeps working until it ends.
      program.child.kill("SIGTERM");
      await program.waitForLog((line) => line.msg === "draining");
      await expectDrain(admin, port, open, "one still\n");
      expect(await program.exited).toBe(0);
    } finally {
      program.child.kill("SIGKILL");
    }
  });

  it("a replaced route file shows at /metrics within 600 ms: by rename, by a ConfigMap's symlink swap; in place after 250 ms", async () => {
    /** The stack's ConfigMap holds JSON. */
    const json = (v2: number) =>
      JSON.stringify({
        listeners: [
          {
            name: "tcp-echo",
            listen: "127.0.0.1:0",
            routes: [
              { name: "v1", weight: 100 - v2, endpoints: [`127.0.0.1:${backends.one.port}`] },
              { name: "v2", weight: v2, endpoints: [`127.0.0.1:${backends.two.port}`] },
            ],
          },
        ],
      });
    /**
     * Milliseconds from `write(v2)` until `/metrics` shows weight v2, the cache primed by a
     * scrape just before (what `npm run shift --metrics` does).
     */
    const inForceAfter = async (admin: number, write: (v2: number) => void, v2: number) => {
      const series = 'tcp_gateway_route_weight{listener="tcp-echo",route="v2"}';
      expect(sample((await httpGet(admin, "/metrics")).body, series)).not.toBe(v2);
      const started = performance.now();
      write(v2);
      while (sample((await httpGet(admin, "/metrics")).body, series) !== v2)
        await new Promise((resolve) => setTimeout(resolve, 10));
      return performance.now() - started;
    };
    const run = async (config: string, rounds: [(v2: number) => void, "fast" | "in place"][]) => {
      const program = startProgram("gateway/gatewayMain.ts", [
        "--config",
        config,
        "--admin",
        "127.0.0.1:0",
        "--drain-seconds",
        "0",
      ]);
      try {
        const admin = portOfAddress(
          (await program.waitForLog((line) => line.msg === "admin listening")).address,
        );
        for (const [index, [write, kind]] of rounds.entries()) {
          const ms = await inForceAfter(admin, write, 10 * (index + 1));
          if (kind === "fast") expect(ms).toBeLessThan(600);
          else {
            expect(ms).toBeGreaterThanOrEqual(250);
            expect(ms).toBeLessThan(2_000);
          }
        }
        program.child.kill("SIGTERM");
        expect(await program.exited).toBe(0);
      } finally {
        program.child.kill("SIGKILL");
      }
    };

    // A plain file: replaced by rename (what the shift and editors do), then rewritten in place.
    const plain = join(directory, "latency.json");
    writeFileSync(plain, json(0));
    const replace = (v2: number) => {
      writeFileSync(`${plain}.tmp`, json(v2));
      renameSync(`${plain}.tmp`, plain);
    };
    await run(plain, [
      [replace, "fast"],
      [replace, "fast"],
      [(v2) => writeFileSync(plain, json(v2)), "in place"],
    ]);

    // A ConfigMap volume: routes.json -> ..data/routes.json, ..data -> ..<timestamp>/
    const volume = join(directory, "configmap");
    mkdirSync(volume);
    let version = 0;
    const publish = (v2: number) => {
      const name = `..2026_11_27_10_00_00.${++version}`;
      mkdirSync(join(volume, name));
      writeFileSync(join(volume, name, "routes.json"), json(v2));
      return name;
    };
    symlinkSync(publish(0), join(volume, "..data"));
    symlinkSync("..data/routes.json", join(volume, "routes.json"));
    const swap = (v2: number) => {
      const previous = `..2026_11_27_10_00_00.${version}`;
      symlinkSync(publish(v2), join(volume, "..data_tmp"));
      renameSync(join(volume, "..data_tmp"), join(volume, "..data"));
      rmSync(join(volume, previous), { recursive: true });
    };
    await run(join(volume, "routes.json"), [
      [swap, "fast"],
      [swap, "fast"],
    ]);
  });

  it("--data-path picks how bytes are carried: handles by default, sockets on request", async () => {
    for (const [flags, dataPath] of [
      [[], "handles"],
      [["--data-path", "sockets"], "sockets"],
    ] as const) {
      const { program } = startGateway(`path-${dataPath}`, [...flags]);
      try {
        const listening = await program.waitForLog((line) => line.msg === "listening");
        expect(listening.dataPath).toBe(dataPath);
        const port = portOfAddress(listening.address);
        expect((await exchange(port, "p\n")).toString()).toBe("one p\n");
        program.child.kill("SIGTERM");
        expect(await program.exited).toBe(0);
      } finally {
        program.child.kill("SIGKILL");
      }
    }
  });

  it("destroys connections still open when the drain period ends, then exits 0", async () => {
    const { program, portOf } = startGateway("drain", ["--drain-seconds", "0.2"]);
    try {
      const port = await portOf("listening");
      await portOf("admin listening");
      const open = await connectTo(port, false);
      open.write("x\n");
      await readBytes(open, 6);
      const done = collect(open);
      program.child.kill("SIGTERM");
      expect(await program.exited).toBe(0);
      await done;
      expect(open.destroyed).toBe(true);
    } finally {
      program.child.kill("SIGKILL");
    }
  });

  it("out of file descriptors: logged and counted as such, no endpoint blamed, service resumes", async () => {
    const config = join(directory, "emfile.yaml");
    // Two endpoints: a failure blamed on an endpoint would take it out of rotation for 5 s.
    writeFileSync(
      config,
      `listeners:
  - name: tcp-echo
    listen: 127.0.0.1:0
    maxConnections: 1000
    routes:
      - { name: v1, weight: 1, endpoints: ["127.0.0.1:${backends.one.port}", "localhost:${backends.one.port}"] }
`,
    );
    const program = startProgram(
      "gateway/gatewayMain.ts",
      ["--config", config, "--admin", "127.0.0.1:0", "--drain-seconds", "0"],
      { openFiles: 64 },
    );
    const held: Socket[] = [];
    try {
      const warning = await program.waitForLog(
        (line) => line.msg === "open-files limit too low for maxConnections",
      );
      expect(warning).toMatchObject({ level: "warn", limit: 64, needed: 2065 });
      const port = portOfAddress((await program.waitForLog((l) => l.msg === "listening")).address);
      const admin = portOfAddress(
        (await program.waitForLog((l) => l.msg === "admin listening")).address,
      );
      // Leave room for about 5 connections (2 descriptors each) and maybe one descriptor more:
      // with one left, a client is accepted on it and its backend connect fails with EMFILE;
      // with none, libuv turns clients away at accept (Node is not told). Both parities.
      const pid = program.child.pid as number;
      const used = readdirSync(`/proc/${pid}/fd`).length;
      for (const extra of [11, 12]) {
        execFileSync("prlimit", ["--pid", String(pid), `--nofile=${used + extra}:`]);
        let refused = 0;
        for (let i = 0; i < 10; i++) {
          const socket = connect({ host: "127.0.0.1", port });
          socket.on("error", () => {});
          const outcome = await new Promise<"served" | "closed">((resolve) => {
            socket.once("data", () => resolve("served"));
            socket.once("close", () => resolve("closed"));
            socket.write("x\n");
          });
          if (outcome === "served") held.push(socket);
          else refused++;
        }
        expect(held.length).toBeGreaterThanOrEqual(4);
        expect(refused).toBeGreaterThanOrEqual(3);
        for (const socket of held.splice(0)) socket.destroy();
        await expect
          .poll(() => readdirSync(`/proc/${pid}/fd`).length)
          .toBeLessThanOrEqual(used + 1);
      }
      // Once descriptors are free again, both endpoints serve at once (none was marked failing).
      await expect
        .poll(async () => {
          try {
            return (await exchange(port, "y\n")).toString();
          } catch {
            return "";
          }
        })
        .toBe("one y\n");
      const metrics = (await httpGet(admin, "/metrics")).body;
      expect(
        sample(metrics, 'tcp_gateway_out_of_descriptors_total{listener="tcp-echo"}'),
      ).toBeGreaterThan(0);
      expect(
        sample(metrics, 'tcp_gateway_connect_failures_total{listener="tcp-echo",route="v1"}'),
      ).toBe(0);
      expect(
        sample(metrics, 'tcp_gateway_backend_unavailable_total{listener="tcp-echo",route="v1"}'),
      ).toBe(0);
      expect(
        program.logs.some((line) => String(line.msg).startsWith("out of file descriptors")),
      ).toBe(true);
      expect(program.logs.some((line) => line.msg === "backend connect failed")).toBe(false);
      program.child.kill("SIGTERM");
      expect(await program.exited).toBe(0);
    } finally {
      for (const socket of held) socket.destroy();
      program.child.kill("SIGKILL");
    }
  });

  it("--workers 2: a worker that dies is replaced and no counter goes backwards", async () => {
    const { program, portOf } = startGateway("workers-die", ["--workers", "2"]);
    const pids: number[] = [];
    try {
      const admin = await portOf("admin listening");
      await workersListening(program, pids);
      const port = portOfAddress(
        (await program.waitForLog((line) => line.msg === "listening")).address,
      );
      for (let i = 0; i < 8; i++) await exchange(port, "a\n");
      const series = 'tcp_gateway_connections_total{listener="tcp-echo",route="v1"}';
      // A histogram of the dead worker's connections is kept too.
      const lifetimes =
        'tcp_gateway_connection_duration_seconds_count{listener="tcp-echo",route="v1"}';
      const before = (await httpGet(admin, "/metrics")).body;
      expect([sample(before, series), sample(before, lifetimes)]).toEqual([8, 8]);
      process.kill(pids[0] as number, "SIGKILL");
      await program.waitForLog((line) => line.msg === "worker exited; starting another");
      await program.waitForLog((line) => line.msg === "worker listening" && line.worker === 3);
      const after = (await httpGet(admin, "/metrics")).body;
      expect([sample(after, series), sample(after, lifetimes)]).toEqual([8, 8]);
      await exchange(port, "b\n");
      // /metrics is rendered at most once a second.
      await expect
        .poll(async () => sample((await httpGet(admin, "/metrics")).body, series))
        .toBe(9);
      program.child.kill("SIGTERM");
      expect(await program.exited).toBe(0);
    } finally {
      killAll(program, pids);
    }
  });

  it("--workers 2: both workers serve, a reload reaches both, /metrics aggregates, SIGTERM drains", async () => {
    const { config, program, portOf } = startGateway("workers", [
      "--workers",
      "2",
      "--drain-seconds",
      "20",
    ]);
    const pids: number[] = [];
    try {
      const admin = await portOf("admin listening");
      await workersListening(program, pids);
      const ports = program.logs
        .filter((line) => line.msg === "listening")
        .map((line) => portOfAddress(line.address));
      // Both workers listen on the same (shared) port.
      expect(ports).toHaveLength(2);
      const port = ports[0] as number;
      expect(ports[1]).toBe(port);
      expect(await httpGet(admin, "/readyz")).toEqual({ status: 200, body: "ready\n" });

      // Each worker serves on its own: with the other one stopped, it accepts every connection.
      const eachWorkerAnswers = async (line: string): Promise<string[]> => {
        const answers: string[] = [];
        for (const stopped of pids) {
          process.kill(stopped, "SIGSTOP");
          try {
            answers.push((await exchange(port, line)).toString());
          } finally {
            process.kill(stopped, "SIGCONT");
          }
        }
        return answers;
      };
      expect(await eachWorkerAnswers("a\n")).toEqual(["one a\n", "one a\n"]);

      // A file change reaches both workers.
      const beforeReload = program.logs.length;
      writeFileSync(config, routes(0, 100));
      for (const worker of [1, 2])
        await program.waitForLog(
          (line) => line.msg === "routes reloaded" && line.worker === worker,
          beforeReload,
        );
      expect(await eachWorkerAnswers("b\n")).toEqual(["two b\n", "two b\n"]);

      // /metrics: counters summed over the workers, weights and readiness not.
      const open = await connectTo(port);
      const metrics = (await httpGet(admin, "/metrics")).body;
      expect(sample(metrics, 'tcp_gateway_connections_total{listener="tcp-echo",route="v1"}')).toBe(
        2,
      );
      expect(sample(metrics, 'tcp_gateway_connections_total{listener="tcp-echo",route="v2"}')).toBe(
        3,
      );
      expect(sample(metrics, 'tcp_gateway_active_connections{listener="tcp-echo"}')).toBe(1);
      expect(sample(metrics, 'tcp_gateway_route_weight{listener="tcp-echo",route="v2"}')).toBe(100);
      expect(sample(metrics, "tcp_gateway_reloads_total")).toBe(1);
      expect(sample(metrics, "tcp_gateway_ready")).toBe(1);
      expect(metrics).toContain("process_cpu_seconds_total");

      // SIGTERM to the primary: not ready, workers stop accepting, the open connection finishes.
      program.child.kill("SIGTERM");
      for (const worker of [1, 2])
        await program.waitForLog((line) => line.msg === "draining" && line.worker === worker);
      await expectDrain(admin, port, open, "two still\n");
      expect(await program.exited).toBe(0);
    } finally {
      killAll(program, pids);
    }
  });
});
