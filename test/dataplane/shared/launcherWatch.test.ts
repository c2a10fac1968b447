import { describe, expect, it } from "vitest";
import {
  launcherChain,
  type ProcessTable,
  procTable,
  watchLauncher,
  wrapperKind,
} from "../../../dataplane/shared/launcherWatch";

/** A process table to edit: pid -> [ppid, argv]. */
function table(entries: Record<number, [number, string[]]>): ProcessTable {
  return {
    parentOf: (pid) => entries[pid]?.[0],
    commandOf: (pid) => entries[pid]?.[1],
  };
}

/** npm start as a user runs it: bash → npm → sh -c → tsx's CLI → node (the program). */
const NPM_START: Record<number, [number, string[]]> = {
  100: [1, ["-bash"]],
  200: [100, ["npm start --stack dev"]],
  300: [200, ["sh", "-c", "tsx tools/local/start.ts --stack dev"]],
  400: [300, ["node", "/repo/node_modules/.bin/tsx", "tools/local/start.ts"]],
  500: [400, ["/usr/bin/node", "--require", "/repo/node_modules/tsx/dist/preflight.cjs"]],
};

describe("launcher watch", () => {
  it("knows npm, its sh -c and tsx's CLI as wrappers, and nothing else", () => {
    expect(wrapperKind(["npm start --stack dev"])).toBe("npm");
    expect(wrapperKind(["npm run gateway -- --config r.yaml"])).toBe("npm");
    expect(wrapperKind(["node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "start"])).toBe("npm");
    expect(wrapperKind(["sh", "-c", "node --import tsx x.ts"])).toBe("sh -c");
    expect(wrapperKind(["node", "/repo/node_modules/.bin/tsx", "x.ts"])).toBe("tsx");
    expect(wrapperKind(["node", "/repo/node_modules/tsx/dist/cli.mjs", "x.ts"])).toBe("tsx");
    expect(wrapperKind(["-bash"])).toBeUndefined();
    expect(wrapperKind(["/usr/bin/node", "dist/dataplane/gateway/gatewayMain.js"])).toBeUndefined();
    expect(wrapperKind(["systemd"])).toBeUndefined();
  });

  it("watches each link from the program up to the topmost wrapper, not the user's shell", () => {
    expect(launcherChain(table(NPM_START), 500)).toEqual([
      { pid: 500, ppid: 400, what: "this process" },
      { pid: 400, ppid: 300, what: "tsx" },
      { pid: 300, ppid: 200, what: "sh -c" },
    ]);
    // Started by a shell or a supervisor directly: nothing to watch.
    expect(launcherChain(table({ 100: [1, ["-bash"]], 500: [100, ["node"]] }), 500)).toEqual([]);
    // The image: node is PID 1.
    expect(launcherChain(table({ 1: [0, ["node"]] }), 1)).toEqual([]);
  });

  it("calls back once when a link of the chain loses its parent (npm's sh killed)", async () => {
    const entries = { ...NPM_START };
    const reasons: string[] = [];
    const watch = watchLauncher((why) => reasons.push(why), {
      intervalMs: 10,
      table: {
        // This test process stands for pid 500.
        parentOf: (pid) => entries[pid === process.pid ? 500 : pid]?.[0],
        commandOf: (pid) => entries[pid === process.pid ? 500 : pid]?.[1],
      },
    });
    expect(watch).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reasons).toEqual([]);
    // npm's SIGTERM killed the sh: tsx is re-parented to init.
    delete entries[300];
    entries[400] = [1, entries[400]?.[1] ?? []];
    await expect.poll(() => reasons.length).toBe(1);
    expect(reasons[0]).toBe("the launcher is gone: tsx (pid 400) lost its parent (pid 300)");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reasons).toHaveLength(1);
  });

  it("reads this machine's process table", () => {
    const proc = procTable();
    expect(proc?.parentOf(process.pid)).toBe(process.ppid);
    expect(proc?.commandOf(process.pid)?.length).toBeGreaterThan(0);
  });
});
