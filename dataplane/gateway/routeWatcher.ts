/**
 * Watch a route file and hand each new valid version to the gateway: the shared file watcher
 * (dataplane/shared/fileWatcher.ts: directory watch for ConfigMap updates, settle, half-written
 * guard, size limit) plus the route-file parser.
 */
import {
  parseRouteFile,
  ROUTE_FILE_ERROR_CODE,
  ROUTE_FILE_MAX_BYTES,
  type RouteFile,
} from "../../contract/routeFile";
import { type FileWatch, type FileWatchOptions, watchFile } from "../shared/fileWatcher";

/** What the watcher reports. */
export interface RouteWatchHandlers {
  /** A changed file that parsed and validated. */
  onRoutes(routes: RouteFile): void | Promise<void>;
  /** A changed file that cannot be read or is invalid; the last good routes should stay. */
  onError(error: Error): void;
}

/** Options of `watchRouteFile`: the text already loaded, and the watcher's timings. */
export type RouteWatchOptions = Pick<FileWatchOptions, "settleMs" | "stableMs" | "maxDelayMs"> & {
  /**
   * The text already loaded by the caller, not reported again. The file is read once when the
   * watch starts, so a change made since the caller's read is reported too. @default the file's
   * text at start
   */
  initialText?: string;
};

/**
 * Watch `path`: each new complete version of its text is parsed with `parseRouteFile` and
 * handed to `onRoutes`, or to `onError` if it is invalid (the last good version stays in
 * effect); an error thrown by `onRoutes` goes to `onError` too. The file must exist when the
 * watch starts.
 */
export function watchRouteFile(
  path: string,
  handlers: RouteWatchHandlers,
  options: RouteWatchOptions = {},
): FileWatch {
  return watchFile(
    path,
    {
      onText: (text) => handlers.onRoutes(parseRouteFile(text, path)),
      onError: handlers.onError,
    },
    {
      ...options,
      errorCode: ROUTE_FILE_ERROR_CODE,
      what: "route file",
      maxBytes: ROUTE_FILE_MAX_BYTES,
    },
  );
}
