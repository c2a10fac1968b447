/**
 * Child processes of the benchmark: every process it starts is tracked here and killed when the
 * run ends, fails or is interrupted (Ctrl-C), so no proxy or backend outlives the harness.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

const tracked = new Set<ChildProcess>();

/** Options of {@link startChild}. */
export interface StartChildArgs {
  /** Program to run. */
  command: string;
  /** Its arguments. */
  args: readonly string[];
  /** Working directory. @default process.cwd() */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Label used in error messages. */
  label: string;
}

/**
 * Start a program with the open-files limit raised to the hard limit (the 10,000 idle
 * connections need ~20,000 descriptors in a proxy); stdin is a pipe, stdout/stderr are piped.
 */
export function startChild({ command, args, cwd, env, label }: StartChildArgs): ChildProcess {
  const quoted = [command, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" ");
  const child = spawn("/bin/sh", ["-c", `ulimit -n "$(ulimit -Hn)" && exec ${quoted}`], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  tracked.add(child);
  const stderr: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 200) stderr.push(chunk.toString());
  });
  child.once("exit", () => tracked.delete(child));
  Object.defineProperty(child, "benchLabel", { value: label });
  Object.defineProperty(child, "benchStderr", { get: () => stderr.join("") });
  return child;
}

/** What the child wrote on stderr so far (first ~200 chunks), for error messages. */
export function stderrOf(child: ChildProcess): string {
  return (child as unknown as { benchStderr?: string }).benchStderr ?? "";
}

/** Resolve with the first stdout line matching `pattern`; reject on exit or timeout. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number) {
  return new Promise<string>((resolve, reject) => {
    const stdout = child.stdout;
    if (!stdout) return reject(new Error("child has no stdout pipe"));
    const lines = createInterface({ input: stdout });
    const done = (error: Error | undefined, line?: string) => {
      clearTimeout(timer);
      lines.off("line", onLine);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve(line ?? "");
    };
    const onLine = (line: string) => {
      if (pattern.test(line)) done(undefined, line);
    };
    const onExit = (code: number | null) =>
      done(new Error(`exited (${code}) before printing ${pattern}: ${stderrOf(child)}`));
    const timer = setTimeout(
      () => done(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    lines.on("line", onLine);
    child.once("exit", onExit);
  });
}

/** Stop a child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

const exitTasks: (() => void)[] = [];

/** Run `task` (synchronous, e.g. removing a temp folder) when the harness exits in any way. */
export function onExit(task: () => void): void {
  exitTasks.push(task);
}

/** Kill every tracked child at once and run the exit tasks (exit path; synchronous). */
export function killAllChildren(): void {
  for (const child of tracked) child.kill("SIGKILL");
  tracked.clear();
  for (const task of exitTasks.splice(0))
    try {
      task();
    } catch {
      // best effort on the way out
    }
}

let installed = false;

/** Make sure children die with the harness: normal exit, Ctrl-C, SIGTERM, uncaught errors. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAllChildren);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(signal, () => {
      killAllChildren();
      process.stderr.write(`bench: ${signal}, stopped all peers\n`);
      process.exit(130);
    });
}
