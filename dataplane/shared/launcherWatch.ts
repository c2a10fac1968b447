/**
 * Stop when the program's launcher goes away: `npm start` / `npm run gateway` run the program as
 * npm → `sh -c "<script>"` → (tsx's CLI → a child node) → the program. `kill -TERM <npm's pid>`
 * (a user, a supervisor) makes npm forward SIGTERM to the `sh` only; dash does not pass it on to
 * its child and dies, and the program, still holding its port, is orphaned (measured: tsx and the
 * data plane kept running). A `kill -9` of npm orphans everything the same way.
 *
 * So a program started through such wrappers watches the chain of them: every `interval` it
 * checks that each process between it and the topmost wrapper still has the parent it had at
 * start. When one was re-parented (its parent died), the launcher is gone, and the program is
 * told to stop the way SIGTERM stops it (drain, exit 0). The process above the topmost wrapper
 * (the user's shell) is not watched: `nohup npm start &` keeps running when its terminal closes.
 *
 * Wrappers: npm itself, the `sh -c` npm runs a script with, and tsx's CLI. A program started
 * directly (`node dist/...` in the image, where it is PID 1, or by a supervisor) watches nothing.
 * Linux reads the chain from /proc; elsewhere, under npm, only the program's own parent is
 * watched (`process.ppid`).
 */
import { readFileSync } from "node:fs";

/** How often the chain is checked. */
export const LAUNCHER_CHECK_MS = 500;

/** One process of the chain: its pid and the parent it had at start. */
interface Link {
  pid: number;
  ppid: number;
  what: string;
}

/** Where the process table is read from (tests pass a fake). */
export interface ProcessTable {
  /** Parent pid of `pid`, undefined when it does not exist. */
  parentOf(pid: number): number | undefined;
  /** Command line of `pid` (argv), undefined when it does not exist. */
  commandOf(pid: number): string[] | undefined;
}

/** The table of this machine, from /proc (Linux); undefined elsewhere. */
export function procTable(root = "/proc"): ProcessTable | undefined {
  const read = (pid: number, file: string): string | undefined => {
    try {
      return readFileSync(`${root}/${pid}/${file}`, "latin1");
    } catch {
      return undefined;
    }
  };
  if (read(process.pid, "stat") === undefined) return undefined;
  return {
    parentOf(pid) {
      const stat = read(pid, "stat");
      if (stat === undefined) return undefined;
      // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      return Number.isInteger(ppid) ? ppid : undefined;
    },
    commandOf(pid) {
      const cmdline = read(pid, "cmdline");
      return cmdline === undefined ? undefined : cmdline.split("\0").filter(Boolean);
    },
  };
}

/** What kind of wrapper `argv` is, or undefined for a process that is not one. */
export function wrapperKind(argv: readonly string[], npmExecPath?: string): string | undefined {
  const [program = "", first = "", second = ""] = argv;
  const base = (path: string) => path.slice(path.lastIndexOf("/") + 1);
  const isNode = /^node(js)?(\d+)?$/.test(base(program));
  // tsx's CLI: `node .../node_modules/.bin/tsx` or `node .../tsx/dist/cli.mjs`.
  if (isNode && (/node_modules\/\.bin\/tsx$/.test(first) || /tsx\/dist\/cli\.m?js$/.test(first)))
    return "tsx";
  if (base(program) === "tsx") return "tsx";
  // npm: `node .../npm-cli.js run ...` or `npm start` (its process title).
  if (isNode && (/npm-cli\.js$/.test(first) || (npmExecPath && first === npmExecPath)))
    return "npm";
  if (base(program) === "npm" || /^npm (start|run|run-script|exec|test|restart)( |$)/.test(program))
    return "npm";
  if (/^(sh|dash|bash)$/.test(base(program)) && first === "-c" && second !== "") return "sh -c";
  return undefined;
}

/**
 * The links to watch: this process and every wrapper above it but the topmost, each with the
 * parent it has now. Empty when this process was not started by a wrapper.
 */
export function launcherChain(table: ProcessTable, self: number, npmExecPath?: string): Link[] {
  const links: Link[] = [];
  let pid = self;
  let what = "this process";
  for (let depth = 0; depth < 8; depth++) {
    const ppid = table.parentOf(pid);
    if (ppid === undefined || ppid <= 1) break;
    const kind = wrapperKind(table.commandOf(ppid) ?? [], npmExecPath);
    if (kind === undefined) break;
    links.push({ pid, ppid, what });
    pid = ppid;
    what = kind;
  }
  return links;
}

/** A running watch. */
export interface LauncherWatch {
  stop(): void;
}

/**
 * Call `onGone` once when a process of the launcher chain lost its parent. Returns undefined
 * (watching nothing) when the program was not started through a wrapper.
 */
export function watchLauncher(
  onGone: (why: string) => void,
  options: { intervalMs?: number; table?: ProcessTable | undefined } = {},
): LauncherWatch | undefined {
  const table = options.table ?? procTable();
  const npmExecPath = process.env.npm_execpath;
  let links: Link[];
  if (table) links = launcherChain(table, process.pid, npmExecPath);
  else if (process.env.npm_lifecycle_event)
    links = [{ pid: process.pid, ppid: process.ppid, what: "this process" }];
  else links = [];
  if (links.length === 0) return undefined;
  const parentOf = (pid: number): number | undefined =>
    table ? table.parentOf(pid) : pid === process.pid ? process.ppid : undefined;
  const timer = setInterval(() => {
    for (const link of links) {
      const now = parentOf(link.pid);
      if (now === link.ppid) continue;
      clearInterval(timer);
      onGone(
        `the launcher is gone: ${link.what} (pid ${link.pid}) lost its parent (pid ${link.ppid})`,
      );
      return;
    }
  }, options.intervalMs ?? LAUNCHER_CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
