/**
 * Waiting for a Service the program did not create: ASM makes `istio-system/istio-<gateway>` in
 * the ACK cluster seconds to minutes after the IstioGateway is declared, and the cloud controller
 * gives it a CLB address later still. A bounded wait with progress lines and a timeout message
 * that says what to check. Pure logic: the reader, the clock and the log are passed in.
 */
import { UserError } from "../../contract/userError";
import type { ServiceReading } from "./programHost";

/** Error code of a Service that did not appear or got no address in time. */
export const SERVICE_WAIT_ERROR_CODE = "E_SERVICE_WAIT";

/** Default bound of the wait (ASM documents minutes for a gateway's first deployment). */
export const DEFAULT_SERVICE_WAIT_SECONDS = 600;

/** Options of {@link awaitServiceAddress}. */
export interface ServiceWaitOptions {
  /** Reads the Service once; rejections count as "not yet" and are reported. */
  read: () => Promise<ServiceReading>;
  /** `istio-system/istio-tcp-echo-ingressgateway`. */
  service: string;
  /** Where the Service should appear, e.g. `ACK cluster c123 (data plane)`. */
  cluster: string;
  /** What should create it, e.g. `IstioGateway istio-system/tcp-echo-ingressgateway`. */
  creator: string;
  /** Hints for the timeout message: what to check. */
  checks: string[];
  timeoutSeconds: number;
  /** Seconds between reads. @default 2 */
  intervalSeconds?: number;
  /** Seconds between progress lines. @default 15 */
  progressSeconds?: number;
  log: (message: string) => void;
  /** Clock and sleep, replaceable in tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Reads until the Service exists and has a load balancer address; resolves with the address.
 * Throws a `UserError` (`E_SERVICE_WAIT`) naming the Service, the cluster, what it waited for
 * and what to check, once `timeoutSeconds` have passed.
 */
export async function awaitServiceAddress(options: ServiceWaitOptions): Promise<string> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const interval = (options.intervalSeconds ?? 2) * 1000;
  const progressEvery = (options.progressSeconds ?? 15) * 1000;
  const start = now();
  const deadline = start + options.timeoutSeconds * 1000;
  // The first miss is reported at once, then every `progressSeconds`.
  let nextProgress = start;
  let state: "missing" | "no address" = "missing";
  let lastError: string | undefined;
  const elapsed = () => Math.round((now() - start) / 1000);
  for (;;) {
    try {
      const reading = await options.read();
      lastError = undefined;
      if (reading.found && reading.address) {
        if (elapsed() > 0) {
          options.log(`${options.service} has address ${reading.address} (after ${elapsed()} s)`);
        }
        return reading.address;
      }
      state = reading.found ? "no address" : "missing";
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (now() >= deadline) break;
    if (now() >= nextProgress) {
      nextProgress = now() + progressEvery;
      options.log(
        `waiting for ${state === "missing" ? `${options.creator} to create Service ${options.service}` : `a load balancer address on Service ${options.service}`} in ${options.cluster} (${elapsed()} s of ${options.timeoutSeconds} s)${lastError ? `; last error: ${lastError}` : ""}`,
      );
    }
    await sleep(Math.min(interval, Math.max(0, deadline - now())));
  }
  const what =
    state === "missing"
      ? `Service ${options.service} did not appear in ${options.cluster}`
      : `Service ${options.service} in ${options.cluster} got no load balancer address`;
  throw new UserError(
    SERVICE_WAIT_ERROR_CODE,
    [
      `${what} within ${options.timeoutSeconds} s (${options.creator} should create it).`,
      ...(lastError ? [`Last error reading it: ${lastError}`] : []),
      "Check:",
      ...options.checks.map((check) => `  - ${check}`),
      "Then run pulumi up again: what was created stays, the wait resumes.",
    ].join("\n"),
  );
}
