import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { uvError } from "../../gateway/handleConnection";
import { acceptAsHandles, libuvHandles } from "../../gateway/libuvHandles";

describe("libuv handles", () => {
  it("are available on this Node, with user read buffers", () => {
    expect(libuvHandles).toBeDefined();
    expect(libuvHandles?.userBuffers).toBe(true);
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
