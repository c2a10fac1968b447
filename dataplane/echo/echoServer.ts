/**
 * A tcp-echo server byte-compatible with Istio's `tcp-echo-server` (samples/tcp-echo): every
 * complete `\n`-terminated line L is answered with `prefix + " " + L`, raw bytes, in order; a
 * partial last line gets no reply; the connection closes on client EOF. No greeting, no timeout.
 */
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { formatAddress } from "../../contract/hostPort";
import { ConnectionTracker } from "../shared/connectionTracker";
import { type Logger, levelEnabled, silentLogger } from "../shared/jsonLogger";
import { listenOn, stopAccepting } from "../shared/listen";

/** Options of `createEchoServer`. */
export interface EchoServerOptions {
  /** Ports to listen on (0 lets the OS choose). Istio 1.2+ accepts several. */
  ports: number[];
  /** Prepended to every reply line, followed by one space (`one`, `two`, `hello`). */
  prefix: string;
  /** Address to bind. @default all interfaces, like Istio's `net.Listen("tcp", ":port")` */
  host?: string;
  /** Where the listen address and each request/response line are logged. @default silent */
  logger?: Logger;
}

/** A running (or ready to run) echo server. */
export interface EchoServer {
  /** Bind every port; resolves with the bound addresses in `ports` order. */
  listen(): Promise<AddressInfo[]>;
  /** Stop accepting, let open connections finish within `graceMs`, then destroy the rest. */
  close(graceMs?: number): Promise<void>;
}

const NEWLINE = 0x0a;
/** Longest part of a line written to a log line; echoing is never truncated. */
const LOG_LINE_LIMIT = 1024;
const DEFAULT_GRACE_MS = 10_000;

/** Per-connection state, kept on the socket so handlers need no closures. */
interface EchoConnection {
  /** Bytes of the current line received so far (no `\n` yet). */
  pending: Buffer[];
}

const STATE = Symbol("echoState");
type EchoSocket = Socket & { [STATE]: EchoConnection };

function logText(bytes: Buffer): string {
  const text = bytes.subarray(0, LOG_LINE_LIMIT).toString("utf8");
  return bytes.length > LOG_LINE_LIMIT ? `${text}…(${bytes.length} bytes)` : text;
}

/**
 * Split a chunk into complete lines and build the replies. Exported for unit tests of the
 * splitting rule: returns the reply bytes for every line completed by `chunk`.
 */
export function echoReplies(
  prefix: Buffer,
  pending: Buffer[],
  chunk: Buffer,
  onLine?: (line: Buffer, reply: Buffer) => void,
): Buffer[] {
  const replies: Buffer[] = [];
  let start = 0;
  let newline = chunk.indexOf(NEWLINE, start);
  while (newline !== -1) {
    const tail = chunk.subarray(start, newline + 1);
    const line = pending.length ? Buffer.concat([...pending, tail]) : tail;
    pending.length = 0;
    const reply = Buffer.concat([prefix, line]);
    replies.push(reply);
    onLine?.(line, reply);
    start = newline + 1;
    newline = chunk.indexOf(NEWLINE, start);
  }
  if (start < chunk.length) pending.push(start === 0 ? chunk : chunk.subarray(start));
  return replies;
}

/** Create an echo server; nothing is bound until `listen()`. */
export function createEchoServer(options: EchoServerOptions): EchoServer {
  const logger = options.logger ?? silentLogger;
  const prefix = Buffer.from(`${options.prefix} `, "utf8");
  const tracker = new ConnectionTracker<Socket>();
  const servers: Server[] = [];
  const logLines = levelEnabled(logger, "info");

  const onLine = (line: Buffer, reply: Buffer): void => {
    logger.info("request", { line: logText(line) });
    logger.info("response", { line: logText(reply) });
  };

  function onData(this: EchoSocket, chunk: Buffer): void {
    const replies = echoReplies(prefix, this[STATE].pending, chunk, logLines ? onLine : undefined);
    if (replies.length === 0) return;
    const ok = this.write(replies.length === 1 ? (replies[0] as Buffer) : Buffer.concat(replies));
    // Like the Go server blocking in conn.Write: stop reading until the client reads replies.
    if (!ok) this.pause();
  }
  function onDrain(this: EchoSocket): void {
    this.resume();
  }
  function onError(this: EchoSocket, error: Error): void {
    logger.warn("connection error", { error });
    this.destroy();
  }
  function onClose(this: EchoSocket): void {
    tracker.delete(this);
  }

  const onConnection = (socket: Socket): void => {
    const echoSocket = socket as EchoSocket;
    echoSocket[STATE] = { pending: [] };
    tracker.add(socket);
    socket.setNoDelay(true);
    socket.on("data", onData);
    socket.on("drain", onDrain);
    socket.on("error", onError);
    socket.on("close", onClose);
    // allowHalfOpen is false: on client EOF, Node ends our side once the replies are written,
    // which is the Go server's `defer conn.Close()` after ReadBytes returns io.EOF.
  };

  return {
    async listen() {
      const addresses: AddressInfo[] = [];
      try {
        for (const port of options.ports) {
          const server = createServer({ noDelay: true }, onConnection);
          servers.push(server);
          const address = await listenOn(server, options.host, port, "tcp-echo");
          addresses.push(address);
          logger.info("listening", { address: formatAddress(address), prefix: options.prefix });
        }
      } catch (error) {
        for (const server of servers.splice(0)) stopAccepting(server);
        throw error;
      }
      return addresses;
    },

    async close(graceMs = DEFAULT_GRACE_MS) {
      for (const server of servers.splice(0)) stopAccepting(server);
      await tracker.drain(graceMs);
    },
  };
}
