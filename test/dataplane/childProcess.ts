/** Run a dataplane/ program as a real child process (`node --import tsx`), reading its JSON logs. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

/** A running program and its parsed stdout lines. */
export interface Program {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr(): string;
  /** Wait for a log line matching `predicate`, among lines from index `from` on. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    from?: number,
  ): Promise<Record<string, unknown>>;
  /** Exit code once the process ended. */
  exited: Promise<number | null>;
}

/**
 * Start `dataplane/<script>` with `args`; with `openFiles`, under that open-files limit
 * (`ulimit -n`, soft and hard, so Node cannot raise it).
 */
export function startProgram(
  script: string,
  args: string[],
  options: { openFiles?: number } = {},
): Program {
  const command = [process.execPath, "--import", "tsx", `dataplane/${script}`, ...args];
  const [file, ...argv] =
    options.openFiles === undefined
      ? command
      : ["sh", "-c", `ulimit -n ${options.openFiles} && exec "$0" "$@"`, ...command];
  const child = spawn(file as string, argv, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let stderr = "";
  let partial = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line) logs.push(JSON.parse(line));
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  void exited.then(() => {
    for (const wake of waiters.splice(0)) wake();
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    async waitForLog(predicate, start = 0) {
      for (let from = start; ; ) {
        for (; from < logs.length; from++)
          if (predicate(logs[from] as never)) return logs[from] as never;
        if (done) throw new Error(`program exited without that log line; stderr: ${stderr}`);
        await new Promise<void>((wake) => waiters.push(wake));
      }
    },
  };
}

/** The port at the end of `127.0.0.1:1234` / `[::]:1234`. */
export function portOfAddress(address: unknown): number {
  return Number(String(address).slice(String(address).lastIndexOf(":") + 1));
}
