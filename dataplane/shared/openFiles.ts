/**
 * File descriptors: every proxied connection holds two (client and backend), so a listener's
 * `maxConnections` is only reachable when the process may open twice that many files. Running
 * out (EMFILE: this process; ENFILE: the whole system) is the gateway's own limit, never a
 * backend's fault.
 */
import { readFileSync } from "node:fs";

/** Descriptors the process needs besides its connections: listeners, admin, logs, watches. */
export const DESCRIPTOR_RESERVE = 64;

/**
 * The soft limit on open files from the text of `/proc/<pid>/limits`; `Infinity` for
 * `unlimited`; undefined when the line is missing.
 */
export function parseOpenFilesLimit(procLimits: string): number | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(procLimits);
  if (!match) return undefined;
  const soft = match[1] as string;
  if (soft === "unlimited") return Number.POSITIVE_INFINITY;
  const value = Number(soft);
  return Number.isInteger(value) ? value : undefined;
}

/**
 * This process's soft RLIMIT_NOFILE (Node raises it to the hard limit at start), or undefined
 * where it cannot be read (not Linux).
 */
export function openFilesLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync("/proc/self/limits", "utf8"));
  } catch {
    return undefined;
  }
}

/** Descriptors needed to carry `maxConnections` connections on each listener at once. */
export function descriptorsNeeded(maxConnections: readonly number[]): number {
  let needed = DESCRIPTOR_RESERVE;
  for (const max of maxConnections) needed += 2 * max + 1;
  return needed;
}

/** True for EMFILE / ENFILE: out of file descriptors, in this process or the system. */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "EMFILE" || code === "ENFILE";
}
