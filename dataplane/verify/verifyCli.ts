/** `npm run verify` end to end: parse, probe, report, exit code. */
import { EXIT_CODES } from "../../contract/exitCodes";
import { UserError } from "../../contract/userError";
import { runVerify } from "./verify";
import { parseVerifyArgs, VERIFY_USAGE, type VerifyArgs } from "./verifyArgs";
import { buildReport, formatReport } from "./verifyReport";
/** Where the CLI writes; tests pass buffers. */
export interface VerifyIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A progress display on stderr, so stdout holds the report alone (`verify ... > report.txt`,
 * `| tee`): a bar redrawn in place on a terminal, a plain line every quarter otherwise (CI logs
 * keep every line, so a bar would flood them).
 */
function progressReporter(stream: VerifyIo["stderr"] | undefined): {
  update(done: number, total: number): void;
  clear(): void;
} {
  if (!stream) return { update() {}, clear() {} };
  if (stream.isTTY) {
    let lastDrawn = -1;
    return {
      update(done, total) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        if (filled === lastDrawn && done !== total) return;
        lastDrawn = filled;
        stream.write(`\r  [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`);
      },
      clear() {
        stream.write("\r\x1b[K");
      },
    };
  }
  let quarter = 0;
  return {
    update(done, total) {
      // One line per quarter reached; several quarters reached at once (small n) give one line.
      let reached = quarter;
      while (reached < 4 && done >= Math.ceil(((reached + 1) * total) / 4)) reached++;
      if (reached === quarter) return;
      quarter = reached;
      stream.write(`  ${done}/${total} connections done\n`);
    },
    clear() {},
  };
}

/**
 * The whole command: parse, measure, print, return the exit code. User errors print their
 * message only (no stack) and return `EXIT_CODES.usage`.
 */
export async function verifyCli(argv: readonly string[], io: VerifyIo): Promise<number> {
  let args: VerifyArgs;
  try {
    args = parseVerifyArgs(argv);
  } catch (error) {
    if (error instanceof UserError) {
      io.stderr.write(`verify: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    throw error;
  }
  if (args.help) {
    io.stdout.write(VERIFY_USAGE);
    return 0;
  }
  // Progress goes to stderr; with --json only as a bar on a terminal (a script reading the JSON
  // wants nothing else).
  const progress = progressReporter(args.json && !io.stderr.isTTY ? undefined : io.stderr);
  const result = await runVerify({
    host: args.host,
    port: args.port,
    connections: args.connections,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    prefixes: args.prefixes,
    onProgress: (done, total) => progress.update(done, total),
  });
  progress.clear();
  const report = buildReport(args, result);
  io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.exitCode;
}
