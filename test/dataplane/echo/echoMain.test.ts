import { describe, expect, it } from "vitest";
import { parseEchoArgs } from "../../../dataplane/echo/echoArgs";
import { portOfAddress, startProgram } from "../childProcess";
import { collect, connectTo, exchange, readBytes } from "../netHelpers";

describe("echoMain arguments (Istio image compatible)", () => {
  it("takes a port or a comma list of ports, then the prefix", () => {
    expect(parseEchoArgs(["9000", "one"])).toEqual({ ports: [9000], prefix: "one" });
    expect(parseEchoArgs(["9000,9001", "hello"])).toEqual({ ports: [9000, 9001], prefix: "hello" });
  });

  it.each([
    [[], /expected 2 arguments/],
    [["9000"], /expected 2 arguments/],
    [["abc", "one"], /port "abc"/],
    [["70000", "one"], /port "70000"/],
    [["9000,", "one"], /port ""/],
    [["9000", ""], /prefix/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseEchoArgs(argv)).toThrow(message);
  });

  it("asks for the usage alone (an empty message) on --help and -h", () => {
    for (const flag of ["--help", "-h"])
      expect(() => parseEchoArgs([flag])).toThrow(expect.objectContaining({ message: "" }));
  });
});

describe("echoMain process", () => {
  it("prints usage to stderr and exits 2 on a usage error", async () => {
    const program = startProgram("echo/echoMain.ts", ["not-a-port", "one"]);
    expect(await program.exited).toBe(2);
    expect(program.stderr()).toContain('port "not-a-port"');
    expect(program.stderr()).toContain("usage: echoMain <port[,port...]> <prefix>");
  });

  it("serves, logs JSON lines, and on SIGTERM lets an open connection finish, then exits 0", async () => {
    const program = startProgram("echo/echoMain.ts", ["0", "one"]);
    const listening = await program.waitForLog((line) => line.msg === "listening");
    const port = portOfAddress(listening.address);
    expect((await exchange(port, "hi\n")).toString()).toBe("one hi\n");
    await program.waitForLog((line) => line.msg === "response" && line.line === "one hi\n");

    const open = await connectTo(port);
    program.child.kill("SIGTERM");
    await program.waitForLog((line) => line.msg === "shutting down");
    open.write("late\n");
    expect((await readBytes(open, 9)).toString()).toBe("one late\n");
    const done = collect(open);
    open.end();
    await done;
    expect(await program.exited).toBe(0);
    expect(program.logs.every((line) => typeof line.level === "string")).toBe(true);
  });
});
