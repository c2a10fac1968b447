import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { failureClass, observeWindow } from "../../../tools/shift/probeWindow";

describe("probe failure classes", () => {
  it.each([
    ["connect", "ECONNREFUSED", "connect failure"],
    ["connect", "EHOSTUNREACH", "connect failure"],
    ["connect", "ECONNRESET", "connect failure"],
    ["connect", "connect timeout", "connect timeout"],
    ["connect", "ETIMEDOUT", "connect timeout"],
    ["reply", "ECONNRESET", "reset"],
    ["reply", "EPIPE", "reset"],
    ["reply", "closed before reply", "closed without reply"],
    ["reply", "reply timeout", "reply timeout"],
    ["reply", "unexpected reply", "unexpected reply"],
    ["reply", "EIO", "other"],
  ] as const)("%s %s is a %s", (phase, reason, kind) => {
    expect(failureClass({ phase, reason })).toBe(kind);
  });

  it("counts a server that accepts and never answers as reply timeouts, not connect timeouts", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    try {
      const counts = await observeWindow(
        {
          host: "127.0.0.1",
          port: (silent.address() as AddressInfo).port,
          prefixes: { v1: "one", v2: "two" },
          timeoutMs: 100,
          rate: 20,
          concurrency: 4,
        },
        { durationMs: 200 },
      );
      expect(counts.attempted).toBeGreaterThan(0);
      expect(counts.failures).toEqual({ "reply timeout": counts.attempted });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
