/**
 * `npm run bench -- --shift-check` (issue 11's measurement): what a weight change does to open
 * connections, and what the extra hop of `splitter: gateway` costs.
 *
 * Shift: `connections` long-lived connections stream lines both ways (each paced, every byte
 * checked, the prefix must stay the same on a connection) while the weights change `changes`
 * times; then every stream half-closes and must get every byte back. Counted: bytes lost
 * (written but never echoed back) and connections closed or broken. Run against the gateway
 * (route file replaced by rename, as a ConfigMap update) and against the reload paths of
 * HAProxy (`-sf`) and nginx (`-s reload`), which keep old connections on the old process.
 *
 * Hop: see hopCost.ts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { reloadsTotal, waitForWeights } from "./gatewayMetrics";
import { type LoadgenResult, runLoadgen } from "./loadgen";
import {
  type Backends,
  type PeerContext,
  type ReloadablePeer,
  type RunningGateway,
  startGateway,
  startHaproxy,
  startNginx,
} from "./peers";
import { processTree } from "./procStats";
import { median } from "./report";

/** Sizes and pace of the shift scenario. */
export interface ShiftPlan {
  /** Long-lived connections open across all weight changes. */
  connections: number;
  /** Weight changes. */
  changes: number;
  /** Time from one weight change to the next, ms. */
  changeIntervalMs: number;
  /** Bytes per line (the echo answers per line). */
  lineBytes: number;
  /** Each connection writes one line per this many ms. */
  lineIntervalMs: number;
}

export const SHIFT_PLAN: ShiftPlan = {
  connections: 300,
  changes: 20,
  changeIntervalMs: 500,
  lineBytes: 1024,
  lineIntervalMs: 20,
};

export const QUICK_SHIFT_PLAN: ShiftPlan = { ...SHIFT_PLAN, changeIntervalMs: 250 };

/** Weights of the start: both versions carry open connections. */
export const SHIFT_START = { one: 50, two: 50 } as const;

/**
 * The weight changes: v2 up from 50 to 100 in steps of 5 (v1 ends at 0), then back down; with
 * 20 changes, 55, 60, …, 100, 95, …, 50.
 */
export function shiftWeights(changes: number): { one: number; two: number }[] {
  const steps: { one: number; two: number }[] = [];
  const up = Math.ceil(changes / 2);
  for (let i = 1; i <= changes; i++) {
    const v2 = i <= up ? 50 + 5 * i : 50 + 5 * (2 * up - i);
    const two = Math.min(100, Math.max(0, v2));
    steps.push({ one: 100 - two, two });
  }
  return steps;
}

/** Result of one shift scenario against one peer. */
export interface ShiftResult {
  peer: string;
  /** How the weights changed. */
  reloadPath: string;
  connections: number;
  changesWritten: number;
  /**
   * Changes the peer confirmed (gateway: reloads_total, where two changes within its 50 ms
   * settle count once; HAProxy/nginx: new process in force).
   */
  changesApplied?: number;
  /** The last weights are the ones in force at the end (gateway: tcp_gateway_route_weight). */
  finalWeightsInForce?: boolean;
  /** Streams that ended with every byte echoed. */
  completed: number;
  /** Streams closed, reset or answered wrongly before their end. */
  closed: number;
  firstError: string;
  sentBytes: number;
  verifiedBytes: number;
  /** Written but never echoed back (checked). */
  lostBytes: number;
  /** Reload to new config in force, ms (HAProxy and nginx; median and max). */
  reloadMs?: { median: number; max: number };
  /** Processes of the peer after the last change, streams still open (old ones included). */
  processesAtEnd: number;
  /** The gateway: same process before and after. */
  samePid?: boolean;
  durationSec: number;
}

/** Bytes lost and connections closed; both must be 0 for the gateway. */
export function shiftProblems(result: ShiftResult): string[] {
  const problems: string[] = [];
  if (result.closed > 0)
    problems.push(`${result.peer}: ${result.closed} connections closed (${result.firstError})`);
  if (result.lostBytes !== 0) problems.push(`${result.peer}: ${result.lostBytes} bytes lost`);
  if (result.completed !== result.connections)
    problems.push(`${result.peer}: ${result.completed}/${result.connections} streams completed`);
  if (result.finalWeightsInForce === false)
    problems.push(`${result.peer}: the last weights are not in force at the end`);
  return problems;
}

async function streamAcross(
  label: string,
  targets: readonly string[],
  plan: ShiftPlan,
  changeWeights: (weights: { one: number; two: number }) => Promise<void>,
  whileOpen: () => void = () => {},
): Promise<{ stream: LoadgenResult; reloadMs: number[] }> {
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stream = runLoadgen(
    {
      mode: "bulk",
      targets,
      concurrency: plan.connections,
      durationSec: 110, // ended by `done` once the changes are made
      lineSize: plan.lineBytes,
      window: 4,
      intervalMs: plan.lineIntervalMs,
      allowErrors: true,
    },
    `${label} shift streams`,
    done,
  );
  const reloadMs: number[] = [];
  try {
    await sleep(1000); // every stream connected and flowing
    for (const weights of shiftWeights(plan.changes)) {
      const start = performance.now();
      await changeWeights(weights);
      const took = performance.now() - start;
      reloadMs.push(took);
      await sleep(Math.max(0, plan.changeIntervalMs - took));
    }
    await sleep(500);
    whileOpen();
  } finally {
    finish();
  }
  return { stream: await stream, reloadMs };
}

function toResult(
  peer: string,
  reloadPath: string,
  plan: ShiftPlan,
  stream: LoadgenResult,
  extra: Partial<ShiftResult> & { processesAtEnd: number; durationSec: number },
): ShiftResult {
  return {
    peer,
    reloadPath,
    connections: plan.connections,
    changesWritten: plan.changes,
    completed: stream.ok,
    closed: stream.errors,
    firstError: stream.firstError,
    sentBytes: stream.sentBytes,
    verifiedBytes: stream.verifiedBytes,
    lostBytes: stream.sentBytes - stream.verifiedBytes,
    ...extra,
  };
}

/** The gateway: every change replaces the route file (write + rename). */
export async function shiftGateway(ctx: PeerContext, plan: ShiftPlan): Promise<ShiftResult> {
  const started = Date.now();
  const gateway: RunningGateway = await startGateway({ ...ctx, initialWeights: SHIFT_START });
  try {
    const before = await reloadsTotal(gateway);
    const treeBefore = gateway.pid ? processTree(gateway.pid) : [];
    let processesAtEnd = 0;
    const { stream } = await streamAcross(
      "gateway",
      gateway.targets,
      plan,
      async (weights) => gateway.writeRoutes(weights),
      () => {
        processesAtEnd = gateway.pid ? processTree(gateway.pid).length : 0;
      },
    );
    const last = shiftWeights(plan.changes).at(-1) ?? SHIFT_START;
    const inForceAt = await waitForWeights(gateway, last);
    const after = await reloadsTotal(gateway);
    const treeAfter = gateway.pid ? processTree(gateway.pid) : [];
    return toResult("gateway", "route file replaced by rename (ConfigMap update)", plan, stream, {
      changesApplied: before !== undefined && after !== undefined ? after - before : undefined,
      finalWeightsInForce: inForceAt !== undefined,
      processesAtEnd,
      samePid: treeBefore[0] !== undefined && treeBefore[0] === treeAfter[0],
      durationSec: (Date.now() - started) / 1000,
    });
  } finally {
    await gateway.stop();
  }
}

/** HAProxy (`-sf`) or nginx (`-s reload`): every change rewrites the config and reloads. */
export async function shiftReloadingPeer(
  name: "haproxy" | "nginx",
  ctx: PeerContext,
  plan: ShiftPlan,
): Promise<ShiftResult> {
  const started = Date.now();
  const start = name === "haproxy" ? startHaproxy : startNginx;
  const peer: ReloadablePeer = await start({ ...ctx, initialWeights: SHIFT_START });
  try {
    let applied = 0;
    let processesAtEnd = 0;
    const { stream, reloadMs } = await streamAcross(
      name,
      peer.targets,
      plan,
      async (weights) => {
        await peer.reload(weights);
        applied++;
      },
      () => {
        processesAtEnd = peer.processes().length;
      },
    );
    return toResult(
      name,
      name === "haproxy" ? "new process with -sf OLDPID" : "nginx -s reload (SIGHUP)",
      plan,
      stream,
      {
        changesApplied: applied,
        reloadMs: { median: median(reloadMs), max: Math.max(...reloadMs) },
        processesAtEnd,
        durationSec: (Date.now() - started) / 1000,
      },
    );
  } finally {
    await peer.stop();
  }
}

/** Context for a peer of the shift check (fresh folder per peer). */
export function shiftContext(backends: Backends, dir: string, repoRoot: string): PeerContext {
  return { backends, dir, repoRoot, idleConnections: 1000 };
}
