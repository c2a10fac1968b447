/**
 * Node's own libuv TCP handle bindings (`tcp_wrap`, `stream_wrap`): what `net.Socket` is built
 * on, used directly by the gateway's hot path (handleConnection.ts).
 *
 * Why: a `net.Socket` is a Duplex stream: per connection it builds readable and writable state,
 * emits through EventEmitter, and queues writes through the stream machinery. Measured on the
 * benchmark (issue 5), that machinery was most of the gateway's CPU per connection; the same
 * proxy on the bare handles used half the CPU per connection and matched HAProxy's connection
 * rate. The handles are what `net` itself uses, with the same protocol (`onread` reading
 * `streamBaseState`, `WriteWrap`/`ShutdownWrap`/`TCPConnectWrap` requests and their
 * `oncomplete`), stable since Node 12.
 *
 * They are not a public API, so everything is feature-checked once here: when a Node version
 * lacks or changes them, `libuvHandles` is undefined, `handlesUnavailableReason` says why, and
 * the gateway uses its `net.Socket` path (connectionPipe.ts) with the same behaviour.
 */
import type { Server } from "node:net";
import { getSystemErrorName } from "node:util";

/** Status codes are negative libuv error numbers; 0 is success. */
export type UvStatus = number;

/** A libuv TCP handle (`TCPWrap`). */
export interface TcpHandle {
  /**
   * Called with `this` = the handle; the byte count or error is in `streamBaseState`. With a
   * user buffer there is no ArrayBuffer, and a Buffer returned becomes the next reads' buffer.
   */
  onread:
    | ((this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) => Uint8Array | undefined)
    | undefined;
  readStart(): UvStatus;
  readStop(): UvStatus;
  writeBuffer(req: WriteRequest, data: Uint8Array): UvStatus;
  shutdown(req: ShutdownRequest): UvStatus;
  connect(req: ConnectRequest, address: string, port: number): UvStatus;
  connect6(req: ConnectRequest, address: string, port: number): UvStatus;
  setNoDelay(enable: boolean): UvStatus;
  getpeername(out: { address?: string; port?: number; family?: string }): UvStatus;
  /**
   * Read into `buffer` from now on (always at offset 0, `onread` gets no ArrayBuffer) instead of
   * a new allocation per read, until `onread` returns another buffer.
   */
  useUserBuffer(buffer: Uint8Array): void;
  close(callback?: () => void): void;
  /** Close with a reset (RST: SO_LINGER 0), as `net.Socket.resetAndDestroy()` does. */
  reset(callback?: () => void): UvStatus;
}

/** A write request; `oncomplete` runs only when the write went asynchronous. */
export interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (this: WriteRequest, status: UvStatus) => void;
  async: boolean;
  /** Keeps the data alive while the kernel has not taken all of it. */
  buffer: Uint8Array | null;
}

/** A shutdown (FIN after the queued writes) request; Node calls `oncomplete` only if it is set. */
export interface ShutdownRequest {
  handle: TcpHandle;
  oncomplete?: (this: ShutdownRequest, status: UvStatus) => void;
}

/** A connect request. */
export interface ConnectRequest {
  oncomplete: (this: ConnectRequest, status: UvStatus, handle: TcpHandle) => void;
  address: string;
  port: number;
}

/** The constructors and shared state of the bindings. */
export interface LibuvHandles {
  /** `new TCP(SOCKET)`: an unconnected socket handle. */
  newSocket(): TcpHandle;
  newWrite(): WriteRequest;
  newShutdown(): ShutdownRequest;
  newConnect(): ConnectRequest;
  /** `streamBaseState[kReadBytesOrError]`: bytes read (> 0), `UV_EOF` or an error (< 0). */
  readBytesOrError(): number;
  /** `streamBaseState[kLastWriteWasAsync]`: the last write did not complete synchronously. */
  lastWriteWasAsync(): boolean;
  /** libuv's end-of-stream status. */
  readonly UV_EOF: number;
  /** The statuses of a reset: read or write after the peer's RST, write after it went away. */
  readonly UV_ECONNRESET: number;
  readonly UV_EPIPE: number;
}

interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number; SERVER: number };
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  streamBaseState: Int32Array;
}

interface UvBinding {
  UV_EOF: number;
  UV_ECONNRESET: number;
  UV_EPIPE: number;
}

type ProcessWithBinding = NodeJS.Process & { binding(name: string): unknown };

function load(): LibuvHandles | string {
  const binding = (process as ProcessWithBinding).binding;
  if (typeof binding !== "function") return "process.binding() is not available";
  let tcp: TcpWrapBinding;
  let stream: StreamWrapBinding;
  let uv: UvBinding;
  try {
    tcp = binding("tcp_wrap") as TcpWrapBinding;
    stream = binding("stream_wrap") as StreamWrapBinding;
    uv = binding("uv") as UvBinding;
  } catch (error) {
    return `process.binding() refused: ${(error as Error).message}`;
  }
  const missing = [
    typeof tcp.TCP === "function" ? "" : "tcp_wrap.TCP",
    typeof tcp.TCPConnectWrap === "function" ? "" : "tcp_wrap.TCPConnectWrap",
    typeof tcp.constants?.SOCKET === "number" ? "" : "tcp_wrap.constants.SOCKET",
    typeof stream.WriteWrap === "function" ? "" : "stream_wrap.WriteWrap",
    typeof stream.ShutdownWrap === "function" ? "" : "stream_wrap.ShutdownWrap",
    stream.streamBaseState instanceof Int32Array ? "" : "stream_wrap.streamBaseState",
    typeof stream.kReadBytesOrError === "number" ? "" : "stream_wrap.kReadBytesOrError",
    typeof stream.kLastWriteWasAsync === "number" ? "" : "stream_wrap.kLastWriteWasAsync",
    typeof uv.UV_EOF === "number" ? "" : "uv.UV_EOF",
    typeof uv.UV_ECONNRESET === "number" ? "" : "uv.UV_ECONNRESET",
    typeof uv.UV_EPIPE === "number" ? "" : "uv.UV_EPIPE",
  ].filter(Boolean);
  if (missing.length > 0) return `Node ${process.version} lacks ${missing.join(", ")}`;
  const prototype = tcp.TCP.prototype as unknown as Record<string, unknown>;
  // Every method of TcpHandle the gateway calls.
  const methods = [
    "readStart",
    "readStop",
    "writeBuffer",
    "shutdown",
    "connect",
    "connect6",
    "setNoDelay",
    "getpeername",
    "useUserBuffer",
    "close",
    "reset",
  ];
  const absent = methods.filter((name) => typeof prototype[name] !== "function");
  if (absent.length > 0) return `Node ${process.version}: TCP handles lack ${absent.join(", ")}`;

  const { TCP, TCPConnectWrap } = tcp;
  const SOCKET = tcp.constants.SOCKET;
  const { WriteWrap, ShutdownWrap, streamBaseState: state } = stream;
  const kRead = stream.kReadBytesOrError;
  const kAsync = stream.kLastWriteWasAsync;
  return {
    newSocket: () => new TCP(SOCKET),
    newWrite: () => new WriteWrap(),
    newShutdown: () => new ShutdownWrap(),
    newConnect: () => new TCPConnectWrap(),
    readBytesOrError: () => state[kRead] as number,
    lastWriteWasAsync: () => state[kAsync] !== 0,
    UV_EOF: uv.UV_EOF,
    UV_ECONNRESET: uv.UV_ECONNRESET,
    UV_EPIPE: uv.UV_EPIPE,
  };
}

const loaded = load();

/** The bindings, or undefined on a Node version without them (see `handlesUnavailableReason`). */
export const libuvHandles: LibuvHandles | undefined =
  typeof loaded === "string" ? undefined : loaded;

/** Why `libuvHandles` is undefined; undefined when they are available. */
export const handlesUnavailableReason: string | undefined =
  typeof loaded === "string" ? loaded : undefined;

/** An Error like `net`'s for a failed syscall: `connect ECONNREFUSED 10.0.0.1:9000`. */
export function uvError(status: UvStatus, syscall: string, address: string, port: number): Error {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  return Object.assign(new Error(`${syscall} ${code} ${address}:${port}`), {
    code,
    errno: status,
    syscall,
  });
}

/** A listening server's handle as `net` sets it up (`server._handle`). */
interface ListeningHandle {
  onconnection: (this: unknown, status: UvStatus, client: TcpHandle | undefined) => void;
  setNoDelay?: (enable: boolean) => UvStatus;
}

/** How a server's connections arrive once `acceptAsHandles` took them over. */
export interface HandleAccepts {
  /**
   * TCP_NODELAY was set on the listening socket, which accepted sockets inherit (Linux, BSD):
   * one setsockopt per server instead of one per connection.
   */
  noDelayInherited: boolean;
}

/**
 * Receive a listening `net.Server`'s accepted connections as bare handles: `onAccept` replaces
 * `net`'s own accept callback, so no `net.Socket` is built for them (and `maxConnections`,
 * 'connection' and 'drop' are the caller's to implement). The server still owns binding,
 * `close()` and cluster sharing. Returns undefined, changing nothing, when the server has no
 * such handle (not listening, or a Node version that sets it up differently).
 */
export function acceptAsHandles(
  server: Server,
  onAccept: (status: UvStatus, client: TcpHandle | undefined) => void,
): HandleAccepts | undefined {
  const handle = (server as unknown as { _handle?: Partial<ListeningHandle> | null })._handle;
  if (!handle || typeof handle.onconnection !== "function") return undefined;
  handle.onconnection = onAccept;
  const noDelayInherited = typeof handle.setNoDelay === "function" && handle.setNoDelay(true) === 0;
  return { noDelayInherited };
}
