/**
 * tcp-echo server entry point, with the arguments of Istio's `istio/tcp-echo-server` image:
 * `<port[,port...]> <prefix>`, e.g. `9000 one` or `9000,9001 hello`.
 *
 * Environment: `LOG_LEVEL` (debug|info|warn|error, default info; `warn` silences the per-line
 * request/response logs), `ECHO_GRACE_SECONDS` (SIGTERM grace for open connections, default 10).
 */
import { EXIT_CODES } from "../../contract/exitCodes";
import type { UserError } from "../../contract/userError";
import { createLogger, isLogLevel, LOG_LEVELS } from "../shared/jsonLogger";
import { watchLauncher } from "../shared/launcherWatch";
import { ECHO_USAGE, type EchoArgs, parseEchoArgs } from "./echoArgs";
import { createEchoServer } from "./echoServer";

async function main(): Promise<void> {
  let args: EchoArgs;
  try {
    args = parseEchoArgs(process.argv.slice(2));
  } catch (error) {
    const message = (error as Error).message;
    if (!message) {
      process.stdout.write(`${ECHO_USAGE}\n`);
      process.exit(EXIT_CODES.ok);
    }
    process.stderr.write(`${message}\n${ECHO_USAGE}\n`);
    process.exit(EXIT_CODES.usage);
  }
  const level = process.env.LOG_LEVEL ?? "info";
  const graceSeconds = Number(process.env.ECHO_GRACE_SECONDS ?? "10");
  if (!isLogLevel(level) || !(graceSeconds >= 0)) {
    process.stderr.write(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join("|")}; ECHO_GRACE_SECONDS a number >= 0\n`,
    );
    process.exit(EXIT_CODES.usage);
  }
  const logger = createLogger({ level, name: "tcp-echo" });
  const server = createEchoServer({ ...args, logger });
  try {
    await server.listen();
  } catch (error) {
    logger.error((error as Error).message, { code: (error as UserError).code });
    process.exit(EXIT_CODES.failure);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal, graceSeconds });
    server.close(graceSeconds * 1000).then(() => {
      logger.info("stopped");
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // Started by npm (`npm run echo`), whose kill does not reach this process: see launcherWatch.ts.
  watchLauncher((why) => {
    logger.warn(why);
    stop("launcher gone");
  });
}

void main();
