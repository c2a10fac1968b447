/** Command line of the tcp-echo program: Istio's `istio/tcp-echo-server` arguments. */
import { UserError } from "../../contract/userError";
import { USAGE_ERROR_CODE } from "../shared/commandFlags";

/** Printed on a usage error and for --help. */
export const ECHO_USAGE = `usage: echoMain <port[,port...]> <prefix>
  port    TCP port to listen on, 0-65535 (0: any free port); several as a comma list
  prefix  text written before each echoed line, followed by one space
example: echoMain 9000 one`;

/** Parsed arguments. */
export interface EchoArgs {
  ports: number[];
  prefix: string;
}

/**
 * Parse `<port[,port...]> <prefix>`. @throws UserError `E_USAGE` naming what is wrong, or with
 * an empty message for `--help` / `-h` (the usage alone).
 */
export function parseEchoArgs(argv: string[]): EchoArgs {
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h"))
    throw new UserError(USAGE_ERROR_CODE, "");
  if (argv.length !== 2)
    throw new UserError(
      USAGE_ERROR_CODE,
      `expected 2 arguments (ports, prefix), got ${argv.length}`,
    );
  const [portList, prefix] = argv as [string, string];
  const ports = portList.split(",").map((text) => {
    if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
      throw new UserError(USAGE_ERROR_CODE, `port "${text}" must be an integer from 0 to 65535`);
    return Number(text);
  });
  if (prefix === "") throw new UserError(USAGE_ERROR_CODE, "prefix must not be empty");
  return { ports, prefix };
}
