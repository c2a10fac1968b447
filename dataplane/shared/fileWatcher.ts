/**
 * Follow a config file and hand over each new complete version of its text: the gateway's route
 * file (ConfigMap or hand-edited) and local mode's stack file (`npm start`).
 *
 * - The DIRECTORY is watched, not the file: Kubernetes updates a mounted ConfigMap by writing a
 *   new timestamped directory and renaming the `..data` symlink over the old one, so the file's
 *   own inode never changes and a watch on it would never fire. Editors that save by rename do
 *   the same.
 * - Events come in bursts (write, chmod, rename): the file is read once the directory has been
 *   quiet for `settleMs`, but never later than `maxDelayMs` after the first event of a burst (a
 *   file rewritten without pause is still read).
 * - Half-written files: a file that was REPLACED (a new file: written elsewhere, then renamed
 *   into place, which is atomic; what Kubernetes and most editors do) is complete when it is
 *   read, and is used at once. A file rewritten IN PLACE may be read between two of its writer's
 *   writes, so its text is used only once it has stayed the same (size, mtime and text) for
 *   `stableMs` since it was first read, whatever else happens in the directory meanwhile. That
 *   narrows the window, it cannot close it: a writer that pauses longer than `stableMs` between
 *   writes can still have its first part read. Write a temporary file and rename it over the old.
 * - "A new file" is told by its identity, device and inode (a ConfigMap's file is in a new
 *   directory each time). The identity and the text come from one open file (fstat, then read),
 *   so a replacement between the two cannot pair one file's identity with another's text. (Two
 *   replacements within one settle period can land the path on an inode number it had before,
 *   ext4 reuses freed ones: that one is then taken for an in-place write and waits `stableMs`.
 *   The birth time would tell them apart, but where statx is unavailable libuv reports the
 *   ctime as the birth time, and every in-place write would look like a replacement.)
 * - Identical text is reported once; a problem (missing, too large, unreadable) is reported once
 *   until it changes or the file is good again.
 * - The size is checked before the file is read (`maxBytes`).
 */
import { type FSWatcher, readFileSync, type Stats, statSync, watch } from "node:fs";
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { UserError } from "../../contract/userError";

/** Why a file could not be used. */
export type FileProblem = "missing" | "too-large" | "unreadable";

/** A file that cannot be read or used; `reason` says which kind of problem. */
export class FileWatchError extends UserError {
  readonly reason: FileProblem;

  constructor(code: string, reason: FileProblem, message: string) {
    super(code, message);
    this.reason = reason;
  }
}

/** What the watcher reports. */
export interface FileWatchHandlers {
  /** A new complete version of the text (differs from the last one reported, or follows a problem). */
  onText(text: string): void | Promise<void>;
  /** The file is missing, too large or unreadable; or `onText` threw. */
  onError(error: Error): void;
}

/** Options of `watchFile`. */
export interface FileWatchOptions {
  /** Error code of the problems reported (`E_ROUTE_FILE`, `E_STACK_FILE`). */
  errorCode: string;
  /** Names the file in messages, e.g. `route file`. */
  what: string;
  /**
   * The text the caller already has, not reported again; `null`: the caller knows the file is
   * missing. The file is read once when the watch starts, so a change made since the caller's
   * read is reported too. @default the file's text when the watch starts
   */
  initialText?: string | null;
  /** Quiet time after the last event before reading. @default 50 */
  settleMs?: number;
  /** How long an in-place change must stay the same before it is used. @default 250 */
  stableMs?: number;
  /** Longest time from the first event of a burst to a read. @default 1000 */
  maxDelayMs?: number;
  /** Largest file read; bigger ones are reported, not read. @default 1 MiB */
  maxBytes?: number;
}

/** Default settle time: filesystem events of one save arrive within a few milliseconds. */
export const WATCH_SETTLE_MS = 50;
/** Default time an in-place change must stay the same. */
export const WATCH_STABLE_MS = 250;
/** Default cap on the time from a change to its read. */
export const WATCH_MAX_DELAY_MS = 1_000;
/** Default size limit. */
export const WATCH_MAX_BYTES = 1024 * 1024;

/** A running watch. */
export interface FileWatch {
  close(): void;
}

/** Which file this is (not its content): a replacement has another identity. */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

/** `1.5 MiB` / `512 KiB` / `300 bytes` */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Number((bytes / 1024 / 1024).toFixed(1))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}

/** Watch `path` (see the module comment). The directory must exist. */
export function watchFile(
  path: string,
  handlers: FileWatchHandlers,
  options: FileWatchOptions,
): FileWatch {
  const settleMs = options.settleMs ?? WATCH_SETTLE_MS;
  const stableMs = options.stableMs ?? WATCH_STABLE_MS;
  const maxDelayMs = options.maxDelayMs ?? WATCH_MAX_DELAY_MS;
  const maxBytes = options.maxBytes ?? WATCH_MAX_BYTES;
  const { errorCode, what } = options;

  let lastText: string | undefined;
  let lastIdentity: string | undefined;
  if (options.initialText === undefined) {
    try {
      lastText = readFileSync(path, "utf8");
    } catch {
      // Missing or unreadable: the first good version will be reported.
    }
  } else lastText = options.initialText ?? undefined;
  try {
    lastIdentity = identityOf(statSync(path));
  } catch {
    lastIdentity = undefined;
  }
  const missingMessage = `${what} ${path} does not exist (deleted?)`;
  /** The last problem reported (or known to the caller); cleared by a good version. */
  let lastProblem: string | undefined = options.initialText === null ? missingMessage : undefined;
  /** An in-place change waiting to prove it is complete; `since`: when it was first read. */
  let pending: { text: string; size: number; mtimeMs: number; since: number } | undefined;
  /** First event of the burst not yet read to the end. */
  let burstStart: number | undefined;
  let lastCheck = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Checks run one after another so an older read never lands after a newer one. */
  let checking: Promise<void> = Promise.resolve();

  const problem = (reason: FileProblem, message: string): void => {
    pending = undefined;
    burstStart = undefined;
    if (message === lastProblem || closed) return;
    lastProblem = message;
    handlers.onError(new FileWatchError(errorCode, reason, message));
  };

  const schedule = (delayMs: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      checking = checking.then(check);
    }, delayMs);
  };

  const check = async (): Promise<void> => {
    if (closed) return;
    lastCheck = Date.now();
    let stats: Stats;
    let text: string;
    try {
      const file = await open(path, "r");
      try {
        stats = await file.stat();
        if (stats.size > maxBytes) {
          problem(
            "too-large",
            `${what} ${path} is ${formatBytes(stats.size)}; the limit is ${formatBytes(maxBytes)} (${maxBytes} bytes)`,
          );
          return;
        }
        text = await file.readFile("utf8");
      } finally {
        await file.close();
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") problem("missing", missingMessage);
      else problem("unreadable", `Cannot read ${what} ${path}: ${(error as Error).message}`);
      return;
    }
    if (closed) return;
    if (Buffer.byteLength(text) > maxBytes) {
      problem(
        "too-large",
        `${what} ${path} is over the limit of ${formatBytes(maxBytes)} (${maxBytes} bytes)`,
      );
      return;
    }
    const unchanged = text === lastText && lastProblem === undefined;
    const identity = identityOf(stats);
    if (identity !== lastIdentity || unchanged) {
      // Replaced by a rename (complete by construction), or nothing to report.
    } else {
      // Rewritten in place: use it only once it has stayed the same for `stableMs` since it was
      // first read (an event of another file in the directory brings a check sooner; it does not
      // shorten the wait). A file rewritten without pause for longer than `maxDelayMs` is used
      // when its text repeats.
      const now = Date.now();
      const overdue = burstStart !== undefined && now - burstStart >= maxDelayMs;
      const same =
        pending !== undefined &&
        pending.text === text &&
        pending.size === stats.size &&
        (pending.mtimeMs === stats.mtimeMs || overdue);
      if (!same || pending === undefined) {
        pending = { text, size: stats.size, mtimeMs: stats.mtimeMs, since: now };
        schedule(stableMs);
        return;
      }
      const waited = now - pending.since;
      if (waited < stableMs && !overdue) {
        schedule(stableMs - waited);
        return;
      }
    }
    lastIdentity = identity;
    pending = undefined;
    burstStart = undefined;
    if (unchanged) return;
    lastText = text;
    lastProblem = undefined;
    try {
      await handlers.onText(text);
    } catch (error) {
      handlers.onError(error as Error);
    }
  };

  const onEvent = (): void => {
    if (closed) return;
    const now = Date.now();
    burstStart ??= now;
    // Quiet for settleMs, but no later than maxDelayMs into the burst, and no more often than
    // every settleMs.
    const due = Math.max(Math.min(now + settleMs, burstStart + maxDelayMs), lastCheck + settleMs);
    schedule(Math.max(0, due - now));
  };

  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, onEvent);
  watcher.on("error", (error) =>
    problem("unreadable", `Cannot watch ${what} ${path}: ${error.message}`),
  );
  // The caller read the file before the watch started: a change in between fired no event.
  if (options.initialText !== undefined) schedule(0);

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
