/**
 * `npm run verify -- --host H --port P [-n 200] [--expect-v2 W] ...`: see `VERIFY_USAGE` in
 * `verifyArgs.ts`. Only wiring here; exit codes: `EXIT_CODES` (0/1/3 verdicts, 2 usage).
 */
import { EXIT_CODES } from "../../contract/exitCodes";
import { verifyCli } from "./verifyCli";

verifyCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    // exitCode, not exit(): let a piped stdout flush the report first.
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `verify: unexpected failure: ${(error as Error).stack ?? String(error)}\n`,
    );
    process.exitCode = EXIT_CODES.internal;
  },
);
