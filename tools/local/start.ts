/**
 * `npm start -- [--stack dev] [--port 31400] [--host 127.0.0.1] [--dir DIR] [--admin HOST:PORT]`:
 * run the shift locally (see `localStack.ts`); `--admin` serves the gateway's /healthz, /readyz
 * and /metrics. Exit codes: 0 after Ctrl-C/SIGTERM (drained), 1 when it cannot start (invalid
 * config, busy port), 2 for bad arguments, 130 for a second Ctrl-C.
 *
 * Signals: a terminal's Ctrl-C reaches the whole process group, and a launcher in between (npm,
 * tsx's CLI) may relay it once more: a SIGINT within `SAME_CTRL_C_MS` of the first is the same
 * Ctrl-C; only a later one means "now". A `kill` of npm's pid does not reach this process at all
 * (npm signals its `sh`, which dies without passing it on): the launcher watch
 * (dataplane/shared/launcherWatch.ts) notices and stops the same way.
 */
import { statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { EXIT_CODES } from "../../contract/exitCodes";
import { joinHostPort, parseHostPort } from "../../contract/hostPort";
import { UserError } from "../../contract/userError";
import { commandFlags } from "../../dataplane/shared/commandFlags";
import { watchLauncher } from "../../dataplane/shared/launcherWatch";
import { stackFilePath } from "../../infra/config/stackFile";
import { type LocalStack, startLocalStack } from "./localStack";

/** A second SIGINT this soon after the first is the same Ctrl-C (relayed by a launcher). */
export const SAME_CTRL_C_MS = 500;

const USAGE = `Usage: npm start -- [--stack NAME] [--port PORT] [--host HOST] [--dir DIR] [--admin HOST:PORT]

Runs tcp-echo v1 and v2 and the weighted TCP gateway on this machine, configured from
Pulumi.<stack>.yaml. Edit weightV2 in that file (or run pulumi config set weightV2 20) and the
gateway reloads in place; open connections keep their version.

Options:
  --stack NAME  stack whose Pulumi.<NAME>.yaml to read and watch (default dev)
  --port PORT   gateway port, 0-65535; 0 lets the OS choose (default: the stack's ingressPort, 31400)
  --host HOST   gateway address (default 127.0.0.1; 0.0.0.0 accepts from other machines)
  --dir DIR     directory holding the stack file (default: the current directory; npm start
                runs in the project root)
  --admin HOST:PORT
                serve the gateway's /healthz, /readyz and /metrics there, as the deployed
                gateway's admin port does (e.g. 127.0.0.1:9901, for npm run shift -- --metrics;
                port 0 lets the OS choose; default: not served)
  -h, --help    print this help

Exit codes: 0 stopped by Ctrl-C or SIGTERM (open connections get 5 s to finish; a second
Ctrl-C exits at once with 130), 1 could not start (invalid config, busy port), 2 bad arguments.
`;

interface StartArgs {
  stack: string;
  port?: number;
  host: string;
  dir: string;
  stackGiven: boolean;
  admin?: string;
}

const flags = commandFlags("npm start -- --help");

function parseStartArgs(argv: string[]): StartArgs | "help" {
  const { text, given } = flags.parse(argv, {
    stack: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    dir: { type: "string" },
    admin: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (given("help")) return "help";
  const port =
    text("port") === undefined ? undefined : flags.integer("--port", text("port"), 0, 65535, 0);
  const host = flags.host(text("host")) ?? "127.0.0.1";
  const dirGiven = text("dir");
  const dir = dirGiven === undefined ? process.cwd() : resolve(dirGiven);
  if (dirGiven !== undefined) {
    let isDirectory = false;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch {
      throw flags.usageError(`--dir ${dirGiven}: no such directory`);
    }
    if (!isDirectory) throw flags.usageError(`--dir ${dirGiven}: not a directory`);
  }
  const stack = text("stack");
  if (stack !== undefined) {
    try {
      stackFilePath(stack, dir);
    } catch {
      throw flags.usageError(
        `--stack must be a stack name (letters, digits, '-', '_' or '.'), got "${stack}"`,
      );
    }
  }
  const admin = text("admin");
  if (admin !== undefined) {
    try {
      parseHostPort(admin, "--admin");
    } catch (error) {
      throw flags.usageError((error as Error).message);
    }
  }
  return {
    stack: stack ?? "dev",
    ...(port === undefined ? {} : { port }),
    host,
    dir,
    stackGiven: stack !== undefined,
    ...(admin === undefined ? {} : { admin }),
  };
}

/** The address a client on this machine dials: a wildcard bind is reached on loopback. */
function dialHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "::1";
  return host;
}

/** The stack file as the user would type it: relative when it is under the current directory. */
function shortPath(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith("..") || isAbsolute(relativePath) ? path : relativePath;
}

function printTryIt(stack: LocalStack): void {
  const host = dialHost(stack.host);
  const { prefixV1, prefixV2 } = stack.config;
  const prefixFlags =
    prefixV1 === "one" && prefixV2 === "two"
      ? ""
      : ` --prefix-v1 ${prefixV1} --prefix-v2 ${prefixV2}`;
  const lines = [
    "try it:",
    // -N: send FIN after the input, as the tutorial's busybox nc does; without it OpenBSD nc
    // waits for the server forever (leave -N out for busybox or traditional nc).
    `  (date; sleep 1) | nc -N ${host} ${stack.port}`,
    `  npm run verify -- --host ${host} --port ${stack.port} -n 200 --expect-v2 ${stack.weights.v2}${prefixFlags}`,
  ];
  if (stack.admin) {
    const metrics = `http://${joinHostPort(dialHost(stack.admin.address), stack.admin.port)}/metrics`;
    lines.push(
      `  npm run shift -- --stack-file ${shortPath(stack.stackFile)} --host ${host} --port ${stack.port} --metrics ${metrics} --steps 5,20,50,100 --interval 30s`,
    );
  }
  lines.push(
    `shift: set tcp-shift:weightV2 in ${shortPath(stack.stackFile)} (or pulumi config set weightV2 20); Ctrl-C stops`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<number> {
  let args: StartArgs | "help";
  try {
    args = parseStartArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    process.stderr.write(`start: ${error.message}\n`);
    return EXIT_CODES.usage;
  }
  if (args === "help") {
    process.stdout.write(USAGE);
    return 0;
  }

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      stack: args.stack,
      dir: args.dir,
      host: args.host,
      ...(args.port === undefined ? {} : { port: args.port }),
      ...(args.admin === undefined ? {} : { admin: args.admin }),
      // A stack named on the command line must exist; the default one may not yet (fresh clone).
      missingStackFile: args.stackGiven ? "error" : "defaults",
    });
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    process.stderr.write(`start: ${error.message}\n`);
    return 1;
  }
  printTryIt(stack);

  return new Promise<number>((resolveExit) => {
    let stoppedAt: number | undefined;
    let firstSignal = "";
    const stop = (reason: string) => {
      if (stoppedAt !== undefined) {
        // The terminal's SIGINT and a launcher's relay of it: one Ctrl-C.
        if (
          reason === "SIGINT" &&
          firstSignal === "SIGINT" &&
          Date.now() - stoppedAt < SAME_CTRL_C_MS
        )
          return;
        if (reason !== "SIGINT" && reason !== "SIGTERM") return;
        // A second Ctrl-C means "now": the kernel closes whatever is still open.
        process.stdout.write(`${reason} again: exiting without draining\n`);
        process.exit(EXIT_CODES.interrupted);
      }
      stoppedAt = Date.now();
      firstSignal = reason;
      launcher?.stop();
      const open = stack.activeConnections;
      process.stdout.write(
        `${reason}: stopping ${joinHostPort(stack.host, stack.port)}${open ? `, draining ${open} open connection(s)` : ""}\n`,
      );
      stack.close().then(
        () => {
          process.stdout.write("stopped\n");
          resolveExit(0);
        },
        (error: unknown) => {
          process.stderr.write(`start: error while stopping: ${(error as Error).message}\n`);
          resolveExit(1);
        },
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    const launcher = watchLauncher((why) => {
      process.stderr.write(`start: ${why}\n`);
      stop("launcher gone");
    });
  });
}

main().then(
  (code) => {
    // Watchers and servers are closed by now, but exit explicitly: nothing else should linger.
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`start: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(EXIT_CODES.internal);
  },
);
