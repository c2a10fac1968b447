/**
 * What both data paths' PROXY header readers share (`HandleHeaderReader` in handleConnection.ts,
 * `SocketHeaderReader` in connectionPipe.ts): the bytes received so far, the deadline the
 * gateway's sweep checks, and one outcome each. Read once per connection, before it is proxied:
 * not on the path that forwards bytes.
 */
import type { TrackedConnection } from "./gatewayConnection";
import { ProxyHeaderBuffer, type ProxyParse } from "./proxyProtocol";

/** The outcome of reading a PROXY header (`HeaderReader`). */
export type HeaderOutcome =
  | { kind: "header"; parse: Extract<ProxyParse, { kind: "header" }>; rest: Buffer | undefined }
  | { kind: "invalid"; reason: string }
  | { kind: "timeout" }
  /** Destroyed by the gateway (shutdown): closed without counting it as a bad header. */
  | { kind: "destroyed" };

/**
 * A client whose PROXY header is still being read: tracked like a connection (no route, nothing
 * to drain) until `finish` hands it to a connection or closes it.
 */
export abstract class HeaderReader implements TrackedConnection {
  readonly route = undefined;
  readonly draining = false;
  protected readonly received = new ProxyHeaderBuffer();
  /** Set by `finish`: nothing is read or decided after the outcome. */
  protected finished = false;
  private readonly started = Date.now();

  constructor(private readonly timeoutMs: number) {}

  checkTimeouts(now: number): void {
    if (!this.finished && now - this.started >= this.timeoutMs) this.finish({ kind: "timeout" });
  }

  requestDrain(): boolean {
    return false;
  }

  destroy(): void {
    if (!this.finished) this.finish({ kind: "destroyed" });
  }

  /** Stop reading the client and hand `outcome` to the gateway. */
  protected abstract finish(outcome: HeaderOutcome): void;
}
