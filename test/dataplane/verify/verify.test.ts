import { execFile } from "node:child_process";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../../contract/exitCodes";
import { createEchoServer } from "../../../dataplane/echo/echoServer";
import { parseDuration } from "../../../dataplane/shared/commandFlags";
import { probeOnce, runVerify } from "../../../dataplane/verify/verify";
import { parseVerifyArgs } from "../../../dataplane/verify/verifyArgs";
import { verifyCli } from "../../../dataplane/verify/verifyCli";
import type { VerifyReport } from "../../../dataplane/verify/verifyReport";
import { startBlackhole } from "../netHelpers";

/** Servers started by a test and their open sockets: closed after each test. */
const servers: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(stop));
});

function stop({ server, sockets }: { server: Server; sockets: Set<Socket> }): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
}

/** Start a server on 127.0.0.1:0; `handle(socket, index)` gets each connection and its number. */
async function serve(handle: (socket: Socket, index: number) => void): Promise<number> {
  let index = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    handle(socket, index++);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push({ server, sockets });
  return (server.address() as AddressInfo).port;
}

/** tcp-echo's protocol: `prefix + " " + line` per complete line; the prefix may vary per connection. */
function echo(prefixOf: (index: number) => string) {
  return (socket: Socket, index: number) => {
    let pending = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      pending += chunk;
      let end = pending.indexOf("\n");
      while (end !== -1) {
        socket.write(`${prefixOf(index)} ${pending.slice(0, end + 1)}`);
        pending = pending.slice(end + 1);
        end = pending.indexOf("\n");
      }
    });
    socket.on("end", () => socket.end());
  };
}

/** Every fifth connection answered by v2: an exact 20% split. */
const twentyPercent = echo((index) => (index % 5 === 4 ? "two" : "one"));

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk) => {
    out += chunk;
  });
  stderr.on("data", (chunk) => {
    err += chunk;
  });
  return { io: { stdout, stderr }, out: () => out, err: () => err };
}

describe("runVerify", () => {
  it("counts each version by reply prefix over new connections", async () => {
    const port = await serve(twentyPercent);
    const result = await runVerify({
      host: "127.0.0.1",
      port,
      connections: 200,
      concurrency: 16,
      timeoutMs: 5000,
    });
    expect(result.counts).toEqual({ v1: 160, v2: 40 });
    expect(result.failed).toBe(0);
    expect(result.latenciesMs).toHaveLength(200);
  });

  it("classifies replies of the bundled tcp-echo server", async () => {
    const echoServer = createEchoServer({ ports: [0], prefix: "two", host: "127.0.0.1" });
    const [address] = await echoServer.listen();
    try {
      const result = await runVerify({
        host: "127.0.0.1",
        port: address?.port as number,
        connections: 20,
        concurrency: 4,
        timeoutMs: 5000,
      });
      expect(result.counts).toEqual({ v1: 0, v2: 20 });
      expect(result.failed).toBe(0);
    } finally {
      await echoServer.close(1000);
    }
  });

  it("uses the given prefixes", async () => {
    const port = await serve(echo(() => "hello"));
    const result = await runVerify({
      host: "127.0.0.1",
      port,
      connections: 5,
      concurrency: 2,
      timeoutMs: 5000,
      prefixes: { v1: "bye", v2: "hello" },
    });
    expect(result.counts).toEqual({ v1: 0, v2: 5 });
  });

  it("counts a reply that is not `<prefix> <line>` as a failure and keeps it", async () => {
    const port = await serve((socket) => {
      socket.once("data", () => socket.write("one something else\n"));
    });
    const result = await runVerify({
      host: "127.0.0.1",
      port,
      connections: 3,
      concurrency: 3,
      timeoutMs: 5000,
    });
    expect(result.counts).toEqual({ v1: 0, v2: 0 });
    expect(result.errors).toEqual({ "unexpected reply": 3 });
    expect(result.unexpectedReply).toBe("one something else");
  });

  it("counts refused, closed and silent connections by reason", async () => {
    const closedPort = await serve(() => {});
    await stop(servers.pop() as (typeof servers)[number]);
    const refused = await runVerify({
      host: "127.0.0.1",
      port: closedPort,
      connections: 2,
      concurrency: 2,
      timeoutMs: 5000,
    });
    expect(refused.errors).toEqual({ ECONNREFUSED: 2 });

    const hangUp = await serve((socket) => socket.end());
    const closed = await runVerify({
      host: "127.0.0.1",
      port: hangUp,
      connections: 2,
      concurrency: 2,
      timeoutMs: 5000,
    });
    expect(closed.errors).toEqual({ "closed before reply": 2 });

    const silent = await serve(() => {});
    const timedOut = await runVerify({
      host: "127.0.0.1",
      port: silent,
      connections: 2,
      concurrency: 2,
      timeoutMs: 150,
    });
    expect(timedOut.errors).toEqual({ "reply timeout": 2 });
    expect(timedOut.failed).toBe(2);
  });

  it("says whether a probe failed connecting or waiting for the reply, timeouts included", async () => {
    const target = (port: number, timeoutMs = 5000) => ({ host: "127.0.0.1", port, timeoutMs });
    const probe = (port: number, timeoutMs?: number) =>
      probeOnce(target(port, timeoutMs), { v1: "one", v2: "two" }, 1);

    const closedPort = await serve(() => {});
    await stop(servers.pop() as (typeof servers)[number]);
    expect(await probe(closedPort)).toEqual({
      kind: "error",
      phase: "connect",
      reason: "ECONNREFUSED",
    });
    // A listener whose accept queue is full: Linux drops the SYN, the connect never completes.
    const blackhole = await startBlackhole();
    try {
      expect(await probe(blackhole.port, 200)).toEqual({
        kind: "error",
        phase: "connect",
        reason: "connect timeout",
      });
    } finally {
      blackhole.close();
    }
    expect(await probe(await serve(() => {}), 200)).toEqual({
      kind: "error",
      phase: "reply",
      reason: "reply timeout",
    });
    expect(
      await probe(await serve((socket) => socket.once("data", () => socket.resetAndDestroy()))),
    ).toEqual({
      kind: "error",
      phase: "reply",
      reason: "ECONNRESET",
    });
    expect(await probe(await serve((socket) => socket.once("data", () => socket.end())))).toEqual({
      kind: "error",
      phase: "reply",
      reason: "closed before reply",
    });
  });
});

describe("parseVerifyArgs", () => {
  it("fills in defaults and parses durations", () => {
    expect(parseVerifyArgs(["--port", "31401"])).toEqual({
      host: "127.0.0.1",
      port: 31401,
      connections: 200,
      concurrency: 16,
      timeoutMs: 5000,
      prefixes: { v1: "one", v2: "two" },
      json: false,
      help: false,
    });
    const args = parseVerifyArgs(["-n", "50", "--timeout", "500ms", "--expect-v2", "20", "--json"]);
    expect(args).toMatchObject({ connections: 50, timeoutMs: 500, expectV2: 20, json: true });
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("5")).toBeUndefined();
  });

  it.each([
    [["--port", "70000"], '--port must be a whole number from 1 to 65535, got "70000"'],
    [
      ["--timeout", "5"],
      '--timeout must be a duration from 1ms to 10m such as 5s or 500ms, got "5"',
    ],
    [["--expect-v2", "150"], '--expect-v2 must be a percentage from 0 to 100, got "150"'],
    [["-n", "0"], '-n/--connections must be a whole number from 1 to 100000, got "0"'],
    [["--prefix-v2", "one"], '--prefix-v1 and --prefix-v2 must differ, both are "one"'],
    [["--weight", "20"], "Unknown option '--weight'"],
  ])("%j: names the flag and what is allowed", (argv, message) => {
    expect(() => parseVerifyArgs(argv)).toThrow(message);
  });
});

describe("verifyCli", () => {
  it("prints the report on stdout alone, plain progress lines on stderr when it is not a terminal", async () => {
    const port = await serve(twentyPercent);
    const { io, out, err } = capture();
    const code = await verifyCli(["--port", String(port), "-n", "100", "--expect-v2", "20"], io);
    expect(code).toBe(0);
    expect(err()).toContain("  25/100 connections done\n");
    expect(err()).toContain("  100/100 connections done\n");
    const text = out();
    expect(text).not.toContain("connections done");
    expect(text.startsWith(`verify 127.0.0.1:${port}: 100 new connections, concurrency 16\n`)).toBe(
      true,
    );
    expect(text).toContain("  v1 (one)      80  80.0%\n");
    expect(text).toContain("  v2 (two)      20  20.0%\n");
    expect(text).toContain("  v2 share  20.0% (95% interval 13.3% to 28.9%, Wilson)\n");
    expect(text).toContain("  errors    0 of 100 (0.0%)\n");
    expect(text).toMatch(/ {2}latency {3}p50 [\d.]+ ms, p99 [\d.]+ ms\n/);
    expect(text).toContain(
      "  result    consistent with v2 = 20% (exact binomial, p = 1.000) (exit 0)\n",
    );
  });

  it("prints each progress line once, even when one connection reaches several quarters", async () => {
    const port = await serve(twentyPercent);
    const { io, err } = capture();
    expect(await verifyCli(["--port", String(port), "-n", "2", "--concurrency", "1"], io)).toBe(0);
    expect(err().match(/^ {2}\d+\/2 connections done$/gm)).toEqual([
      "  1/2 connections done",
      "  2/2 connections done",
    ]);
  });

  it("draws a progress bar in place on a terminal (stderr) and clears it before the report", async () => {
    const port = await serve(twentyPercent);
    const { io, out, err } = capture();
    Object.assign(io.stderr, { isTTY: true });
    expect(await verifyCli(["--port", String(port), "-n", "30"], io)).toBe(0);
    expect(err()).toContain(`\r  [${"#".repeat(30)}] 30/30`);
    expect(err().endsWith("\r\x1b[K")).toBe(true);
    expect(err()).not.toContain("connections done");
    const text = out();
    expect(text.startsWith(`verify 127.0.0.1:${port}: 30 new connections`)).toBe(true);
    expect(text).toContain(
      "  result    measured (pass --expect-v2 W to test against a weight) (exit 0)\n",
    );
  });

  it("exits 1 when the share contradicts --expect-v2 and prints one JSON object", async () => {
    const port = await serve(twentyPercent);
    const { io, out } = capture();
    const code = await verifyCli(
      ["--port", String(port), "-n", "200", "--expect-v2", "50", "--json"],
      io,
    );
    expect(code).toBe(1);
    const report = JSON.parse(out()) as VerifyReport;
    expect(report).toMatchObject({
      target: `127.0.0.1:${port}`,
      counts: { v1: 160, v2: 40 },
      failed: 0,
      v2Share: 0.2,
      expectV2: 50,
      verdict: "inconsistent",
      exitCode: 1,
    });
    expect(report.pValue).toBeLessThan(1e-10);
  });

  it("exits 3 when over 1% of connections fail, and 2 on a bad flag", async () => {
    const port = await serve((socket, index) =>
      index % 10 === 0 ? socket.destroy() : twentyPercent(socket, index),
    );
    const failing = capture();
    expect(
      await verifyCli(["--port", String(port), "-n", "50", "--expect-v2", "20"], failing.io),
    ).toBe(EXIT_CODES.connectionFailures);
    expect(failing.out()).toContain("more than 1% of connections failed");

    const usage = capture();
    expect(await verifyCli(["--port", "x"], usage.io)).toBe(EXIT_CODES.usage);
    expect(usage.err()).toBe(
      'verify: --port must be a whole number from 1 to 65535, got "x" (see npm run verify -- --help)\n',
    );
    expect(usage.out()).toBe("");
  });

  it("runs as `npm run verify` does (tsx dataplane/verify/verifyMain.ts) and exits with the verdict", async () => {
    const port = await serve(twentyPercent);
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "dataplane/verify/verifyMain.ts",
        "--port",
        String(port),
        "-n",
        "20",
        "--expect-v2",
        "20",
        "--json",
      ],
      { timeout: 15_000 },
    );
    expect(JSON.parse(stdout)).toMatchObject({ counts: { v1: 16, v2: 4 }, exitCode: 0 });
    await expect(
      run(
        process.execPath,
        ["--import", "tsx", "dataplane/verify/verifyMain.ts", "--expect-v2", "x"],
        {
          timeout: 15_000,
        },
      ),
    ).rejects.toMatchObject({ code: EXIT_CODES.usage });
  });
});
