/** Command line of the tcp-gateway program. */
import { parseArgs } from "node:util";
import { parseHostPort } from "../../contract/hostPort";
import { UserError } from "../../contract/userError";
import { USAGE_ERROR_CODE } from "../shared/commandFlags";
import { isLogLevel, LOG_LEVELS, type LogLevel } from "../shared/jsonLogger";
import { DEFAULT_ADMIN_ADDRESS } from "./adminServer";
import { DATA_PATHS, type DataPath, isDataPath } from "./gatewayConnection";

/** Printed on a usage error and for --help. */
export const GATEWAY_USAGE = `usage: gatewayMain --config FILE [--admin HOST:PORT] [--drain-seconds N] [--log-level LEVEL] [--workers N]
                   [--data-path handles|sockets]
  --config FILE        route file (YAML or JSON), reloaded on change and on SIGHUP
  --admin HOST:PORT    admin HTTP address for /healthz /readyz /metrics (default ${DEFAULT_ADMIN_ADDRESS})
  --drain-seconds N    on SIGTERM, how long open connections may finish (default 25)
  --log-level LEVEL    ${LOG_LEVELS.join("|")} (default: $LOG_LEVEL or info)
  --workers N          gateway processes sharing the listeners (default 1; in Kubernetes prefer
                       replicas); N > 1: a primary process serves admin and forks N workers;
                       maxConnections and drainRate apply per worker
  --data-path PATH     handles: Node's libuv TCP handles, half the CPU per connection (default
                       where this Node has them); sockets: net.Socket streams (public API only)`;

/** Upper bound of --workers (a typo like 1000 must not fork-bomb the node). */
export const MAX_WORKERS = 64;

/** Below Kubernetes' default terminationGracePeriodSeconds (30) so the drain completes. */
const DEFAULT_DRAIN_SECONDS = 25;

/** Parsed command line. */
export interface GatewayArgs {
  config: string;
  admin: string;
  drainSeconds: number;
  logLevel: LogLevel;
  /** Gateway processes; 1 = no cluster (the default). */
  workers: number;
  /** Undefined: the gateway's default for this Node. */
  dataPath: DataPath | undefined;
}

/** Parse the command line. @throws UserError `E_USAGE` naming the bad flag. */
export function parseGatewayArgs(argv: string[], env: NodeJS.ProcessEnv = {}): GatewayArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        admin: { type: "string", default: DEFAULT_ADMIN_ADDRESS },
        "drain-seconds": { type: "string", default: String(DEFAULT_DRAIN_SECONDS) },
        "log-level": { type: "string", default: env.LOG_LEVEL ?? "info" },
        workers: { type: "string", default: "1" },
        "data-path": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UserError(USAGE_ERROR_CODE, (error as Error).message);
  }
  // An empty message: the usage alone, on stdout, exit 0.
  if (values.help) throw new UserError(USAGE_ERROR_CODE, "");
  const config = values.config;
  if (typeof config !== "string" || config === "")
    throw new UserError(USAGE_ERROR_CODE, "--config FILE is required");
  const admin = String(values.admin);
  parseHostPort(admin, "--admin");
  const drainSeconds = Number(values["drain-seconds"]);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0)
    throw new UserError(USAGE_ERROR_CODE, "--drain-seconds must be a number >= 0");
  const logLevel = values["log-level"];
  if (!isLogLevel(logLevel))
    throw new UserError(USAGE_ERROR_CODE, `--log-level must be one of ${LOG_LEVELS.join("|")}`);
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)
    throw new UserError(USAGE_ERROR_CODE, `--workers must be an integer from 1 to ${MAX_WORKERS}`);
  const dataPath = values["data-path"];
  if (dataPath !== undefined && !isDataPath(dataPath))
    throw new UserError(USAGE_ERROR_CODE, `--data-path must be one of ${DATA_PATHS.join("|")}`);
  return { config, admin, drainSeconds, logLevel, workers, dataPath };
}
