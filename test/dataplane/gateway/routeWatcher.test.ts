import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RouteFile } from "../../../contract/routeFile";
import { watchRouteFile } from "../../../dataplane/gateway/routeWatcher";

const file = (v1: number, v2: number) => `listeners:
  - name: app
    listen: 127.0.0.1:0
    routes:
      - { name: v1, weight: ${v1}, endpoints: ["127.0.0.1:9000"] }
      - { name: v2, weight: ${v2}, endpoints: ["127.0.0.1:9001"] }
`;
const weights = (routes: RouteFile) => routes.listeners[0]?.routes.map((route) => route.weight);

/** Collects what the watcher reports; `next()` waits for the next report. */
function recorder() {
  const events: (RouteFile | Error)[] = [];
  let wake: (() => void) | undefined;
  const push = (event: RouteFile | Error) => {
    events.push(event);
    wake?.();
  };
  return {
    events,
    handlers: {
      onRoutes: (routes: RouteFile) => push(routes),
      onError: (error: Error) => push(error),
    },
    async next(): Promise<RouteFile | Error> {
      const seen = events.length;
      while (events.length === seen) await new Promise<void>((resolve) => (wake = resolve));
      return events[seen] as RouteFile | Error;
    },
  };
}

const directories: string[] = [];
const watchers: { close(): void }[] = [];
afterEach(() => {
  for (const watcher of watchers.splice(0)) watcher.close();
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});
function tempDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "route-watch-"));
  directories.push(directory);
  return directory;
}

describe("route file watcher", () => {
  it("reports a changed file, and an invalid one as an error without routes", async () => {
    const directory = tempDir();
    const path = join(directory, "routes.yaml");
    writeFileSync(path, file(100, 0));
    const seen = recorder();
    watchers.push(watchRouteFile(path, seen.handlers));

    let next = seen.next();
    writeFileSync(path, file(80, 20));
    expect(weights((await next) as RouteFile)).toEqual([80, 20]);

    next = seen.next();
    writeFileSync(path, file(0, 0));
    const error = (await next) as Error & { code?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe("E_ROUTE_FILE");
    expect(error.message).toContain("total route weight = 0");
    expect(error.message).toContain(path);

    next = seen.next();
    writeFileSync(path, "listeners: [");
    expect(((await next) as Error).message).toMatch(/Cannot parse route file/);

    next = seen.next();
    writeFileSync(path, file(50, 50));
    expect(weights((await next) as RouteFile)).toEqual([50, 50]);
    expect(seen.events.filter((event) => !(event instanceof Error))).toHaveLength(2);
  });

  it("follows a Kubernetes ConfigMap update: ..data symlink renamed over the old one", async () => {
    // The layout kubelet writes: routes.yaml -> ..data/routes.yaml, ..data -> ..<timestamp>/
    const directory = tempDir();
    const version = (name: string, text: string) => {
      mkdirSync(join(directory, name));
      writeFileSync(join(directory, name, "routes.yaml"), text);
    };
    version("..2026_01", file(100, 0));
    symlinkSync("..2026_01", join(directory, "..data"));
    symlinkSync("..data/routes.yaml", join(directory, "routes.yaml"));
    const seen = recorder();
    watchers.push(watchRouteFile(join(directory, "routes.yaml"), seen.handlers));

    const next = seen.next();
    version("..2026_02", file(20, 80));
    symlinkSync("..2026_02", join(directory, "..data_tmp"));
    renameSync(join(directory, "..data_tmp"), join(directory, "..data"));
    rmSync(join(directory, "..2026_01"), { recursive: true });
    expect(weights((await next) as RouteFile)).toEqual([20, 80]);
  });

  it("does not apply the first half of a file written in place in two steps (a half that is valid alone)", async () => {
    const directory = tempDir();
    const path = join(directory, "routes.yaml");
    writeFileSync(path, file(100, 0));
    const seen = recorder();
    watchers.push(watchRouteFile(path, seen.handlers));
    // v2 first: the first half is a valid file that sends every connection to v2.
    const full = `listeners:
  - name: app
    listen: 127.0.0.1:0
    routes:
      - { name: v2, weight: 10, endpoints: ["127.0.0.1:9001"] }
      - { name: v1, weight: 90, endpoints: ["127.0.0.1:9000"] }
`;
    const half = full.slice(0, full.indexOf("      - { name: v1"));
    const next = seen.next();
    writeFileSync(path, half);
    await new Promise((resolve) => setTimeout(resolve, 120));
    writeFileSync(path, full);
    expect(weights((await next) as RouteFile)).toEqual([10, 90]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(seen.events).toHaveLength(1);
  });

  it("applies a file that is replaced without pause within about a second, not only once it stops", async () => {
    const directory = tempDir();
    const path = join(directory, "routes.yaml");
    writeFileSync(path, file(100, 0));
    const seen = recorder();
    watchers.push(watchRouteFile(path, seen.handlers));
    // Another process replaces the file every 5 ms for 3 s (events never pause for 50 ms).
    const writer = spawn("python3", [
      "-c",
      `import os, time
end = time.time() + 3
i = 0
while time.time() < end:
    i = i % 99 + 1
    with open(${JSON.stringify(`${path}.tmp`)}, "w") as f:
        f.write(${JSON.stringify(file(0, 0))}.replace("weight: 0", "weight: %d" % i, 1))
    os.rename(${JSON.stringify(`${path}.tmp`)}, ${JSON.stringify(path)})
    time.sleep(0.005)
`,
    ]);
    const writerDone = once(writer, "exit");
    try {
      const first = await Promise.race([seen.next(), writerDone.then(() => "writer stopped")]);
      expect(first).not.toBe("writer stopped");
      expect(weights(first as RouteFile)?.[0]).toBeGreaterThan(0);
    } finally {
      writer.kill();
      await writerDone;
    }
  });

  it("refuses a route file over 1 MiB before parsing it", async () => {
    const directory = tempDir();
    const path = join(directory, "routes.yaml");
    writeFileSync(path, file(100, 0));
    const seen = recorder();
    watchers.push(watchRouteFile(path, seen.handlers));
    const next = seen.next();
    writeFileSync(`${path}.tmp`, `${file(50, 50)}# ${"x".repeat(2 * 1024 * 1024)}\n`);
    renameSync(`${path}.tmp`, path);
    const error = (await next) as Error & { code?: string };
    expect(error.code).toBe("E_ROUTE_FILE");
    expect(error.message).toContain("the limit is 1 MiB (1048576 bytes)");
  });

  it("reports an error thrown by onRoutes (e.g. a listener that cannot bind)", async () => {
    const directory = tempDir();
    const path = join(directory, "routes.yaml");
    writeFileSync(path, file(100, 0));
    const errors: Error[] = [];
    let wake: () => void = () => {};
    const reported = new Promise<void>((resolve) => (wake = resolve));
    watchers.push(
      watchRouteFile(path, {
        onRoutes: async () => {
          throw new Error("bind failed");
        },
        onError: (error) => {
          errors.push(error);
          wake();
        },
      }),
    );
    writeFileSync(path, file(1, 1));
    await reported;
    expect(errors.map((e) => e.message)).toEqual(["bind failed"]);
  });
});
