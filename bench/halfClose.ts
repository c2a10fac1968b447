/**
 * Half-close correctness: the client sends a line and shuts down its write side (what
 * `(date; sleep 1) | nc HOST PORT` does); the proxy must carry the FIN through and still
 * deliver the reply that is on its way back (the tcp-echo protocol, dataplane/README.md).
 */
import { createConnection } from "node:net";

/** Outcome of the half-close check for one peer. */
export interface HalfCloseResult {
  ok: boolean;
  /** How many of the attempts got the exact reply. */
  passed: number;
  attempts: number;
  /** The first failure, in words. */
  detail: string;
}

/** `127.0.0.1:PORT` or `127.0.0.1:PORT=WEIGHT` → host and port. */
export function splitTarget(target: string): { host: string; port: number } {
  const address = target.split("=")[0] ?? target;
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** Whether `reply` is exactly the tcp-echo answer to `line` ("one "/"two " + line). */
export function isEchoReply(line: string, reply: string): boolean {
  return reply === `one ${line}` || reply === `two ${line}`;
}

function attempt(target: string, line: string, timeoutMs: number): Promise<string | undefined> {
  const { host, port } = splitTarget(target);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no EOF within ${timeoutMs} ms after half-close (got ${received()})`);
    }, timeoutMs);
    const received = () => JSON.stringify(Buffer.concat(chunks).toString());
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("error", (error) => {
      clearTimeout(timer);
      resolve(`${error.message} (got ${received()})`);
    });
    socket.once("end", () => {
      clearTimeout(timer);
      socket.destroy();
      const reply = Buffer.concat(chunks).toString();
      resolve(isEchoReply(line, reply) ? undefined : `after half-close got ${received()}`);
    });
    socket.once("connect", () => socket.end(line)); // write the line, then FIN
  });
}

/** Run the check `attempts` times against `target`. */
export async function checkHalfClose(target: string, attempts = 5): Promise<HalfCloseResult> {
  let passed = 0;
  let detail = "";
  for (let i = 0; i < attempts; i++) {
    const problem = await attempt(target, `half-close-${i}\n`, 3000);
    if (problem === undefined) passed++;
    else if (!detail) detail = problem;
  }
  return { ok: passed === attempts, passed, attempts, detail: detail || "reply delivered" };
}
