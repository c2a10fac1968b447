import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proxyV2Header } from "../../../dataplane/gateway/proxyProtocol";
import { DATA_PATHS, type TcpGateway } from "../../../dataplane/gateway/tcpGateway";
import { addressBucket, STICKY_BUCKETS } from "../../../dataplane/gateway/weightedPicker";
import {
  at,
  captureLogger,
  collect,
  connectTo,
  echoPair,
  gatewaysPerTest,
  HOST,
  portOf,
  sample,
  singleListener,
} from "../netHelpers";

const backends = echoPair();
let gateway: TcpGateway;
/** A backend that records every byte it receives per connection and echoes it with `raw `. */
let recorder: { server: Server; port: number; received: string[] };

beforeAll(async () => {
  const received: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    const index = received.push("") - 1;
    socket.on("data", (chunk: Buffer) => {
      received[index] += chunk.toString("latin1");
      socket.write(`raw ${chunk.toString("latin1")}`);
    });
    socket.on("end", () => socket.end());
    socket.on("error", () => socket.destroy());
  });
  server.listen(0, HOST);
  await once(server, "listening");
  recorder = { server, port: (server.address() as AddressInfo).port, received };
});
afterAll(() => {
  recorder.server.close();
});
const startGateway = gatewaysPerTest();

/** Send `parts` one after another (a header split across reads), half-close, read the reply. */
async function send(port: number, ...parts: (string | Buffer)[]) {
  const socket = await connectTo(port, false);
  const result = collect(socket);
  for (const part of parts) {
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  socket.end();
  const { data, error } = await result;
  return { reply: data.toString("latin1"), error };
}

/** Two source addresses whose sticky buckets fall on either side of a 50/50 split. */
function addressesOnEachSide(): { v1: string; v2: string } {
  let v1: string | undefined;
  let v2: string | undefined;
  for (let i = 1; !(v1 && v2); i++) {
    const address = `198.51.100.${i}`;
    if (addressBucket(address) < STICKY_BUCKETS / 2) v2 ??= address;
    else v1 ??= address;
  }
  return { v1, v2 };
}

describe.each(DATA_PATHS)("%s data path", (dataPath) => {
  const start = async (
    balance: "smooth" | "sticky" = "smooth",
    logger = captureLogger().logger,
  ) => {
    gateway = await startGateway({
      dataPath,
      logger,
      proxyHeaderTimeoutMs: 300,
      logIntervalMs: 60_000,
      routes: singleListener([{ name: "v1", weight: 1, endpoints: [at(recorder.port)] }], {
        proxyProtocol: true,
        balance,
      }),
    });
    return portOf(gateway);
  };

  it("v1: reads the header, forwards only what follows it", async () => {
    const port = await start();
    const before = recorder.received.length;
    const { reply } = await send(port, "PROXY TCP4 203.0.113.7 10.0.0.1 51234 31400\r\nhello\n");
    expect(reply).toBe("raw hello\n");
    expect(recorder.received[before]).toBe("hello\n");
  });

  it("v2 IPv4 and IPv6, and LOCAL (a balancer's health check), split across reads", async () => {
    const port = await start();
    const ipv4 = proxyV2Header(
      { address: "198.51.100.9", port: 40000 },
      { address: "10.0.0.1", port: 31400 },
    );
    const ipv6 = proxyV2Header(
      { address: "2001:db8::42", port: 40000 },
      { address: "2001:db8::1", port: 31400 },
    );
    for (const header of [ipv4, ipv6, proxyV2Header(undefined, undefined)]) {
      const before = recorder.received.length;
      // The header in three reads, the payload glued to its last bytes.
      const { reply } = await send(
        port,
        header.subarray(0, 5),
        header.subarray(5, 14),
        Buffer.concat([header.subarray(14), Buffer.from("ping\n")]),
      );
      expect(reply).toBe("raw ping\n");
      expect(recorder.received[before]).toBe("ping\n");
    }
  });

  it("sticky hashes the address in the header, not the balancer's", async () => {
    const gateway = await startGateway({
      dataPath,
      routes: singleListener(backends.routes(50, 50), { proxyProtocol: true, balance: "sticky" }),
    });
    const port = portOf(gateway);
    const { v1, v2 } = addressesOnEachSide();
    for (let i = 0; i < 3; i++) {
      expect((await send(port, `PROXY TCP4 ${v1} 10.0.0.1 1000 31400\r\nx\n`)).reply).toBe(
        "one x\n",
      );
      const header = proxyV2Header({ address: v2, port: 1000 }, { address: "10.0.0.1", port: 1 });
      expect((await send(port, header, "x\n")).reply).toBe("two x\n");
    }
  });

  it("closes a connection without a valid header, counted and logged once per interval", async () => {
    const { logger, lines } = captureLogger();
    const port = await start("smooth", logger);
    const before = recorder.received.length;
    for (let i = 0; i < 3; i++) {
      const { reply } = await send(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(reply).toBe("");
    }
    expect(recorder.received.length).toBe(before);
    expect(
      sample(
        await gateway.registry.metrics(),
        'tcp_gateway_proxy_protocol_errors_total{listener="app",reason="invalid"}',
      ),
    ).toBe(3);
    expect(lines.filter((line) => line.msg.includes("PROXY"))).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "connection closed: invalid PROXY protocol header",
        reason: "no PROXY protocol header",
        client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      }),
    ]);
    await expect.poll(() => gateway.activeConnections).toBe(0);
  });

  it("closes a connection whose header does not complete in time", async () => {
    const port = await start();
    const socket = await connectTo(port, false);
    const result = collect(socket);
    const started = Date.now();
    socket.write("PROXY TCP4 203.0.113.7");
    const { data } = await result;
    expect(data.length).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(
      sample(
        await gateway.registry.metrics(),
        'tcp_gateway_proxy_protocol_errors_total{listener="app",reason="timeout"}',
      ),
    ).toBe(1);
    await expect.poll(() => gateway.activeConnections).toBe(0);
  });
});
