/**
 * One peer, one round: run every load phase against a freshly started peer. Returns a
 * {@link PeerSample}. Every wrong, missing, reset or late reply and every off-weight split is
 * recorded in `problems`; the run goes on so the table still shows where each peer stands, and
 * then fails (exit 1) listing them.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  busiestPairRate,
  pairConnectionsPerSecond,
  readPortSpace,
  SOURCE_HOSTS,
} from "./addressPlan";
import { type LoadgenArgs, type LoadgenResult, openIdle, runLoadgen } from "./loadgen";
import { type Backends, type RunningPeer, WEIGHTS } from "./peers";
import { busyShare, machineCpu, treeUsage } from "./procStats";
import type { PeerSample } from "./report";

/** Phase lengths and sizes. */
export interface PhasePlan {
  warmupSec: number;
  conn1Sec: number;
  conn50Sec: number;
  rateSec: number;
  bulkSec: number;
  bulkConnections: number;
  bulkLineBytes: number;
  /** Idle connections opened for the RSS-per-connection figure. */
  idleConnections: number;
}

export const FULL_PLAN: PhasePlan = {
  warmupSec: 0.5,
  conn1Sec: 2,
  conn50Sec: 3,
  rateSec: 3,
  bulkSec: 2,
  bulkConnections: 4,
  bulkLineBytes: 16 * 1024,
  // 10,000 would need 20,000+ descriptors in the proxy; the hard limit here is 20,000.
  idleConnections: 9_900,
};

export const QUICK_PLAN: PhasePlan = {
  warmupSec: 0.3,
  conn1Sec: 0.5,
  conn50Sec: 1,
  rateSec: 1,
  bulkSec: 0.5,
  bulkConnections: 4,
  bulkLineBytes: 16 * 1024,
  idleConnections: 1_000,
};

/** Share of v1 that the 80/20 split allows (smooth round robin is exact; slack for noise). */
const SPLIT_TOLERANCE = 0.03;

/** Throws when the v1/v2 split of a phase is not the configured 80/20. */
export function checkSplit(result: { one: number; two: number }, label: string): void {
  const total = result.one + result.two;
  if (total < 100) return; // too few to judge
  const share = result.one / total;
  const expected = WEIGHTS.one / (WEIGHTS.one + WEIGHTS.two);
  if (Math.abs(share - expected) > SPLIT_TOLERANCE)
    throw new Error(
      `${label}: v1 got ${(100 * share).toFixed(1)} % of ${total} connections, expected ` +
        `${(100 * expected).toFixed(0)} % ± ${100 * SPLIT_TOLERANCE}`,
    );
}

const MB = 1024;

function rssMB(pid: number | undefined): number | undefined {
  return pid ? treeUsage(pid).rssKb / MB : undefined;
}

function cpuSeconds(pid: number | undefined): number {
  return pid ? treeUsage(pid).cpuSeconds : 0;
}

/** Optional progress output (stderr). */
export type Log = (line: string) => void;

/** Run every phase against a started peer. */
export async function measurePeer(
  peer: RunningPeer,
  round: number,
  backends: Backends,
  plan: PhasePlan,
  log: Log,
): Promise<PeerSample> {
  const label = `${peer.name} round ${round + 1}`;
  const targets = peer.targets;
  const problems: string[] = [];
  const run = async (args: LoadgenArgs, what: string, split = true): Promise<LoadgenResult> => {
    const result = await runLoadgen({ ...args, allowErrors: true }, `${label} ${what}`);
    if (result.errors > 0)
      problems.push(`${what}: ${result.errors} failed connections, first: ${result.firstError}`);
    if (split)
      try {
        checkSplit(result, what);
      } catch (error) {
        problems.push((error as Error).message);
      }
    return result;
  };
  await sleep(300);
  const rssStartMB = rssMB(peer.pid);

  await run({ mode: "conn", targets, concurrency: 50, durationSec: plan.warmupSec }, "warm-up");
  const conn1 = await run(
    { mode: "conn", targets, concurrency: 1, durationSec: plan.conn1Sec },
    "conn c=1",
  );

  const backendPids = [backends.one.child.pid, backends.two.child.pid];
  const backendCpu = (): number => {
    let total = 0;
    for (const pid of backendPids) total += cpuSeconds(pid);
    return total;
  };
  const cpuBefore = cpuSeconds(peer.pid);
  const backendBefore = backendCpu();
  const machineBefore = machineCpu();
  const conn50 = await run(
    { mode: "conn", targets, concurrency: 50, durationSec: plan.conn50Sec },
    "conn c=50",
  );
  const machineAfter = machineCpu();
  const cpuAfter = cpuSeconds(peer.pid);
  const backendAfter = backendCpu();
  // What bounds the phase: the generator's one thread, the machine's cores, or a port space
  const pairRate = busiestPairRate(conn50.connPerSec, {
    sources: SOURCE_HOSTS.length,
    backendHosts: backends.hosts.length,
    busiestShare: WEIGHTS.one / (WEIGHTS.one + WEIGHTS.two),
    direct: peer.name === "direct",
  });

  const rate = async (perSecond: number): Promise<LoadgenResult> => {
    return run(
      { mode: "rate", targets, rate: perSecond, durationSec: plan.rateSec },
      `rate ${perSecond}/s`,
    );
  };
  const rate1000 = await rate(1000);
  const rate3000 = await rate(3000);

  const bulk = await run(
    {
      mode: "bulk",
      targets,
      concurrency: plan.bulkConnections,
      durationSec: plan.bulkSec,
      lineSize: plan.bulkLineBytes,
      window: 4,
    },
    "bulk",
    false, // 4 connections: too few to judge a split
  );

  await sleep(1000);
  const rssIdleMB = rssMB(peer.pid);
  let rssPerConnKB: number | undefined;
  if (peer.pid === undefined) return finish(); // direct: no proxy memory to measure
  const idle = await openIdle(
    {
      mode: "idle",
      targets,
      count: plan.idleConnections,
      concurrency: 200,
      durationSec: 60,
      allowErrors: true,
    },
    `${label} idle`,
  );
  if (idle.ready.errors > 0)
    problems.push(
      `idle: ${idle.ready.errors} connections failed to open: ${idle.ready.firstError}`,
    );
  try {
    await sleep(1000);
    const rssWithIdle = rssMB(peer.pid);
    if (rssWithIdle !== undefined && rssIdleMB !== undefined)
      rssPerConnKB = ((rssWithIdle - rssIdleMB) * MB) / idle.ready.ok;
  } finally {
    const final = await idle.release();
    if (final.errors > 0)
      problems.push(`idle: ${final.errors} connections broke while idle: ${final.firstError}`);
  }

  return finish();

  function finish(): PeerSample {
    const sample: PeerSample = {
      peer: peer.name,
      round,
      connRate1: conn1.connPerSec,
      connRate50: conn50.connPerSec,
      cpuPerConnUs: peer.pid ? ((cpuAfter - cpuBefore) * 1e6) / conn50.ok : undefined,
      backendCpuPerConnUs: ((backendAfter - backendBefore) * 1e6) / conn50.ok,
      lat1000: { p50: rate1000.latencyUs.p50, p99: rate1000.latencyUs.p99 },
      lat3000: { p50: rate3000.latencyUs.p50, p99: rate3000.latencyUs.p99 },
      bulkMBs: bulk.mbPerSec,
      rssStartMB,
      rssIdleMB,
      rssPerConnKB,
      split: { one: conn50.one, two: conn50.two },
      generatorCpu50: conn50.elapsedSec > 0 ? conn50.cpuSec / conn50.elapsedSec : undefined,
      machineBusy50: busyShare(machineBefore, machineAfter),
      pairUse50: pairRate / pairConnectionsPerSecond(readPortSpace()),
    };
    log(
      `  ${peer.name.padEnd(8)} c1 ${sample.connRate1.toFixed(0)}/s  c50 ${sample.connRate50.toFixed(0)}/s` +
        `  cpu ${sample.cpuPerConnUs?.toFixed(1) ?? "-"} µs/conn` +
        `  p99@1000 ${sample.lat1000.p99.toFixed(0)} µs  p99@3000 ${sample.lat3000.p99.toFixed(0)} µs` +
        `  bulk ${sample.bulkMBs.toFixed(0)} MB/s  rss ${rssIdleMB?.toFixed(1) ?? "-"} MB` +
        `  +${rssPerConnKB?.toFixed(2) ?? "-"} KB/conn`,
    );
    return sample;
  }
}
