/**
 * Flag parsing shared by the command lines that take numbers, durations and reply prefixes
 * (`npm run verify`, `npm run shift`): one wording per kind of mistake, every message naming the
 * flag, what it allows and how to get the help text.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UserError } from "../../contract/userError";
import { DEFAULT_PREFIXES, type VersionPrefixes } from "../../contract/versions";

/** Error code of bad command-line arguments (exit 2: nothing was started or changed). */
export const USAGE_ERROR_CODE = "E_USAGE";

/** `5s`, `500ms`, `1.5s`, `1m`, `2h` to milliseconds; `undefined` for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(match[1]) * unit);
}

/** A bound in the largest unit that states it exactly: `24h`, `10m`, `100ms`. */
function formatLimit(ms: number): string {
  if (ms === 0) return "0";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** How one kind of numeric flag is read, and how its allowed range is put in a message. */
interface NumberKind {
  read(text: string): number | undefined;
  allowed(min: number, max: number): string;
}

const WHOLE: NumberKind = {
  read: (text) => (/^\s*\d+\s*$/.test(text) ? Number(text) : undefined),
  allowed: (min, max) => `a whole number from ${min} to ${max}`,
};

const DECIMAL: NumberKind = {
  read: (text) => (/^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : undefined),
  allowed: (min, max) => `a number from ${min} to ${max}`,
};

/** `1`, `1%`, `0.5%`: the percentage as written (the caller divides). */
const PERCENT: NumberKind = {
  read: (text) => {
    const digits = text.trim().replace(/%$/, "");
    return /^\d+(\.\d+)?$/.test(digits) ? Number(digits) : undefined;
  },
  allowed: (min, max) => `a percentage from ${min} to ${max}, e.g. 1%`,
};

/** A duration in milliseconds; a bare `0` is allowed where the range starts at 0. */
const DURATION: NumberKind = {
  read: (text) => (text.trim() === "0" ? 0 : parseDuration(text)),
  allowed: (min, max) =>
    `a duration such as 500ms, 30s or 5m, from ${formatLimit(min)} to ${formatLimit(max)}`,
};

/** The flags of one parsed command line. */
export interface ParsedFlags {
  /** A string flag's text as given, `undefined` when it is absent. */
  text(name: string): string | undefined;
  /** Whether a boolean flag was given. */
  given(name: string): boolean;
}

/** A numeric flag's value, from `min` to `max`; `fallback` when the flag is absent. */
export type RangedFlag = (
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
  fallback: number,
) => number;

/** The flag parsers of one command; each throws `UserError` `E_USAGE` naming the flag. */
export interface CommandFlags {
  /** A usage error whose message ends with where the help is: `(see npm run verify -- --help)`. */
  usageError(message: string): UserError;
  /** `parseArgs`, strict and without positionals; an unknown flag is a usage error. */
  parse(argv: readonly string[], options: NonNullable<ParseArgsConfig["options"]>): ParsedFlags;
  integer: RangedFlag;
  number: RangedFlag;
  /** `1`, `1%`, `0.5%` to a fraction (0.01, 0.005); min, max and fallback are in percent. */
  percent: RangedFlag;
  /** `500ms`, `30s`, `5m` to milliseconds; min, max and fallback are in milliseconds. */
  duration: RangedFlag;
  /** `--host`: `undefined` when absent, refused when blank. */
  host(value: string | undefined): string | undefined;
  /**
   * `--prefix-v1` and `--prefix-v2`: the ones given (1 to 64 characters without spaces), which,
   * with the defaults for the others, must differ.
   */
  prefixes(v1: string | undefined, v2: string | undefined): Partial<VersionPrefixes>;
}

/** The flag parsers of the command whose help is `help`, e.g. `npm run verify -- --help`. */
export function commandFlags(help: string): CommandFlags {
  const usageError = (message: string) =>
    new UserError(USAGE_ERROR_CODE, `${message} (see ${help})`);

  const ranged =
    (kind: NumberKind): RangedFlag =>
    (flag, value, min, max, fallback) => {
      if (value === undefined) return fallback;
      const number = kind.read(value);
      if (number === undefined || !(number >= min && number <= max))
        throw usageError(`${flag} must be ${kind.allowed(min, max)}, got "${value}"`);
      return number;
    };
  const percent = ranged(PERCENT);

  const prefix = (flag: string, value: string | undefined): string | undefined => {
    if (value !== undefined && !/^\S{1,64}$/.test(value))
      throw usageError(`${flag} must be 1 to 64 characters without spaces, got "${value}"`);
    return value;
  };

  return {
    usageError,
    parse(argv, options) {
      let values: Record<string, unknown>;
      try {
        ({ values } = parseArgs({
          args: [...argv],
          strict: true,
          allowPositionals: false,
          options,
        }));
      } catch (error) {
        throw usageError((error as Error).message);
      }
      return {
        text: (name) => values[name] as string | undefined,
        given: (name) => values[name] === true,
      };
    },
    integer: ranged(WHOLE),
    number: ranged(DECIMAL),
    percent: (flag, value, min, max, fallback) => percent(flag, value, min, max, fallback) / 100,
    duration: ranged(DURATION),
    host(value) {
      if (value !== undefined && value.trim() === "")
        throw usageError("--host must be a host name or IP address");
      return value;
    },
    prefixes(v1Text, v2Text) {
      const v1 = prefix("--prefix-v1", v1Text);
      const v2 = prefix("--prefix-v2", v2Text);
      if ((v1 ?? DEFAULT_PREFIXES.v1) === (v2 ?? DEFAULT_PREFIXES.v2))
        throw usageError(`--prefix-v1 and --prefix-v2 must differ, both are "${v1 ?? v2}"`);
      return { ...(v1 === undefined ? {} : { v1 }), ...(v2 === undefined ? {} : { v2 }) };
    },
  };
}
