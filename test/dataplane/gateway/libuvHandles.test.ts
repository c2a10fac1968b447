import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { acceptAsHandles, libuvHandles, uvError } from "../../../dataplane/gateway/libuvHandles";

describe("libuv handles", () => {
  it("are available on this Node, with user read buffers", () => {
    expect(libuvHandles).toBeDefined();
    // Handles read into a buffer of the gateway's (readBuffers.ts).
    const handle = libuvHandles?.newSocket();
    expect(typeof handle?.useUserBuffer).toBe("function");
    handle?.close();
    expect(libuvHandles?.UV_EOF).toBe(-4095);
  });

  it("acceptAsHandles changes nothing on a server that is not listening", () => {
    const server = createServer();
    expect(acceptAsHandles(server, () => {})).toBeUndefined();
  });

  it("uvError reads like net's errors: syscall, code, address", () => {
    const error = uvError(-111, "connect", "127.0.0.1", 9000);
    expect(error.message).toBe("connect ECONNREFUSED 127.0.0.1:9000");
    expect(error).toMatchObject({ code: "ECONNREFUSED", errno: -111, syscall: "connect" });
  });
});
