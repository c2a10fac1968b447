/** `npm run verify` command line: flags, defaults, usage text. */
import { parseArgs } from "node:util";
import { UserError } from "../../contract/userError";
import { DEFAULT_PREFIXES, type VersionPrefixes } from "../../contract/versions";

/** Error code of bad command-line arguments. */
export const USAGE_ERROR_CODE = "E_USAGE";

/** Parsed `npm run verify` arguments. */
export interface VerifyArgs {
  host: string;
  port: number;
  connections: number;
  concurrency: number;
  timeoutMs: number;
  prefixes: VersionPrefixes;
  /** Expected v2 percentage; without it verify only measures. */
  expectV2?: number;
  json: boolean;
  help: boolean;
}

/** `--help` text; `npm run verify -- --help`. */
export const VERIFY_USAGE = `Usage: npm run verify -- --host HOST --port PORT [options]

Opens N new TCP connections to HOST:PORT, sends one line on each and classifies the reply by
its prefix ("one ..." is v1, "two ..." is v2, as tcp-echo answers).

Options:
  --host HOST          address to test (default 127.0.0.1)
  --port PORT          TCP port, 1-65535 (default 31400)
  -n, --connections N  new connections to open, 1-100000 (default 200)
  --concurrency C      connections open at once, 1-1000 (default 16)
  --expect-v2 W        expected v2 percentage, 0-100: run an exact binomial test
  --timeout D          per connection: connect and reply within D, e.g. 5s or 500ms (default 5s)
  --prefix-v1 P        reply prefix of v1 (default one)
  --prefix-v2 P        reply prefix of v2 (default two)
  --json               print one JSON object instead of the report
  -h, --help           print this help

Exit codes:
  0   measured; with --expect-v2, the observed share is consistent with W% (p >= 0.001)
  1   with --expect-v2: the observed share is inconsistent with W% (exact binomial p < 0.001)
  2   bad arguments (nothing was measured)
  3   more than 1% of connections failed (checked first: the counts are then not judged)
  70  internal error (a bug: please report it)
`;

function usageError(message: string): UserError {
  return new UserError(USAGE_ERROR_CODE, `${message} (see npm run verify -- --help)`);
}

function integerFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const number = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max))
    throw usageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return number;
}

/** `5s`, `500ms`, `1.5s`, `1m` to milliseconds; `undefined` for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
  return Math.round(Number(match[1]) * unit);
}

function prefixFlag(flag: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (!/^\S{1,64}$/.test(value))
    throw usageError(`${flag} must be 1 to 64 characters without spaces, got "${value}"`);
  return value;
}

/** Parse `npm run verify` arguments; throws `UserError` `E_USAGE` naming the flag. */
export function parseVerifyArgs(argv: readonly string[]): VerifyArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        connections: { type: "string", short: "n" },
        concurrency: { type: "string" },
        "expect-v2": { type: "string" },
        timeout: { type: "string" },
        "prefix-v1": { type: "string" },
        "prefix-v2": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const text = (name: string) => values[name] as string | undefined;
  const host = text("host") ?? "127.0.0.1";
  if (host.trim() === "") throw usageError("--host must be a host name or IP address");
  let timeoutMs = 5000;
  const timeout = text("timeout");
  if (timeout !== undefined) {
    const parsed = parseDuration(timeout);
    if (parsed === undefined || parsed < 1 || parsed > 600_000)
      throw usageError(
        `--timeout must be a duration from 1ms to 10m such as 5s or 500ms, got "${timeout}"`,
      );
    timeoutMs = parsed;
  }
  let expectV2: number | undefined;
  const expect = text("expect-v2");
  if (expect !== undefined) {
    expectV2 = /^\s*\d+(\.\d+)?\s*$/.test(expect) ? Number(expect) : Number.NaN;
    if (!(expectV2 >= 0 && expectV2 <= 100))
      throw usageError(`--expect-v2 must be a percentage from 0 to 100, got "${expect}"`);
  }
  const prefixes = {
    v1: prefixFlag("--prefix-v1", text("prefix-v1"), DEFAULT_PREFIXES.v1),
    v2: prefixFlag("--prefix-v2", text("prefix-v2"), DEFAULT_PREFIXES.v2),
  };
  if (prefixes.v1 === prefixes.v2)
    throw usageError(`--prefix-v1 and --prefix-v2 must differ, both are "${prefixes.v1}"`);
  return {
    host,
    port: integerFlag("--port", text("port"), 1, 65535, 31400),
    connections: integerFlag("-n/--connections", text("connections"), 1, 100_000, 200),
    concurrency: integerFlag("--concurrency", text("concurrency"), 1, 1000, 16),
    timeoutMs,
    prefixes,
    ...(expectV2 === undefined ? {} : { expectV2 }),
    json: values.json === true,
    help: values.help === true,
  };
}
