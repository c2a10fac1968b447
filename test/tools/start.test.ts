import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../dataplane/shared/jsonLogger";
import { runVerify } from "../../dataplane/verify/verify";
import {
  type LocalStack,
  localConfig,
  localMaxConnections,
  startLocalStack,
} from "../../tools/local/localStack";
import { httpGet, sample } from "../dataplane/netHelpers";
import { aliveInGroup, type NpmRun, runNpm } from "../dataplane/npmProcess";

const PROJECT_ROOT = join(__dirname, "..", "..");

/** Lines printed by local mode, with a way to await one that has not been printed yet. */
class PrintedLines {
  readonly lines: string[] = [];
  private waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  readonly push = (line: string): void => {
    this.lines.push(line);
    for (const waiter of [...this.waiters]) {
      if (!waiter.match(line)) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  };

  /** Resolve with the first line from now on that contains `text`; bounded by `timeoutMs`. */
  next(text: string, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no line containing ${JSON.stringify(text)} within ${timeoutMs} ms; got:\n${this.lines.join("\n")}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        match: (line) => line.includes(text),
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }
}

/** Save a file the way editors do: write a sibling, then rename it over the original. */
function saveLikeAnEditor(path: string, text: string): void {
  writeFileSync(`${path}.swp`, text);
  renameSync(`${path}.swp`, path);
}

function stackFileText(weightV2: string): string {
  return [
    "config:",
    "  alicloud:region: cn-hangzhou",
    `  tcp-shift:weightV2: "${weightV2}"`,
    // A secret local mode cannot decrypt must not stop it.
    "  tcp-shift:kubeconfig:",
    "    secure: v1:AAAABBBBCCCC",
    "",
  ].join("\n");
}

/** One connection that stays open: send a line, await its reply line. */
class OpenConnection {
  private buffered = "";
  private waiting: ((line: string) => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffered += chunk;
      const end = this.buffered.indexOf("\n");
      if (end === -1 || !this.waiting) return;
      const line = this.buffered.slice(0, end + 1);
      this.buffered = this.buffered.slice(end + 1);
      this.waiting(line);
      this.waiting = undefined;
    });
  }

  static async open(port: number): Promise<OpenConnection> {
    const socket = connect({ host: "127.0.0.1", port });
    await once(socket, "connect");
    return new OpenConnection(socket);
  }

  ask(line: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(`${line}\n`);
    });
  }
}

/** The tutorial's client: send one line, half-close (FIN), read until the server closes. */
async function sendAndHalfClose(port: number, line: string): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.setEncoding("utf8");
  let received = "";
  socket.on("data", (chunk: string) => {
    received += chunk;
  });
  await once(socket, "connect");
  socket.end(`${line}\n`);
  await once(socket, "close");
  return received;
}

async function verifyCounts(port: number, connections: number) {
  const result = await runVerify({
    host: "127.0.0.1",
    port,
    connections,
    concurrency: 16,
    timeoutMs: 5000,
  });
  expect(result.failed).toBe(0);
  return result.counts;
}

/**
 * Local mode in process, on a fresh directory whose Pulumi.dev.yaml starts as `text`: started
 * before the describe's tests and closed after them.
 */
function localStackOn(text: string) {
  const local = { printed: new PrintedLines(), errors: new PrintedLines() } as {
    dir: string;
    stackFile: string;
    stack: LocalStack;
    printed: PrintedLines;
    errors: PrintedLines;
  };
  beforeAll(async () => {
    local.dir = mkdtempSync(join(tmpdir(), "tcp-shift-local-"));
    local.stackFile = join(local.dir, "Pulumi.dev.yaml");
    writeFileSync(local.stackFile, text);
    local.stack = await startLocalStack({
      dir: local.dir,
      port: 0,
      print: local.printed.push,
      printError: local.errors.push,
      logger: silentLogger,
      debounceMs: 20,
    });
  });
  afterAll(async () => {
    await local.stack?.close(1000);
    rmSync(local.dir, { recursive: true, force: true });
  });
  return local;
}

describe("local mode (in process)", () => {
  const local = localStackOn(stackFileText("0"));
  const { printed, errors } = local;

  it("prints one line per listener and the weights in force", () => {
    expect(local.stack.port).toBeGreaterThan(0);
    expect(printed.lines).toEqual([
      `listening on 127.0.0.1:${local.stack.echo.v1.port} (tcp-echo v1, prefix "one")`,
      `listening on 127.0.0.1:${local.stack.echo.v2.port} (tcp-echo v2, prefix "two")`,
      `listening on 127.0.0.1:${local.stack.port} (gateway, stack dev)`,
      "weights v1=100 v2=0 (Pulumi.dev.yaml)",
    ]);
  });

  it("shifts live: all v1, then exactly 20% v2; open connections and bad edits change nothing", async () => {
    expect(await verifyCounts(local.stack.port, 50)).toEqual({ v1: 50, v2: 0 });
    // The tutorial's `(date; sleep 1) | nc`: the half-close must not lose the reply.
    expect(await sendAndHalfClose(local.stack.port, "Mon Nov 12 23:38:45 UTC 2018")).toBe(
      "one Mon Nov 12 23:38:45 UTC 2018\n",
    );

    const before = await OpenConnection.open(local.stack.port);
    expect(await before.ask("opened before the shift")).toBe("one opened before the shift\n");

    const shifted = printed.next("weights v1=80");
    saveLikeAnEditor(local.stackFile, stackFileText("20"));
    expect(await shifted).toBe("weights v1=80 v2=20 (Pulumi.dev.yaml)");
    expect(local.stack.weights).toEqual({ v1: 80, v2: 20 });

    // Smooth weighted round robin: every 5 consecutive new connections hold exactly one v2.
    expect(await verifyCounts(local.stack.port, 200)).toEqual({ v1: 160, v2: 40 });
    // The connection from before the shift still talks to v1 (Envoy would cut or keep it on
    // the old listener; this gateway never touches it).
    expect(await before.ask("still here")).toBe("one still here\n");

    const rejected = errors.next("keeping weights");
    writeFileSync(local.stackFile, stackFileText("150"));
    await rejected;
    expect(errors.lines).toContain(
      `Invalid tcp-shift configuration in ${local.stackFile}:\n  - tcp-shift:weightV2 = "150": must be an integer from 0 to 100`,
    );
    expect(errors.lines).toContain("keeping weights v1=80 v2=20 (Pulumi.dev.yaml)");
    expect(await verifyCounts(local.stack.port, 100)).toEqual({ v1: 80, v2: 20 });
    expect(await before.ask("and here")).toBe("one and here\n");

    // Fixing the file is confirmed even though the weights it restores are the ones in force.
    const fixed = printed.next("weights v1=80");
    saveLikeAnEditor(local.stackFile, stackFileText("20"));
    expect(await fixed).toBe("weights v1=80 v2=20 (Pulumi.dev.yaml)");
    before.socket.destroy();
  });
});

describe("local mode follows the stack file", () => {
  /** A stack whose gateway options local mode can act on (they need the bundled gateway). */
  const gatewayStack = (lines: string[]) =>
    [
      "config:",
      "  tcp-shift:splitter: gateway",
      "  tcp-shift:gatewayImage: registry.example.com/tcp-shift/gateway:1",
      ...lines.map((line) => `  ${line}`),
      "",
    ].join("\n");
  const local = localStackOn(gatewayStack(['tcp-shift:weightV2: "0"']));
  const { printed } = local;

  it("an emptied or deleted stack file: one line each, the weights stay in force", async () => {
    saveLikeAnEditor(local.stackFile, gatewayStack(['tcp-shift:weightV2: "20"']));
    await printed.next("weights v1=80");
    let line = printed.next("Pulumi.dev.yaml is");
    saveLikeAnEditor(local.stackFile, "");
    expect(await line).toBe(
      "Pulumi.dev.yaml is empty: keeping weights v1=80 v2=20 (Pulumi.dev.yaml)",
    );
    line = printed.next("Pulumi.dev.yaml is");
    rmSync(local.stackFile);
    expect(await line).toBe(
      "Pulumi.dev.yaml is gone: keeping weights v1=80 v2=20 (Pulumi.dev.yaml)",
    );
    expect(local.stack.weights).toEqual({ v1: 80, v2: 20 });
    expect(await verifyCounts(local.stack.port, 10)).toEqual({ v1: 8, v2: 2 });
    // Back with the same weights: confirmed.
    line = printed.next("weights v1=80");
    saveLikeAnEditor(local.stackFile, gatewayStack(['tcp-shift:weightV2: "20"']));
    expect(await line).toBe("weights v1=80 v2=20 (Pulumi.dev.yaml)");
    expect(printed.lines.filter((l) => l.startsWith("Pulumi.dev.yaml is"))).toHaveLength(2);
  });

  it("applies gatewayBalance sticky, gatewayProxyProtocol, drainAfter and drainRate live", async () => {
    const line = printed.next("gateway: balance sticky");
    saveLikeAnEditor(
      local.stackFile,
      gatewayStack([
        'tcp-shift:weightV2: "20"',
        "tcp-shift:gatewayBalance: sticky",
        'tcp-shift:gatewayProxyProtocol: "true"',
        "tcp-shift:drainAfter: 30s",
        'tcp-shift:drainRate: "5"',
      ]),
    );
    expect(await line).toBe(
      "gateway: balance sticky, PROXY protocol on, drain after 30s at 5/s (Pulumi.dev.yaml)",
    );
    // The gateway now wants a PROXY header, and hashes the address it carries.
    const reply = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: local.stack.port });
      let text = "";
      socket.setEncoding("utf8").on("data", (chunk: string) => {
        text += chunk;
      });
      socket.on("close", () => resolve(text));
      socket.end("PROXY TCP4 203.0.113.7 127.0.0.1 5000 31400\nhello\n".replace("\n", "\r\n"));
    });
    expect(reply).toMatch(/^(one|two) hello\n$/);
    const back = printed.next("gateway: balance smooth");
    saveLikeAnEditor(local.stackFile, gatewayStack(['tcp-shift:weightV2: "20"']));
    expect(await back).toBe(
      "gateway: balance smooth, PROXY protocol off, no drain (Pulumi.dev.yaml)",
    );
    expect(await verifyCounts(local.stack.port, 10)).toEqual({ v1: 8, v2: 2 });
  });
});

describe("local mode config", () => {
  it("keeps the gateway's connection limit within the open-files limit (3 descriptors each)", () => {
    expect(localMaxConnections(20_000)).toBe(6645);
    expect(localMaxConnections(1_048_576)).toBe(10_000);
    expect(localMaxConnections(1024)).toBe(320);
    expect(localMaxConnections(undefined)).toBe(10_000);
  });

  it("stands in for secrets it cannot decrypt, and refuses a secret weight", () => {
    expect(localConfig(stackFileText("30"), "Pulumi.dev.yaml").weightV2).toBe(30);
    const standalone = [
      "config:",
      "  tcp-shift:mode: standalone",
      "  tcp-shift:gatewayImage: registry.example.com/tcp-shift/gateway:1",
      '  tcp-shift:gatewayBuild: "true"',
      "  tcp-shift:registryUsername: ci",
      "  tcp-shift:registryPassword:",
      "    secure: v1:AAAA",
      "  tcp-shift:meshKubeconfig:",
      "    secure: v1:BBBB",
    ].join("\n");
    expect(localConfig(standalone, "Pulumi.dev.yaml").mode).toBe("standalone");
    expect(() =>
      localConfig("config:\n  tcp-shift:weightV2:\n    secure: v1:AAAA\n", "Pulumi.dev.yaml"),
    ).toThrow(
      "Pulumi.dev.yaml: tcp-shift:weightV2 is encrypted ({secure: ...}) and local mode cannot decrypt it; set it in plain text",
    );
  });

  it("refuses a key without the tcp-shift: namespace like an unknown key, with the key it means", () => {
    expect(() =>
      localConfig('config:\n  alicloud:region: cn-hangzhou\n  weightV2: "30"\n', "Pulumi.dev.yaml"),
    ).toThrow(
      'Invalid tcp-shift configuration in Pulumi.dev.yaml:\n  - weightV2 = "30": key without a namespace (Pulumi ignores it); did you mean tcp-shift:weightV2?',
    );
    // Said together with the file's other problems.
    expect(() =>
      localConfig('config:\n  weigthV2: "30"\n  tcp-shift:weightV2: "300"\n', "Pulumi.dev.yaml"),
    ).toThrow(
      'Invalid tcp-shift configuration in Pulumi.dev.yaml:\n  - weigthV2 = "30": key without a namespace (Pulumi ignores it); did you mean tcp-shift:weightV2?\n  - tcp-shift:weightV2 = "300": must be an integer from 0 to 100',
    );
  });

  it("starts on defaults without a stack file and applies the file once it appears", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tcp-shift-local-"));
    const printed = new PrintedLines();
    const stack = await startLocalStack({
      dir,
      stack: "fresh",
      port: 0,
      print: printed.push,
      printError: printed.push,
      logger: silentLogger,
      debounceMs: 20,
    });
    try {
      expect(printed.lines[0]).toBe(
        "no Pulumi.fresh.yaml yet: using the default config (weightV2 0) until it appears",
      );
      const applied = printed.next("weights v1=50");
      writeFileSync(join(dir, "Pulumi.fresh.yaml"), stackFileText("50"));
      expect(await applied).toBe("weights v1=50 v2=50 (Pulumi.fresh.yaml)");
      expect(await verifyCounts(stack.port, 10)).toEqual({ v1: 5, v2: 5 });
    } finally {
      await stack.close(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("local mode --admin: the gateway's admin endpoints", () => {
  it("serves /healthz, /readyz and /metrics of the local gateway; a weight edit shows at the next scrape", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tcp-shift-admin-"));
    const stackFile = join(dir, "Pulumi.dev.yaml");
    writeFileSync(stackFile, stackFileText("0"));
    const printed = new PrintedLines();
    const stack = await startLocalStack({
      dir,
      port: 0,
      admin: "127.0.0.1:0",
      print: printed.push,
      printError: () => {},
      logger: silentLogger,
      debounceMs: 20,
    });
    try {
      const admin = stack.admin?.port as number;
      expect(printed.lines).toContain(
        `listening on 127.0.0.1:${admin} (gateway admin: /healthz /readyz /metrics)`,
      );
      expect(await httpGet(admin, "/healthz")).toEqual({ status: 200, body: "ok\n" });
      expect(await httpGet(admin, "/readyz")).toEqual({ status: 200, body: "ready\n" });
      expect(await verifyCounts(stack.port, 10)).toEqual({ v1: 10, v2: 0 });
      const weight = 'tcp_gateway_route_weight{listener="tcp-echo",route="v2"}';
      const before = (await httpGet(admin, "/metrics")).body;
      expect(sample(before, weight)).toBe(0);
      expect(sample(before, 'tcp_gateway_connections_total{listener="tcp-echo",route="v1"}')).toBe(
        10,
      );
      expect(before).toContain("process_cpu_seconds_total");
      // Rendered a moment ago, yet the reload shows at once: the cache ends with a reload.
      const applied = printed.next("weights v1=80");
      saveLikeAnEditor(stackFile, stackFileText("20"));
      await applied;
      expect(sample((await httpGet(admin, "/metrics")).body, weight)).toBe(20);
      expect((await httpGet(admin, "/nope")).status).toBe(404);
    } finally {
      await stack.close(1000);
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(httpGet(stack.admin?.port as number, "/healthz")).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
  });
});

/** `npm start` as a user runs it, minus npm: node with tsx, the flags, its stdout and exit code. */
function startProcess(args: string[]): {
  child: ChildProcess;
  stdout: PrintedLines;
  stderr: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", "tools/local/start.ts", ...args], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout = new PrintedLines();
  let pending = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    let end = pending.indexOf("\n");
    while (end !== -1) {
      stdout.push(pending.slice(0, end));
      pending = pending.slice(end + 1);
      end = pending.indexOf("\n");
    }
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exit = once(child, "exit").then(([code]) => code as number | null);
  return { child, stdout, stderr: () => stderr, exit };
}

describe("npm start (child process)", () => {
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tcp-shift-start-"));
    writeFileSync(join(dir, "Pulumi.ci.yaml"), stackFileText("0"));
  });

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints its listeners, refuses a busy port with exit 1, and exits 0 on SIGTERM", async () => {
    const first = startProcess(["--stack", "ci", "--dir", dir, "--port", "0"]);
    children.push(first.child);
    // The last line of the banner; the ones before it arrive in the same or earlier chunks.
    await first.stdout.next("shift:", 15_000);
    const gatewayLine = first.stdout.lines.find((line) => line.includes("(gateway, stack ci)"));
    const port = Number(/127\.0\.0\.1:(\d+) /.exec(gatewayLine ?? "")?.[1]);
    expect(first.stdout.lines).toEqual([
      expect.stringMatching(/^listening on 127\.0\.0\.1:\d+ \(tcp-echo v1, prefix "one"\)$/),
      expect.stringMatching(/^listening on 127\.0\.0\.1:\d+ \(tcp-echo v2, prefix "two"\)$/),
      `listening on 127.0.0.1:${port} (gateway, stack ci)`,
      "weights v1=100 v2=0 (Pulumi.ci.yaml)",
      "try it:",
      `  (date; sleep 1) | nc -N 127.0.0.1 ${port}`,
      `  npm run verify -- --host 127.0.0.1 --port ${port} -n 200 --expect-v2 0`,
      `shift: set tcp-shift:weightV2 in ${join(dir, "Pulumi.ci.yaml")} (or pulumi config set weightV2 20); Ctrl-C stops`,
    ]);
    expect(await sendAndHalfClose(port, "hello")).toBe("one hello\n");

    const second = startProcess(["--stack", "ci", "--dir", dir, "--port", String(port)]);
    children.push(second.child);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toContain(
      `start: Cannot listen on 127.0.0.1:${port}: another program (perhaps another npm start) is using it; pick another port with --port, e.g. npm start -- --port ${port + 1}`,
    );
    expect(second.stderr()).not.toContain("    at ");

    first.child.kill("SIGTERM");
    expect(await first.exit).toBe(0);
    expect(first.stdout.lines.slice(-2)).toEqual([
      `SIGTERM: stopping 127.0.0.1:${port}`,
      "stopped",
    ]);
  });

  it("--admin 127.0.0.1:0 serves /metrics and prints its address and a shift that uses it", async () => {
    const run = startProcess([
      "--stack",
      "ci",
      "--dir",
      dir,
      "--port",
      "0",
      "--admin",
      "127.0.0.1:0",
    ]);
    children.push(run.child);
    await run.stdout.next("shift:", 15_000);
    const addressOf = (what: string) =>
      Number(
        /127\.0\.0\.1:(\d+) /.exec(run.stdout.lines.find((line) => line.includes(what)) ?? "")?.[1],
      );
    const port = addressOf("(gateway, stack ci)");
    const admin = addressOf("(gateway admin:");
    expect(run.stdout.lines).toEqual([
      expect.stringMatching(/^listening on 127\.0\.0\.1:\d+ \(tcp-echo v1, prefix "one"\)$/),
      expect.stringMatching(/^listening on 127\.0\.0\.1:\d+ \(tcp-echo v2, prefix "two"\)$/),
      `listening on 127.0.0.1:${port} (gateway, stack ci)`,
      `listening on 127.0.0.1:${admin} (gateway admin: /healthz /readyz /metrics)`,
      "weights v1=100 v2=0 (Pulumi.ci.yaml)",
      "try it:",
      `  (date; sleep 1) | nc -N 127.0.0.1 ${port}`,
      `  npm run verify -- --host 127.0.0.1 --port ${port} -n 200 --expect-v2 0`,
      `  npm run shift -- --stack-file ${join(dir, "Pulumi.ci.yaml")} --host 127.0.0.1 --port ${port} --metrics http://127.0.0.1:${admin}/metrics --steps 5,20,50,100 --interval 30s`,
      `shift: set tcp-shift:weightV2 in ${join(dir, "Pulumi.ci.yaml")} (or pulumi config set weightV2 20); Ctrl-C stops`,
    ]);
    expect(await sendAndHalfClose(port, "hello")).toBe("one hello\n");
    const metrics = (await httpGet(admin, "/metrics")).body;
    expect(sample(metrics, 'tcp_gateway_connections_total{listener="tcp-echo",route="v1"}')).toBe(
      1,
    );
    expect(sample(metrics, 'tcp_gateway_route_weight{listener="tcp-echo",route="v1"}')).toBe(100);
    run.child.kill("SIGTERM");
    expect(await run.exit).toBe(0);
  });

  it("a second SIGINT within 500 ms is the same Ctrl-C (relayed by a launcher); a later one means now", async () => {
    const open = async (run: ReturnType<typeof startProcess>) => {
      await run.stdout.next("shift:", 15_000);
      const gatewayLine = run.stdout.lines.find((line) => line.includes("(gateway, stack ci)"));
      const port = Number(/127\.0\.0\.1:(\d+) /.exec(gatewayLine ?? "")?.[1]);
      const session = await OpenConnection.open(port);
      expect(await session.ask("before")).toBe("one before\n");
      return session;
    };
    const relayed = startProcess(["--stack", "ci", "--dir", dir, "--port", "0"]);
    children.push(relayed.child);
    const session = await open(relayed);
    relayed.child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 100));
    relayed.child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Still draining: the session is served until it ends, then the process exits 0.
    expect(relayed.child.exitCode).toBeNull();
    expect(await session.ask("during")).toBe("one during\n");
    session.socket.end();
    expect(await relayed.exit).toBe(0);
    expect(relayed.stdout.lines.some((line) => line.includes("again"))).toBe(false);

    const twice = startProcess(["--stack", "ci", "--dir", dir, "--port", "0"]);
    children.push(twice.child);
    const other = await open(twice);
    twice.child.kill("SIGINT");
    await twice.stdout.next("SIGINT: stopping");
    await new Promise((resolve) => setTimeout(resolve, 700));
    twice.child.kill("SIGINT");
    expect(await twice.exit).toBe(130);
    expect(twice.stdout.lines).toContain("SIGINT again: exiting without draining");
    other.socket.destroy();
  });

  it("exits 2 on a bad flag or --dir, 1 on a missing named stack (listing those there), without a stack trace", async () => {
    const badFlag = startProcess(["--port", "http"]);
    const missing = startProcess(["--stack", "nope", "--dir", dir, "--port", "0"]);
    const noDir = startProcess(["--dir", "/nonexistent/tcp-shift", "--port", "0"]);
    const badAdmin = startProcess(["--dir", dir, "--port", "0", "--admin", "9901"]);
    children.push(badFlag.child, missing.child, noDir.child, badAdmin.child);
    expect(await badFlag.exit).toBe(2);
    expect(badFlag.stderr()).toBe(
      'start: --port must be a whole number from 0 to 65535, got "http" (see npm start -- --help)\n',
    );
    expect(await missing.exit).toBe(1);
    expect(missing.stderr()).toBe(
      `start: No stack file ${join(dir, "Pulumi.nope.yaml")}; the stacks in ${dir} are ci (pick one with --stack)\n`,
    );
    expect(await noDir.exit).toBe(2);
    expect(noDir.stderr()).toBe(
      "start: --dir /nonexistent/tcp-shift: no such directory (see npm start -- --help)\n",
    );
    expect(await badAdmin.exit).toBe(2);
    expect(badAdmin.stderr()).toBe(
      'start: --admin must be host:port or [ipv6]:port with a port from 0 to 65535, got "9901" (see npm start -- --help)\n',
    );
  });

  it("exits 2 on a --stack that is no stack name, before looking for its file", async () => {
    const badStack = startProcess(["--stack", "../prod", "--dir", dir, "--port", "0"]);
    children.push(badStack.child);
    expect(await badStack.exit).toBe(2);
    expect(badStack.stderr()).toBe(
      `start: --stack must be a stack name (letters, digits, '-', '_' or '.'), got "../prod" (see npm start -- --help)\n`,
    );
  });
});

describe("npm start (as a user runs it, through npm)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tcp-shift-npm-"));
    writeFileSync(join(dir, "Pulumi.ci.yaml"), stackFileText("0"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** `npm start` on an OS port, with one session open and answered. */
  async function startWithSession(npm: NpmRun) {
    await npm.line((line) => line.startsWith("shift:"));
    const gatewayLine = npm.lines.find((line) => line.includes("(gateway, stack ci)"));
    const port = Number(/127\.0\.0\.1:(\d+) /.exec(gatewayLine ?? "")?.[1]);
    const session = await OpenConnection.open(port);
    expect(await session.ask("before")).toBe("one before\n");
    return { port, session };
  }

  /** The session ends cleanly, the port is free and no process of the group is left. */
  async function expectAllStopped(npm: NpmRun, port: number, session: OpenConnection) {
    expect(await session.ask("after")).toBe("one after\n");
    let error: Error | undefined;
    session.socket.on("error", (e) => {
      error = e;
    });
    const closed = once(session.socket, "close");
    session.socket.end();
    await closed;
    expect(error).toBeUndefined();
    await expect
      .poll(
        () =>
          new Promise<string>((resolve) => {
            const probe = connect({ host: "127.0.0.1", port });
            probe.on("connect", () => {
              probe.destroy();
              resolve("open");
            });
            probe.on("error", (e: NodeJS.ErrnoException) => resolve(String(e.code)));
          }),
        { timeout: 10_000 },
      )
      .toBe("ECONNREFUSED");
    await expect.poll(() => aliveInGroup(npm.child.pid as number), { timeout: 10_000 }).toEqual([]);
    // Read to the end of the output (the last lines may still be in the pipe).
    await npm.line((line) => line === "stopped");
    await npm.exited;
    expect(npm.lines.some((line) => line.includes("again"))).toBe(false);
  }

  it("kill -TERM of npm's pid stops everything, drained", async () => {
    const npm = runNpm(["start", "--", "--stack", "ci", "--dir", dir, "--port", "0"]);
    try {
      const { port, session } = await startWithSession(npm);
      process.kill(npm.child.pid as number, "SIGTERM");
      await npm.line((line) => line.includes(": stopping 127.0.0.1:"));
      await expectAllStopped(npm, port, session);
    } finally {
      npm.killAll();
    }
  });

  it("Ctrl-C once (SIGINT to the whole process group, as a terminal sends it) drains and stops", async () => {
    const npm = runNpm(["start", "--", "--stack", "ci", "--dir", dir, "--port", "0"]);
    try {
      const { port, session } = await startWithSession(npm);
      process.kill(-(npm.child.pid as number), "SIGINT");
      await npm.line((line) => line.startsWith("SIGINT: stopping 127.0.0.1:"));
      await expectAllStopped(npm, port, session);
    } finally {
      npm.killAll();
    }
  });
});
