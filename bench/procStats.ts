/**
 * CPU time and memory of a process tree from /proc (Linux). A peer may be several processes
 * (nginx master + worker, a Node cluster), so figures are summed over the tree under a root pid.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The fields of /proc/PID/stat the benchmark uses. */
export interface ProcStat {
  pid: number;
  /** Executable name (may contain spaces and parentheses). */
  comm: string;
  state: string;
  ppid: number;
  /** User CPU time in clock ticks (all threads). */
  utime: number;
  /** System CPU time in clock ticks (all threads). */
  stime: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/**
 * Parse /proc/PID/stat. `comm` is in parentheses and may itself contain ") ", so the fields
 * are split after the LAST ')'. Field numbers follow proc(5): state 3, ppid 4, utime 14,
 * stime 15, rss 24.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  const rest = text
    .slice(close + 2)
    .trim()
    .split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const field = (n: number): number => {
    const value = Number(rest[n - 3]);
    if (!Number.isFinite(value)) throw new Error(`/proc/PID/stat field ${n} missing`);
    return value;
  };
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "?",
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    rssPages: field(24),
  };
}

/** Resident memory in KiB from /proc/PID/status text (`VmRSS:   12345 kB`); 0 if absent. */
export function parseStatusRssKb(text: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return match?.[1] ? Number(match[1]) : 0;
}

/** Pids of `root` and all its descendants, given every process's parent. */
export function descendants(root: number, parentOf: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const result: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (result.includes(pid)) continue;
    result.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return result;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined; // exited meanwhile
  }
}

/** The live process tree under `root` (root first). */
export function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) parentOf.set(stat.pid, stat.ppid);
  }
  if (!parentOf.has(root)) return [];
  return descendants(root, parentOf);
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** A snapshot of a process tree: CPU seconds (user + system) and resident KiB. */
export interface TreeUsage {
  pids: number[];
  cpuSeconds: number;
  rssKb: number;
}

/** CPU and RSS summed over the process tree under `root`. */
export function treeUsage(root: number): TreeUsage {
  const pids = processTree(root);
  let ticks = 0;
  let rssKb = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    ticks += stat.utime + stat.stime;
    try {
      rssKb += parseStatusRssKb(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      // exited meanwhile
    }
  }
  return { pids, cpuSeconds: ticks / clockTicks(), rssKb };
}

/** Jiffies of the `cpu` line of /proc/stat: all of them, and those not idle or waiting. */
export interface MachineCpu {
  total: number;
  busy: number;
}

/**
 * Parse the aggregate `cpu` line of /proc/stat (user nice system idle iowait irq softirq steal
 * ...; guest time is already inside user). Busy is everything but idle and iowait.
 */
export function parseMachineCpu(text: string): MachineCpu {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) throw new Error("no cpu line in /proc/stat");
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, x) => sum + x, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { total, busy: total - idle };
}

/** The machine's CPU counters now. */
export function machineCpu(): MachineCpu {
  return parseMachineCpu(readFileSync("/proc/stat", "utf8"));
}

/** Share of all cores busy between two snapshots (0..1). */
export function busyShare(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}

/**
 * Socket inodes listening on TCP `port` in /proc/net/tcp text (`sl local rem st ... inode`;
 * addresses in hex, state 0A = LISTEN).
 */
export function listeningInodes(procNetTcp: string, port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of procNetTcp.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] === "0A" && fields[1]?.endsWith(`:${hexPort}`) && fields[9])
      inodes.add(fields[9]);
  }
  return inodes;
}

/** Which of `pids` hold a socket listening on TCP `port` (the reload checks). */
export function pidsListeningOn(port: number, pids: readonly number[]): number[] {
  const inodes = listeningInodes(readFileSync("/proc/net/tcp", "utf8"), port);
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
          return inodes.has(target.slice("socket:[".length, -1));
        } catch {
          return false; // closed meanwhile
        }
      });
    } catch {
      return false; // exited
    }
  });
}
