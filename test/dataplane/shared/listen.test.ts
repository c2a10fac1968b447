import { once } from "node:events";
import { type AddressInfo, connect, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { listenOn, stopAccepting } from "../../../dataplane/shared/listen";

describe("listen helper", () => {
  it("binds and resolves with the address; a busy address is a UserError naming it and why", async () => {
    const first = createServer();
    const { port } = await listenOn(first, "127.0.0.1", 0, 'Listener "a"');
    expect(port).toBeGreaterThan(0);
    const second = createServer();
    await expect(listenOn(second, "127.0.0.1", port, 'Listener "b"')).rejects.toMatchObject({
      name: "UserError",
      code: "E_LISTEN",
      message: `Listener "b" cannot listen on 127.0.0.1:${port}: the address is already in use (another program, or another listener here) (EADDRINUSE)`,
    });
    expect(second.listening).toBe(false);
    await expect(listenOn(createServer(), "203.0.113.1", 0, "Admin server")).rejects.toMatchObject({
      code: "E_LISTEN",
      message: expect.stringContaining("(EADDRNOTAVAIL)"),
    });
    // Stopping frees the address at once.
    stopAccepting(first);
    const again = createServer();
    expect((await listenOn(again, "127.0.0.1", port, "x")).port).toBe(port);
    const client = connect({ host: "127.0.0.1", port });
    await once(client, "connect");
    client.destroy();
    stopAccepting(again);
    expect((again.address() as AddressInfo | null) ?? undefined).toBeUndefined();
  });
});
