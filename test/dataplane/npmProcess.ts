/**
 * Run an npm script as a user does (`npm start`, `npm run gateway`), in a process group of its
 * own as a terminal would, and see every process it started: for signal tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

/** npm as the user's shell finds it: the npm running this test, else `npm` on PATH. */
function npmCommand(): [string, string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath?.endsWith(".js")) return [process.execPath, [execPath]];
  return ["npm", []];
}

/** The processes of process group `pgid` that are alive (zombies, exited but not reaped, are not). */
export function aliveInGroup(pgid: number): number[] {
  const alive: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "latin1");
    } catch {
      continue;
    }
    // `pid (comm) state ppid pgrp ...`
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") alive.push(Number(entry));
  }
  return alive;
}

/** A running npm script. */
export interface NpmRun {
  /** npm's own process; its pid is the process group's id. */
  child: ChildProcess;
  /** Lines printed on stdout so far (npm's banner, then the program's). */
  lines: string[];
  /** Resolve with the first line (from now or earlier) matching `predicate`; bounded. */
  line(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  stderr(): string;
  /** npm's exit code. */
  exited: Promise<number | null>;
  /** SIGKILL whatever is left of the group (cleanup). */
  killAll(): void;
}

/** `npm <args>` in the project root, in a new process group. */
export function runNpm(args: string[]): NpmRun {
  const [file, prefix] = npmCommand();
  const child = spawn(file, [...prefix, ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      LOG_LEVEL: "info",
      NO_UPDATE_NOTIFIER: "1",
      npm_config_update_notifier: "false",
    },
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let partial = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    const parts = (partial + text).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  let closed = false;
  child.stdout?.on("close", () => {
    closed = true;
    for (const wake of waiters.splice(0)) wake();
  });
  const pgid = child.pid as number;
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    async line(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (let from = 0; ; ) {
        for (; from < lines.length; from++)
          if (predicate(lines[from] as string)) return lines[from] as string;
        if (closed || Date.now() > deadline)
          throw new Error(`no such line; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`);
        await new Promise<void>((wake) => {
          waiters.push(wake);
          setTimeout(wake, 200).unref();
        });
      }
    },
    killAll() {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // nothing left
      }
    },
  };
}
