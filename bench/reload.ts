/**
 * Reload phases (gateway only; HAProxy and nginx reloads restart workers and are out of scope):
 * - latency: route file replaced (write + rename, as a ConfigMap update) → first connection
 *   routed by the new weights, probed with back-to-back connections;
 * - under load: N reloads while short connections arrive at a fixed rate and long-lived idle
 *   connections stay open; every failed, dropped or wrong connection counts as lost.
 */
import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { reloadsTotal } from "./gatewayMetrics";
import { splitTarget } from "./halfClose";
import { type LoadgenResult, openIdle, runLoadgen } from "./loadgen";
import { type RunningGateway, WEIGHTS } from "./peers";
import { processTree } from "./procStats";

/**
 * Send one line on a fresh connection (from `localAddress` when given) and return the prefix of
 * the reply: the version that answered, `one` or `two`.
 */
export function probePrefix(
  target: string,
  timeoutMs = 2000,
  localAddress?: string,
): Promise<"one" | "two"> {
  const label = localAddress ?? "probe";
  const line = localAddress ? `probe ${localAddress}\n` : "probe\n";
  return new Promise((resolve, reject) => {
    const socket = createConnection({ ...splitTarget(target), localAddress });
    let reply = "";
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`${label}: no reply within ${timeoutMs} ms`));
    });
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (!reply.endsWith("\n")) return;
      socket.destroy();
      if (reply === `one ${line}`) resolve("one");
      else if (reply === `two ${line}`) resolve("two");
      else reject(new Error(`${label}: unexpected reply ${JSON.stringify(reply)}`));
    });
    socket.once("error", (error) => reject(new Error(`${label}: ${error.message}`)));
    socket.once("connect", () => socket.write(line));
  });
}

/**
 * Wait until the gateway answers a probe again: right after a phase that closed thousands of
 * connections at once its event loop can be busy for a second or more.
 */
async function waitUntilAnswering(target: string, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      await probePrefix(target, 2000);
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`gateway did not answer within ${limitMs} ms: ${(error as Error).message}`);
    }
  }
}

/** Result of the reload-latency phase. */
export interface ReloadLatency {
  /** Milliseconds from the file replacement to the first reply from the new route, per flip. */
  samplesMs: number[];
  /** Flips where the new weights did not show within the time limit. */
  timeouts: number;
  /** Probe connections that failed or got no reply within 2 s (each retried). */
  probeFailures: number;
}

/**
 * Flip all traffic between v1 and v2 `flips` times; each time measure from just before the
 * route file is replaced until a connection is answered by the newly weighted backend.
 */
export async function measureReloadLatency(
  gateway: RunningGateway,
  flips: number,
  limitMs = 3000,
): Promise<ReloadLatency> {
  const target = gateway.targets[0] as string;
  const samplesMs: number[] = [];
  let timeouts = 0;
  let probeFailures = 0;
  const probe = async (): Promise<string | undefined> => {
    try {
      return await probePrefix(target);
    } catch {
      probeFailures++;
      return undefined;
    }
  };
  await waitUntilAnswering(target, 15_000);
  let current: "one" | "two" = "one";
  gateway.writeRoutes({ one: 100, two: 0 });
  // settle: wait until only v1 answers
  const settleUntil = Date.now() + limitMs;
  let streak = 0;
  while (streak < 20 && Date.now() < settleUntil)
    streak = (await probe()) === "one" ? streak + 1 : 0;
  for (let i = 0; i < flips; i++) {
    const next: "one" | "two" = current === "one" ? "two" : "one";
    await sleep(150); // let the watcher's previous burst end
    const start = performance.now();
    gateway.writeRoutes(next === "one" ? { one: 100, two: 0 } : { one: 0, two: 100 });
    let seen = false;
    while (performance.now() - start < limitMs) {
      if ((await probe()) === next) {
        seen = true;
        break;
      }
    }
    if (seen) samplesMs.push(performance.now() - start);
    else timeouts++;
    current = next;
  }
  gateway.writeRoutes(WEIGHTS);
  await sleep(200);
  return { samplesMs, timeouts, probeFailures };
}

/** Result of the reloads-under-load phase. */
export interface ReloadUnderLoad {
  /** Route file replacements made. */
  reloadsWritten: number;
  /** Increase of the gateway's reloads_total meanwhile (undefined if /metrics did not say). */
  reloadsApplied?: number;
  /** Short connections (fixed rate) and their errors. */
  shortConnections: LoadgenResult;
  /** Long-lived connections held across all reloads, checked again at the end. */
  longLived: { opened: number; stillWorking: number; errors: number; firstError: string };
  /** Failed short connections + long-lived connections that broke. */
  lostConnections: number;
  /** Same gateway process (tree) before and after: a reload must not restart it. */
  samePid: boolean;
}

/** `reloads` route-file replacements every `intervalMs`, under fixed-rate load. */
export async function reloadsUnderLoad(
  gateway: RunningGateway,
  reloads: number,
  intervalMs: number,
  rate: number,
  longLived: number,
): Promise<ReloadUnderLoad> {
  const before = await reloadsTotal(gateway);
  const treeBefore = gateway.pid ? processTree(gateway.pid) : [];
  const idle = await openIdle(
    {
      mode: "idle",
      targets: gateway.targets,
      count: longLived,
      concurrency: 50,
      durationSec: 60,
      allowErrors: true,
    },
    "reload long-lived",
  );
  const durationSec = (reloads * intervalMs) / 1000 + 1;
  const load = runLoadgen(
    { mode: "rate", targets: gateway.targets, rate, durationSec, allowErrors: true },
    "reload short",
  );
  await sleep(500);
  for (let i = 0; i < reloads; i++) {
    gateway.writeRoutes(i % 2 === 0 ? { one: 20, two: 80 } : { one: 80, two: 20 });
    await sleep(intervalMs);
  }
  const shortConnections = await load;
  const final = await idle.release();
  await sleep(200);
  const after = await reloadsTotal(gateway);
  gateway.writeRoutes(WEIGHTS);
  await sleep(200);
  const treeAfter = gateway.pid ? processTree(gateway.pid) : [];
  const broken = idle.ready.ok - final.ok;
  return {
    reloadsWritten: reloads,
    reloadsApplied: before !== undefined && after !== undefined ? after - before : undefined,
    shortConnections,
    longLived: {
      opened: idle.ready.ok,
      stillWorking: final.ok,
      errors: final.errors,
      firstError: final.firstError,
    },
    lostConnections: shortConnections.errors + Math.max(broken, final.errors),
    samePid: treeBefore[0] !== undefined && treeBefore[0] === treeAfter[0],
  };
}
