/**
 * `npm run shift -- TARGET --steps 5,20,50,100 --interval 5m --host H --port P [options]`: see
 * `SHIFT_USAGE` in `shiftArgs.ts`. Only wiring here. The first Ctrl-C (or SIGTERM) stops between
 * steps and leaves the weight where it is (a running `pulumi up` or write finishes first); a
 * second one exits at once.
 */
import { EXIT_CODES } from "../../contract/exitCodes";
import { shiftCli } from "./shiftCli";

const controller = new AbortController();
const stop = (signal: NodeJS.Signals) => {
  if (controller.signal.aborted) {
    process.stderr.write(`\nshift: ${signal} again: exiting now\n`);
    process.exit(EXIT_CODES.interrupted);
  }
  process.stderr.write(
    `\nshift: ${signal}: stopping after the current operation; the weight stays where it is (again to exit now)\n`,
  );
  controller.abort();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

shiftCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr },
  { signal: controller.signal },
).then(
  (code) => {
    // exitCode, not exit(): let a piped stdout flush the report first.
    process.exitCode = code;
    // Nothing else should keep the process: leftover sockets are the probe's, already closed.
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
  },
  (error: unknown) => {
    process.stderr.write(`shift: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT_CODES.internal;
  },
);
