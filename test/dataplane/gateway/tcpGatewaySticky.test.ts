import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { DATA_PATHS } from "../../../dataplane/gateway/tcpGateway";
import {
  at,
  collect,
  echoPair,
  gatewaysPerTest,
  HOST,
  portOf,
  sample,
  singleListener,
} from "../netHelpers";

const backends = echoPair();
const startGateway = gatewaysPerTest();

/** 300 client addresses of the loopback range: a client can bind any 127.x.y.z. */
const CLIENTS = Array.from(
  { length: 300 },
  (_, i) => `127.${20 + Math.floor(i / 250)}.${Math.floor((i % 250) / 50)}.${(i % 50) + 1}`,
);

/** One new connection from `localAddress`: the prefix of its reply (`one` or `two`). */
async function versionFor(port: number, localAddress: string): Promise<string> {
  const socket = connect({ host: HOST, port, localAddress, allowHalfOpen: true });
  const result = collect(socket);
  socket.end("x\n");
  const { data, error } = await result;
  if (error) throw error;
  const reply = data.toString();
  return reply.slice(0, reply.indexOf(" "));
}

/** The version each client lands on, 20 clients at a time. */
async function versions(port: number, clients = CLIENTS): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < clients.length; i += 20)
    out.push(...(await Promise.all(clients.slice(i, i + 20).map((c) => versionFor(port, c)))));
  return out;
}

const share = (answers: string[]) =>
  answers.filter((answer) => answer === "two").length / answers.length;

describe.each(DATA_PATHS)("%s data path", (dataPath) => {
  it("sticky: a client keeps its version; raising v2 moves clients only from v1 to v2, and the share follows the weight", async () => {
    const routes = (v1: number, v2: number, port = 0) =>
      singleListener(backends.routes(v1, v2), { balance: "sticky", listen: at(port) });
    const gateway = await startGateway({ dataPath, routes: routes(80, 20) });
    const port = portOf(gateway);

    const at20 = await versions(port);
    // 300 addresses, p = 0.2: the standard deviation is 2.3%; 4 of them is 9.2%.
    expect(Math.abs(share(at20) - 0.2)).toBeLessThan(0.092);
    // Reconnecting clients land where they did.
    expect(await versions(port, CLIENTS.slice(0, 60))).toEqual(at20.slice(0, 60));

    await gateway.reload(routes(50, 50, port));
    const at50 = await versions(port);
    expect(Math.abs(share(at50) - 0.5)).toBeLessThan(0.116);
    // Only v1 clients moved, and only to v2.
    const moved = at20.filter((version, i) => version !== at50[i]);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((version) => version === "one")).toBe(true);

    // Lowering the weight moves clients back the other way only.
    await gateway.reload(routes(90, 10, port));
    const at10 = await versions(port);
    expect(at50.every((version, i) => version === at10[i] || version === "two")).toBe(true);
    expect(Math.abs(share(at10) - 0.1)).toBeLessThan(0.07);
    expect(
      sample(
        await gateway.registry.metrics(),
        'tcp_gateway_connections_total{listener="app",route="v2"}',
      ),
    ).toBe(at20.concat(at20.slice(0, 60), at50, at10).filter((v) => v === "two").length);
  });
});
