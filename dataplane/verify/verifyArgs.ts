/** `npm run verify` command line: flags, defaults, usage text. */
import { DEFAULT_PREFIXES, type VersionPrefixes } from "../../contract/versions";
import { commandFlags, parseDuration } from "../shared/commandFlags";

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

const flags = commandFlags("npm run verify -- --help");

/** Parse `npm run verify` arguments; throws `UserError` `E_USAGE` naming the flag. */
export function parseVerifyArgs(argv: readonly string[]): VerifyArgs {
  const { text, given } = flags.parse(argv, {
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
  });
  const host = flags.host(text("host")) ?? "127.0.0.1";
  let timeoutMs = 5000;
  const timeout = text("timeout");
  if (timeout !== undefined) {
    const parsed = parseDuration(timeout);
    if (parsed === undefined || parsed < 1 || parsed > 600_000)
      throw flags.usageError(
        `--timeout must be a duration from 1ms to 10m such as 5s or 500ms, got "${timeout}"`,
      );
    timeoutMs = parsed;
  }
  let expectV2: number | undefined;
  const expect = text("expect-v2");
  if (expect !== undefined) {
    expectV2 = /^\s*\d+(\.\d+)?\s*$/.test(expect) ? Number(expect) : Number.NaN;
    if (!(expectV2 >= 0 && expectV2 <= 100))
      throw flags.usageError(`--expect-v2 must be a percentage from 0 to 100, got "${expect}"`);
  }
  const prefixes = {
    ...DEFAULT_PREFIXES,
    ...flags.prefixes(text("prefix-v1"), text("prefix-v2")),
  };
  return {
    host,
    port: flags.integer("--port", text("port"), 1, 65535, 31400),
    connections: flags.integer("-n/--connections", text("connections"), 1, 100_000, 200),
    concurrency: flags.integer("--concurrency", text("concurrency"), 1, 1000, 16),
    timeoutMs,
    prefixes,
    ...(expectV2 === undefined ? {} : { expectV2 }),
    json: given("json"),
    help: given("help"),
  };
}
