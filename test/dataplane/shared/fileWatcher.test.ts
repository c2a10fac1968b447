import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type FileWatch,
  type FileWatchError,
  type FileWatchOptions,
  watchFile,
} from "../../../dataplane/shared/fileWatcher";

/** Collects what the watcher reports; `next()` waits for the next report. */
function recorder() {
  const events: (string | FileWatchError)[] = [];
  let wake: (() => void) | undefined;
  const push = (event: string | FileWatchError) => {
    events.push(event);
    wake?.();
  };
  return {
    events,
    handlers: {
      onText: (text: string) => push(text),
      onError: (error: Error) => push(error as FileWatchError),
    },
    async next(): Promise<string | FileWatchError> {
      const seen = events.length;
      while (events.length === seen) await new Promise<void>((resolve) => (wake = resolve));
      return events[seen] as string | FileWatchError;
    },
  };
}

const directories: string[] = [];
const watches: FileWatch[] = [];
afterEach(() => {
  for (const watch of watches.splice(0)) watch.close();
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function setUp(initial: string, options: Partial<FileWatchOptions> = {}) {
  const directory = mkdtempSync(join(tmpdir(), "file-watch-"));
  directories.push(directory);
  const path = join(directory, "routes.yaml");
  writeFileSync(path, initial);
  const seen = recorder();
  watches.push(
    watchFile(path, seen.handlers, { errorCode: "E_TEST", what: "test file", ...options }),
  );
  /** Write a new version the atomic way: a temporary file renamed over the old one. */
  const replace = (text: string) => {
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  };
  return { directory, path, seen, replace };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("file watcher", () => {
  it("hands over a file replaced by rename once, and identical text not again", async () => {
    const { seen, replace, directory } = setUp("one\n");
    let next = seen.next();
    replace("two\n");
    expect(await next).toBe("two\n");
    // Same text again, and events for other files of the directory: nothing to report.
    replace("two\n");
    writeFileSync(join(directory, "other"), "x");
    next = seen.next();
    replace("three\n");
    expect(await next).toBe("three\n");
    expect(seen.events).toEqual(["two\n", "three\n"]);
  });

  it("does not hand over the first half of a file written in place in two steps 120 ms apart", async () => {
    // The first half is a complete file on its own (it would route everything to v2).
    const full = "routes:\n  - v2: 10\n  - v1: 90\n";
    const half = "routes:\n  - v2: 10\n";
    const { path, seen } = setUp("routes:\n  - v1: 100\n");
    const next = seen.next();
    writeFileSync(path, half);
    await sleep(120);
    writeFileSync(path, full);
    expect(await next).toBe(full);
    await sleep(400);
    expect(seen.events).toEqual([full]);
  });

  it("uses a replaced file at once, by rename or by a ConfigMap's ..data symlink swap; an in-place write waits stableMs", async () => {
    // A stability window far longer than the bound below: a replacement taken for an in-place
    // write could not be reported in time.
    const options = { stableMs: 1_000, maxDelayMs: 3_000 };
    /** Milliseconds from `write()` to the report of `text`. */
    const latency = async (seen: ReturnType<typeof recorder>, write: () => void, text: string) => {
      const next = seen.next();
      const started = performance.now();
      write();
      expect(await next).toBe(text);
      return performance.now() - started;
    };

    const plain = setUp("one\n", options);
    expect(await latency(plain.seen, () => plain.replace("two\n"), "two\n")).toBeLessThan(600);
    expect(
      await latency(plain.seen, () => writeFileSync(plain.path, "three\n"), "three\n"),
    ).toBeGreaterThanOrEqual(1_000);

    // The layout kubelet writes: routes.json -> ..data/routes.json, ..data -> ..<timestamp>/
    const directory = mkdtempSync(join(tmpdir(), "file-watch-configmap-"));
    directories.push(directory);
    let version = 0;
    const publish = (text: string) => {
      const name = `..2026_11_27_10_00_00.${++version}`;
      mkdirSync(join(directory, name));
      writeFileSync(join(directory, name, "routes.json"), text);
      return name;
    };
    symlinkSync(publish("one\n"), join(directory, "..data"));
    symlinkSync("..data/routes.json", join(directory, "routes.json"));
    const configMap = recorder();
    watches.push(
      watchFile(join(directory, "routes.json"), configMap.handlers, {
        errorCode: "E_TEST",
        what: "test file",
        ...options,
      }),
    );
    for (const text of ["two\n", "three\n"]) {
      const swap = () => {
        const previous = `..2026_11_27_10_00_00.${version}`;
        symlinkSync(publish(text), join(directory, "..data_tmp"));
        renameSync(join(directory, "..data_tmp"), join(directory, "..data"));
        rmSync(join(directory, previous), { recursive: true });
      };
      expect(await latency(configMap, swap, text)).toBeLessThan(600);
    }
  });

  it("does not shorten an in-place write's stability window for events of other files", async () => {
    const full = "routes:\n  - v2: 10\n  - v1: 90\n";
    const half = "routes:\n  - v2: 10\n";
    const { path, seen, directory } = setUp("routes:\n  - v1: 100\n");
    const next = seen.next();
    writeFileSync(path, half);
    // The half is read about 50 ms in; another file of the directory changes after that.
    await sleep(80);
    writeFileSync(join(directory, "other"), "x");
    await sleep(120);
    writeFileSync(path, full);
    expect(await next).toBe(full);
    await sleep(400);
    expect(seen.events).toEqual([full]);
  });

  it("reads a file that is replaced without pause at least once per maxDelayMs", async () => {
    const { seen, replace } = setUp("0\n", { maxDelayMs: 300 });
    let version = 0;
    const writer = setInterval(() => replace(`${++version}\n`), 20);
    const started = Date.now();
    try {
      const first = await seen.next();
      // Read while the writer is still writing, not after it stops.
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(Number(first)).toBeGreaterThan(0);
    } finally {
      clearInterval(writer);
    }
  });

  it("refuses a file over maxBytes before reading it, saying the limit", async () => {
    const { seen, replace, path } = setUp("small\n", { maxBytes: 1024 });
    const next = seen.next();
    replace("x".repeat(4096));
    const error = (await next) as FileWatchError;
    expect(error.code).toBe("E_TEST");
    expect(error.reason).toBe("too-large");
    expect(error.message).toBe(`test file ${path} is 4 KiB; the limit is 1 KiB (1024 bytes)`);
  });

  it("reports a change made between the caller's read and the start of the watch", async () => {
    const directory = mkdtempSync(join(tmpdir(), "file-watch-"));
    directories.push(directory);
    const path = join(directory, "routes.yaml");
    writeFileSync(path, "weight: 100\n");
    const read = "weight: 100\n"; // what the caller read, before the file changed
    writeFileSync(`${path}.tmp`, "weight: 0\n");
    renameSync(`${path}.tmp`, path);
    const seen = recorder();
    watches.push(
      watchFile(path, seen.handlers, { errorCode: "E_TEST", what: "test file", initialText: read }),
    );
    expect(await seen.next()).toBe("weight: 0\n");
  });

  it("reports nothing at start when the caller's text is current, or the file it knows is missing is still missing", async () => {
    const { path, seen, replace } = setUp("a\n", { initialText: "a\n" });
    const missing = join(dirname(path), "absent.yaml");
    watches.push(
      watchFile(missing, seen.handlers, {
        errorCode: "E_TEST",
        what: "test file",
        initialText: null,
      }),
    );
    replace("b\n");
    expect(await seen.next()).toBe("b\n");
    expect(seen.events).toEqual(["b\n"]);
  });

  it("reports a deleted file once, and its text again once it is back", async () => {
    const { seen, replace, path, directory } = setUp("one\n");
    let next = seen.next();
    rmSync(path);
    const error = (await next) as FileWatchError;
    expect(error.reason).toBe("missing");
    expect(error.message).toBe(`test file ${path} does not exist (deleted?)`);
    // More events while it is still missing: the same problem is not reported again.
    writeFileSync(join(directory, "other"), "x");
    await sleep(200);
    writeFileSync(join(directory, "other"), "y");
    await sleep(200);
    expect(seen.events).toHaveLength(1);
    next = seen.next();
    replace("one\n");
    expect(await next).toBe("one\n");
  });
});
