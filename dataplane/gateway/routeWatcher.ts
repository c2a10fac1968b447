/**
 * Watch a route file and hand each new valid version to the gateway.
 *
 * The DIRECTORY is watched, not the file: Kubernetes updates a mounted ConfigMap by writing a new
 * timestamped directory and renaming the `..data` symlink over the old one, so the file's own
 * inode never changes and a watch on it would never fire. Editors that save by rename do the same.
 */
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseRouteFile, ROUTE_FILE_ERROR_CODE, type RouteFile } from "../../contract/routeFile";
import { UserError } from "../../contract/userError";

/** What the watcher reports. */
export interface RouteWatchHandlers {
  /** A changed file that parsed and validated. */
  onRoutes(routes: RouteFile): void | Promise<void>;
  /** A changed file that cannot be read or is invalid; the last good routes should stay. */
  onError(error: Error): void;
}

/** Options of `watchRouteFile`. */
export interface RouteWatchOptions {
  /**
   * The text already loaded by the caller. A change made between the caller's read and the
   * start of the watch is then noticed at the first event. @default the file's text at start
   */
  initialText?: string;
}

/** Filesystem events come in bursts (write, chmod, rename); read once the burst is over. */
export const WATCH_SETTLE_MS = 50;

/**
 * Watch `path`: after every change of its directory, re-read the file; if its text changed,
 * parse it with `parseRouteFile` and call `onRoutes`, or `onError` if it is invalid (the last
 * good version stays in effect). The file must exist when the watch starts.
 */
export function watchRouteFile(
  path: string,
  handlers: RouteWatchHandlers,
  options: RouteWatchOptions = {},
): { close(): void } {
  let lastText = options.initialText ?? readFileSync(path, "utf8");
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Checks run one after another so an older read never lands after a newer one. */
  let checking: Promise<void> = Promise.resolve();

  const check = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      // Between an unlink and a create, or a broken symlink: report once per distinct problem.
      const message = `Cannot read route file ${path}: ${(error as Error).message}`;
      if (lastText !== message) {
        lastText = message;
        if (!closed) handlers.onError(new UserError(ROUTE_FILE_ERROR_CODE, message));
      }
      return;
    }
    if (text === lastText || closed) return;
    lastText = text;
    let routes: RouteFile;
    try {
      routes = parseRouteFile(text, path);
    } catch (error) {
      handlers.onError(error as Error);
      return;
    }
    try {
      await handlers.onRoutes(routes);
    } catch (error) {
      handlers.onError(error as Error);
    }
  };

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      checking = checking.then(check);
    }, WATCH_SETTLE_MS);
  };

  const directory = dirname(path);
  const watcher: FSWatcher = watch(directory, { persistent: false }, schedule);
  watcher.on("error", (error) => handlers.onError(error));

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
