import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEchoServer, type EchoServer, echoReplies } from "../../../dataplane/echo/echoServer";
import { createLogger } from "../../../dataplane/shared/jsonLogger";
import { collect, connectTo, exchange, HOST, readBytes, startEcho } from "../netHelpers";

describe("tcp-echo server (Istio tcp-echo-server compatible)", () => {
  let echo: { server: EchoServer; port: number };
  beforeAll(async () => {
    echo = await startEcho("one");
  });
  afterAll(() => echo.server.close(0));

  it("answers a line with prefix, one space, the line", async () => {
    expect((await exchange(echo.port, "hello\n")).toString("latin1")).toBe("one hello\n");
  });

  it("answers the tutorial's date line", async () => {
    const line = "Mon Nov 12 23:38:45 UTC 2018\n";
    expect((await exchange(echo.port, line)).toString()).toBe(`one ${line}`);
  });

  it("splits on \\n only and keeps \\r", async () => {
    const reply = await exchange(echo.port, "a\r\nb\rc\n");
    expect(reply).toEqual(Buffer.from("one a\r\none b\rc\n", "latin1"));
  });

  it("answers an empty line with the prefix and a space", async () => {
    expect((await exchange(echo.port, "\n")).toString()).toBe("one \n");
  });

  it("answers several lines on one connection, one reply each, in order", async () => {
    const reply = await exchange(echo.port, "1\n2\n\n3\n");
    expect(reply.toString()).toBe("one 1\none 2\none \none 3\n");
  });

  it("answers each line as it completes, while the connection stays open", async () => {
    const socket = await connectTo(echo.port);
    socket.write("fir");
    socket.write("st\nsec");
    expect((await readBytes(socket, 10)).toString()).toBe("one first\n");
    socket.write("ond\n");
    expect((await readBytes(socket, 11)).toString()).toBe("one second\n");
    const done = collect(socket);
    socket.end();
    expect((await done).data.length).toBe(0);
  });

  it("echoes a long line whole", async () => {
    const line = `${"x".repeat(1024 * 1024)}\n`;
    const reply = await exchange(echo.port, line);
    expect(reply.length).toBe(4 + line.length);
    expect(reply.equals(Buffer.from(`one ${line}`))).toBe(true);
  });

  it("echoes raw bytes, no UTF-8 decoding", async () => {
    const raw = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x0a]);
    const reply = await exchange(echo.port, raw);
    expect(reply).toEqual(Buffer.concat([Buffer.from("one "), raw]));
  });

  it("gives no reply to a partial last line and closes on client EOF", async () => {
    expect((await exchange(echo.port, "done\npartial")).toString()).toBe("one done\n");
    expect((await exchange(echo.port, "partial")).length).toBe(0);
  });

  it("sends no greeting", async () => {
    const socket = await connectTo(echo.port);
    const result = collect(socket);
    socket.end();
    expect((await result).data.length).toBe(0);
  });

  it("unit: splitting keeps a partial line pending across chunks", () => {
    const prefix = Buffer.from("p ");
    const pending: Buffer[] = [];
    expect(echoReplies(prefix, pending, Buffer.from("ab"))).toEqual([]);
    expect(echoReplies(prefix, pending, Buffer.from("c\nd")).map(String)).toEqual(["p abc\n"]);
    expect(echoReplies(prefix, pending, Buffer.from("\n\n")).map(String)).toEqual([
      "p d\n",
      "p \n",
    ]);
    expect(pending).toEqual([]);
  });
});

describe("tcp-echo server lifecycle", () => {
  it("listens on several ports with one prefix and logs the addresses and lines", async () => {
    const lines: string[] = [];
    const stream = {
      write(text: string) {
        lines.push(text);
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const server = createEchoServer({
      ports: [0, 0],
      prefix: "two",
      host: HOST,
      logger: createLogger({ stream }),
    });
    const addresses = await server.listen();
    expect(addresses).toHaveLength(2);
    for (const { port } of addresses)
      expect((await exchange(port, "x\n")).toString()).toBe("two x\n");
    await server.close(0);
    const records = lines.map((line) => JSON.parse(line));
    expect(records.filter((r) => r.msg === "listening")).toHaveLength(2);
    expect(records).toContainEqual(
      expect.objectContaining({ level: "info", msg: "request", line: "x\n" }),
    );
    expect(records).toContainEqual(expect.objectContaining({ msg: "response", line: "two x\n" }));
  });

  it("rejects with E_LISTEN naming the port when it is taken", async () => {
    const first = await startEcho("one");
    const second = createEchoServer({ ports: [first.port], prefix: "two", host: HOST });
    await expect(second.listen()).rejects.toMatchObject({
      code: "E_LISTEN",
      message: expect.stringContaining(String(first.port)),
    });
    await first.server.close(0);
  });

  it("close() stops accepting but lets an open connection finish within the grace period", async () => {
    const { server, port } = await startEcho("one");
    const socket = await connectTo(port);
    const result = collect(socket);
    const closed = server.close(10_000);
    let closedYet = false;
    void closed.then(() => {
      closedYet = true;
    });
    socket.write("still here\n");
    expect((await readBytes(socket, 15)).toString()).toBe("one still here\n");
    expect(closedYet).toBe(false);
    // New connections are refused.
    const refused = connectTo(port);
    await expect(refused).rejects.toMatchObject({ code: "ECONNREFUSED" });
    socket.end();
    await result;
    await closed;
  });

  it("close() destroys connections still open after the grace period", async () => {
    const { server, port } = await startEcho("one");
    const socket = await connectTo(port, false);
    const result = collect(socket);
    await server.close(50);
    await result;
    expect(socket.destroyed).toBe(true);
  });
});
