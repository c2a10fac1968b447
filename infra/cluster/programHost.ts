/**
 * What the program reads from the machine it runs on: the environment (cluster access that is
 * per user, never in a committed file), files (kubeconfigs), and the data plane's API (the
 * Service ASM creates). `pulumi` runs use the real ones. Tools that run the program under the
 * SDK's mock runtime (render, the mock tests) replace them with {@link setProgramHost}, so that
 * a render never picks up the user's credentials and mocks never reach for a cluster.
 *
 * Kept on `globalThis` under a registered symbol: the mock tests re-import the program (and
 * this module) for every run, and the replacement must survive that.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";

/** What the program finds when it reads a Service of the data plane. */
export type ServiceReading =
  /** The Service does not exist (yet). */
  | { found: false }
  /** It exists; `address` is its load balancer's IP or host name once assigned. */
  | { found: true; address?: string };

/** Reads one Service through a kubeconfig (text). */
export type ServiceReader = (
  kubeconfig: string,
  namespace: string,
  name: string,
) => Promise<ServiceReading>;

/** The machine, as the program sees it. */
export interface ProgramHost {
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** The user's home directory (for `~/.kube/config`). */
  homeDir: string;
  /** Reads a file as UTF-8; throws like `fs.readFileSync`. */
  readFile(path: string): string;
  /** Reads a Service of a cluster; undefined: the HTTPS reader of `kubeRequest.ts`. */
  readService?: ServiceReader;
}

const HOST_KEY = Symbol.for("tcp-shift.programHost");

type HostHolder = { [HOST_KEY]?: Partial<ProgramHost> };

/** The host the program runs on, with any replacements applied. */
export function programHost(): ProgramHost {
  const override = (globalThis as HostHolder)[HOST_KEY] ?? {};
  return {
    env: override.env ?? process.env,
    homeDir: override.homeDir ?? homedir(),
    readFile: override.readFile ?? ((path) => readFileSync(path, "utf8")),
    ...(override.readService ? { readService: override.readService } : {}),
  };
}

/** Replace parts of the host (render and the mock tests); `undefined` restores the real one. */
export function setProgramHost(host: Partial<ProgramHost> | undefined): void {
  if (host === undefined) delete (globalThis as HostHolder)[HOST_KEY];
  else (globalThis as HostHolder)[HOST_KEY] = host;
}
