/**
 * One JSON object per line, with a level: what log collectors (Alibaba Cloud SLS, Loki, kubectl
 * logs | jq) parse without configuration.
 */

/** Severity levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured logger: `msg` plus flat fields, written as one JSON line. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Whether lines of `level` are written; lets hot paths skip building fields. */
  isLevelEnabled?(level: LogLevel): boolean;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Where lines go. @default process.stdout */
  stream?: NodeJS.WritableStream;
  /** Lines below this level are dropped. @default "info" */
  level?: LogLevel;
  /** Program name, written as `name` on every line. */
  name?: string;
  /** Fields written on every line, after `msg` (e.g. `{ worker: 2 }`). */
  fields?: Record<string, unknown>;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The allowed `level` values, for CLI and env validation. */
export const LOG_LEVELS = Object.keys(LEVEL_RANK) as LogLevel[];

/** True when `value` is a log level name. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && value in LEVEL_RANK;
}

/** Errors do not serialise to JSON by themselves; keep the parts an operator needs. */
function jsonValue(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return code ? { message: value.message, code } : { message: value.message };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** Whether `logger` writes lines of `level` (true for loggers that do not say). */
export function levelEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.isLevelEnabled?.(level) ?? true;
}

/** Create a logger writing JSON lines (`time`, `level`, `name`, `msg`, then the fields). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const minimum = LEVEL_RANK[options.level ?? "info"];
  const name = options.name;
  const base = options.fields;

  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVEL_RANK[level] < minimum) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), level };
    if (name !== undefined) line.name = name;
    line.msg = msg;
    if (base) for (const key of Object.keys(base)) line[key] = base[key];
    if (fields) for (const key of Object.keys(fields)) line[key] = fields[key];
    let text: string;
    try {
      text = JSON.stringify(line, jsonValue);
    } catch {
      // A circular field must not take the process down; keep the message at least.
      text = JSON.stringify({ time: line.time, level, name, msg, note: "fields not serialisable" });
    }
    stream.write(`${text}\n`);
  };

  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    isLevelEnabled: (level) => LEVEL_RANK[level] >= minimum,
  };
}

/** A logger that writes nothing (library default, tests). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isLevelEnabled: () => false,
};
