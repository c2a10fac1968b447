/**
 * Test support for the shift fault tests: a real tcp-echo server behind a small TCP relay that
 * injects one fault, deterministically (so a test's outcome does not depend on luck):
 * - `resetEvery: 10`: every 10th connection is reset (RST) when its request arrives;
 * - `delayMs: 20`: every reply reaches the client 20 ms late.
 * Everything on 127.0.0.1, ports from the OS.
 */
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { createEchoServer } from "../../../dataplane/echo/echoServer";

/** The fault to inject; none gives a healthy relay. */
export interface Fault {
  resetEvery?: number;
  delayMs?: number;
}

/** A running faulty tcp-echo. */
export interface FaultyEcho {
  port: number;
  /** Connections accepted and connections reset so far. */
  readonly accepted: number;
  readonly reset: number;
  close(): Promise<void>;
}

/** Start tcp-echo with `prefix` behind a relay that injects `fault`. */
export async function startFaultyEcho(prefix: string, fault: Fault = {}): Promise<FaultyEcho> {
  const echo = createEchoServer({ ports: [0], prefix, host: "127.0.0.1" });
  const [echoAddress] = await echo.listen();
  const echoPort = (echoAddress as AddressInfo).port;
  const sockets = new Set<Socket>();
  let accepted = 0;
  let reset = 0;
  const relay = createServer({ allowHalfOpen: true }, (client) => {
    const sequence = ++accepted;
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (fault.resetEvery && sequence % fault.resetEvery === 0) {
      client.once("data", () => {
        reset++;
        client.resetAndDestroy();
      });
      client.on("error", () => {});
      return;
    }
    const backend = connect({ host: "127.0.0.1", port: echoPort, allowHalfOpen: true });
    sockets.add(backend);
    backend.on("close", () => sockets.delete(backend));
    const later = (action: () => void) =>
      fault.delayMs ? setTimeout(action, fault.delayMs) : action();
    client.on("data", (chunk) => backend.write(chunk));
    client.on("end", () => backend.end());
    backend.on("data", (chunk) => later(() => client.write(chunk)));
    backend.on("end", () => later(() => client.end()));
    const teardown = () => {
      client.destroy();
      backend.destroy();
    };
    client.on("error", teardown);
    backend.on("error", teardown);
  });
  relay.listen(0, "127.0.0.1");
  await once(relay, "listening");
  return {
    port: (relay.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get reset() {
      return reset;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
      await echo.close(0);
    },
  };
}
