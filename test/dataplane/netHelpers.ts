/** Socket helpers for the gateway tests: everything on 127.0.0.1, ports from the OS. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type RouteFile, type RouteFileInput, validateRouteFile } from "../../contract/routeFile";
import { createEchoServer, type EchoServer } from "../../dataplane/echo/echoServer";
import {
  createGateway,
  type GatewayOptions,
  type TcpGateway,
} from "../../dataplane/gateway/tcpGateway";
import type { Logger } from "../../dataplane/shared/jsonLogger";

export const HOST = "127.0.0.1";

/**
 * Connect and wait until connected. `allowHalfOpen` (default true) keeps our side writable after
 * the peer's FIN, so a test sees exactly what the peer does.
 */
export async function connectTo(port: number, allowHalfOpen = true): Promise<Socket> {
  const socket = connect({ host: HOST, port, allowHalfOpen });
  await once(socket, "connect");
  return socket;
}

/** Everything a socket receives until the peer closes (FIN or reset), and how it ended. */
export function collect(socket: Socket): Promise<{ data: Buffer; error?: Error }> {
  const chunks: Buffer[] = [];
  let error: Error | undefined;
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", (e) => {
    error = e;
  });
  return new Promise((resolve) => {
    socket.on("close", () => resolve({ data: Buffer.concat(chunks), error }));
  });
}

/**
 * Open a connection, send `payload`, half-close (like `(date; sleep 1) | nc`), and return all
 * bytes received until the other side closes.
 */
export async function exchange(port: number, payload: string | Buffer): Promise<Buffer> {
  const socket = await connectTo(port);
  const result = collect(socket);
  socket.end(payload);
  const { data, error } = await result;
  if (error) throw error;
  return data;
}

/** Read from a socket until `length` bytes arrived. */
export function readBytes(socket: Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= length) {
        socket.off("data", onData);
        socket.off("error", reject);
        socket.pause();
        const all = Buffer.concat(chunks);
        if (all.length > length) socket.unshift(all.subarray(length));
        resolve(all.subarray(0, length));
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.resume();
  });
}

/** A tcp-echo server on 127.0.0.1 with its port. */
export async function startEcho(prefix: string): Promise<{ server: EchoServer; port: number }> {
  const server = createEchoServer({ ports: [0], prefix, host: HOST });
  const [address] = await server.listen();
  return { server, port: (address as AddressInfo).port };
}

/** The two tcp-echo versions and the gateway routes to them. */
export interface EchoPair {
  one: { server: EchoServer; port: number };
  two: { server: EchoServer; port: number };
  /** Routes `v1` → `one`, `v2` → `two` with these weights. */
  routes(v1: number, v2: number): { name: string; weight: number; endpoints: string[] }[];
}

/** The two tcp-echo versions (`one`, `two`), started before the file's tests and closed after. */
export function echoPair(): EchoPair {
  const pair = {
    routes: (v1: number, v2: number) => [
      { name: "v1", weight: v1, endpoints: [at(pair.one.port)] },
      { name: "v2", weight: v2, endpoints: [at(pair.two.port)] },
    ],
  } as EchoPair;
  beforeAll(async () => {
    pair.one = await startEcho("one");
    pair.two = await startEcho("two");
  });
  afterAll(async () => {
    await Promise.all([pair.one.server.close(0), pair.two.server.close(0)]);
  });
  return pair;
}

/**
 * Gateways for the tests of a file (registers an `afterEach`): the function returned creates one,
 * resolves once it listens, and has it closed at once (grace 0) after the test, however it ended.
 */
export function gatewaysPerTest(): (options: GatewayOptions) => Promise<TcpGateway> {
  const open: TcpGateway[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((gateway) => gateway.close(0)));
  });
  return async (options) => {
    const gateway = createGateway(options);
    open.push(gateway);
    await gateway.listen();
    return gateway;
  };
}

/** The port a gateway's listener (default `app`) is bound to. */
export function portOf(gateway: TcpGateway, listener = "app"): number {
  const address = gateway.address(listener);
  if (!address) throw new Error(`listener ${listener} is not bound`);
  return address.port;
}

/** A backend that sends back every byte it receives, raw (for large transfers). */
export async function startRawEcho(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  server.listen(0, HOST);
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port };
}

/** Python: listen with backlog 0, fill the accept queue, print the port, wait for stdin EOF. */
const BLACKHOLE_PY = `
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
fillers = []
for _ in range(2):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    fillers.append(c)
print(port, flush=True)
sys.stdin.read()
`;

/**
 * A listener that never accepts, its accept queue already full: Linux drops further SYNs, so a
 * connect to it hangs (an "unroutable" address is no good: sandboxes answer every SYN).
 */
export async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const child = spawn("python3", ["-c", BLACKHOLE_PY], { stdio: ["pipe", "pipe", "ignore"] });
  const [portText] = await once(child.stdout, "data");
  return { port: Number(String(portText)), close: () => child.kill() };
}

/** A port that refuses connections: bound once by the OS, then released. */
export async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A one-listener route file listening on 127.0.0.1:0. */
export function singleListener(
  routes: { name: string; weight: number; endpoints: string[] }[],
  extra: Partial<RouteFileInput["listeners"][number]> = {},
  name = "app",
): RouteFile {
  return validateRouteFile(
    { listeners: [{ name, listen: `${HOST}:0`, routes, ...extra }] },
    "test",
  );
}

/** `127.0.0.1:port` */
export const at = (port: number): string => `${HOST}:${port}`;

/** GET `path` of an HTTP server on 127.0.0.1, on a connection of its own. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: HOST, port, path, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (text: string) => {
        body += text;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

/** The value of one sample in Prometheus text, or undefined. */
export function sample(metricsText: string, series: string): number | undefined {
  for (const line of metricsText.split("\n"))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

/** Send `n` connections one after another; returns the prefix each was answered with. */
export async function prefixes(port: number, n: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < n; i++) {
    const reply = (await exchange(port, "x\n")).toString();
    answers.push(reply.slice(0, reply.indexOf(" ")));
  }
  return answers;
}

/** How many `answers` are `prefix`. */
export const count = (answers: string[], prefix: string) =>
  answers.filter((answer) => answer === prefix).length;

/** A logger that keeps every line it is given (level, msg and fields), for assertions. */
export function captureLogger(): {
  logger: Logger;
  lines: { level: string; msg: string; [field: string]: unknown }[];
} {
  const lines: { level: string; msg: string; [field: string]: unknown }[] = [];
  const write =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ ...fields, level, msg });
    };
  return {
    lines,
    logger: {
      debug: write("debug"),
      info: write("info"),
      warn: write("warn"),
      error: write("error"),
      isLevelEnabled: (level) => level !== "debug",
    },
  };
}
