/**
 * `npm run bench -- --drain-check`, the sticky part: `balance: sticky` on the real gateway
 * process. `clients` distinct client addresses (each connection bound to its own 127.20.y.z
 * source) connect once per phase, send one line and note which version answered:
 *
 * 1. v1 80 / v2 20: v2's share of the clients, with a 95 % (Wilson) interval;
 * 2. the same weights, every client again: the share that changed version (expected 0);
 * 3. v2 raised to 40: the share of v1's clients that moved to v2 (expected (40−20)/80 = 25 %)
 *    and of v2's that moved to v1 (expected 0);
 * 4. v2 lowered to 10: only v2 → v1 moves (expected (40−10)/40 = 75 % of v2's clients).
 *
 * Each phase is also compared with what the gateway's own hash (`addressBucket`, the sticky
 * picker of weightedPicker.ts) predicts for these exact addresses: the expected figures above
 * are for addresses in general, the prediction is exact, so every client must match it.
 */
import { createWeightedPicker } from "../dataplane/gateway/weightedPicker";
import { waitForWeights } from "./gatewayMetrics";
import { type PeerContext, startGateway } from "./peers";
import { probePrefix } from "./reload";
import { renderTable } from "./report";

/** A version as the echo names it (`one` = v1, `two` = v2); "" when the client failed. */
export type Version = "one" | "two" | "";

/** Weights of one phase. */
export interface Weights {
  one: number;
  two: number;
}

/** One phase of the sticky check: weights, then every client connects once. */
export interface StickyPhase {
  label: string;
  weights: Weights;
}

/** Sizes of the sticky check. */
export interface StickyPlan {
  /** Distinct client addresses. */
  clients: number;
  /** Connections in flight at once. */
  concurrency: number;
  phases: StickyPhase[];
}

export const STICKY_PHASES: readonly StickyPhase[] = [
  { label: "v2 20", weights: { one: 80, two: 20 } },
  { label: "v2 20 again", weights: { one: 80, two: 20 } },
  { label: "v2 20 → 40", weights: { one: 60, two: 40 } },
  { label: "v2 40 → 10", weights: { one: 90, two: 10 } },
];

export const STICKY_PLAN: StickyPlan = {
  clients: 2000,
  concurrency: 50,
  phases: [...STICKY_PHASES],
};
export const QUICK_STICKY_PLAN: StickyPlan = { ...STICKY_PLAN, clients: 500 };

/** Client addresses 127.20.y.z (z 1–250): `count` of them, at most 250 × 256. */
export function stickyAddresses(count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 250 * 256)
    throw new Error(`sticky clients must be 1 to ${250 * 256}, got ${count}`);
  return Array.from({ length: count }, (_, i) => `127.20.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

/** A share and its 95 % interval. */
export interface Share {
  count: number;
  of: number;
  share: number;
  low: number;
  high: number;
}

/**
 * `count` of `of` with its Wilson score interval (z = 1.96: 95 %), which stays inside [0, 1] and
 * is sound near 0 and 1, where the normal approximation is not (0 of 1,600 gives [0, 0.24 %]).
 */
export function wilsonInterval(count: number, of: number, z = 1.96): Share {
  if (of === 0) return { count, of, share: Number.NaN, low: 0, high: 1 };
  const p = count / of;
  const z2 = z * z;
  const centre = (p + z2 / (2 * of)) / (1 + z2 / of);
  const half = (z / (1 + z2 / of)) * Math.sqrt((p * (1 - p)) / of + z2 / (4 * of * of));
  return {
    count,
    of,
    share: p,
    low: Math.max(0, centre - half),
    high: Math.min(1, centre + half),
  };
}

/** v2's share of new clients at `weights`. */
export function v2Share(weights: Weights): number {
  return weights.two / (weights.one + weights.two);
}

/**
 * The shares of each version's clients that a weight change moves, for addresses in general:
 * raising v2 from s to s' moves (s' − s) / (1 − s) of v1's clients and none of v2's; lowering
 * it moves (s − s') / s of v2's and none of v1's.
 */
export function expectedMoves(before: Weights, after: Weights): { v1ToV2: number; v2ToV1: number } {
  // In weights rather than shares: 0.25 and 0.75 come out exact.
  const total = before.one + before.two;
  const nextTotal = after.one + after.two;
  const gain = after.two * total - before.two * nextTotal;
  if (gain >= 0)
    return { v1ToV2: before.one === 0 ? 0 : gain / (before.one * nextTotal), v2ToV1: 0 };
  return { v1ToV2: 0, v2ToV1: -gain / (before.two * nextTotal) };
}

/** The version the gateway's sticky picker gives each address at `weights`. */
export function predictVersions(addresses: readonly string[], weights: Weights): Version[] {
  const picker = createWeightedPicker(
    [
      { version: "one" as const, weight: weights.one },
      { version: "two" as const, weight: weights.two },
    ],
    "sticky",
  );
  return addresses.map((address) => picker.pick(address).version);
}

/** Who moved between two phases (clients that answered in both). */
export interface Moves {
  /** Clients on v1 (v2) in the first phase ... */
  onV1: number;
  onV2: number;
  /** ... and of those, the ones on the other version in the second. */
  v1ToV2: number;
  v2ToV1: number;
}

/** Compare the versions of the same clients in two phases. */
export function compareVersions(before: readonly Version[], after: readonly Version[]): Moves {
  const moves: Moves = { onV1: 0, onV2: 0, v1ToV2: 0, v2ToV1: 0 };
  before.forEach((was, i) => {
    const now = after[i];
    if (was === "" || now === "" || now === undefined) return;
    if (was === "one") {
      moves.onV1++;
      if (now === "two") moves.v1ToV2++;
    } else {
      moves.onV2++;
      if (now === "one") moves.v2ToV1++;
    }
  });
  return moves;
}

/** What one phase measured. */
export interface StickyPhaseResult {
  label: string;
  weights: Weights;
  /** The version each client got, in address order. */
  versions: Version[];
  /** When the phase's weights showed in /metrics after the route file was replaced (ms). */
  reloadInForceMs?: number;
  firstError?: string;
  durationMs: number;
}

/** The figures of one phase. */
export interface StickyPhaseSummary {
  label: string;
  weights: Weights;
  clients: number;
  failed: number;
  /** v2's share of the clients, expected (weights) and predicted (the hash of these addresses). */
  v2: Share;
  expectedV2Share: number;
  predictedV2: number;
  /** Clients whose version differs from the hash's prediction: must be 0. */
  differFromPrediction: number;
  /** Against the previous phase. */
  moves?: {
    v1ToV2: Share;
    v2ToV1: Share;
    expected: { v1ToV2: number; v2ToV1: number };
    predicted: { v1ToV2: number; v2ToV1: number };
  };
}

/** The figures of every phase. */
export function summarizeSticky(
  addresses: readonly string[],
  phases: readonly StickyPhaseResult[],
): StickyPhaseSummary[] {
  return phases.map((phase, index) => {
    const predicted = predictVersions(addresses, phase.weights);
    const answered = phase.versions.filter((v) => v !== "").length;
    const v2 = phase.versions.filter((v) => v === "two").length;
    const summary: StickyPhaseSummary = {
      label: phase.label,
      weights: phase.weights,
      clients: phase.versions.length,
      failed: phase.versions.length - answered,
      v2: wilsonInterval(v2, answered),
      expectedV2Share: v2Share(phase.weights),
      predictedV2: predicted.filter((v) => v === "two").length,
      differFromPrediction: phase.versions.filter((v, i) => v !== "" && v !== predicted[i]).length,
    };
    const previous = phases[index - 1];
    if (previous) {
      const moves = compareVersions(previous.versions, phase.versions);
      const predictedMoves = compareVersions(
        predictVersions(addresses, previous.weights),
        predicted,
      );
      summary.moves = {
        v1ToV2: wilsonInterval(moves.v1ToV2, moves.onV1),
        v2ToV1: wilsonInterval(moves.v2ToV1, moves.onV2),
        expected: expectedMoves(previous.weights, phase.weights),
        predicted: {
          v1ToV2: predictedMoves.onV1 ? predictedMoves.v1ToV2 / predictedMoves.onV1 : 0,
          v2ToV1: predictedMoves.onV2 ? predictedMoves.v2ToV1 / predictedMoves.onV2 : 0,
        },
      };
    }
    return summary;
  });
}

/** What makes the sticky check fail: failed clients, a client off the hash, a move backwards. */
export function stickyProblems(phases: readonly StickyPhaseSummary[]): string[] {
  const problems: string[] = [];
  for (const p of phases) {
    if (p.failed > 0) problems.push(`sticky ${p.label}: ${p.failed}/${p.clients} clients failed`);
    if (p.differFromPrediction > 0)
      problems.push(
        `sticky ${p.label}: ${p.differFromPrediction} clients not on the version their address hashes to`,
      );
    if (!p.moves) continue;
    if (p.moves.expected.v1ToV2 === 0 && p.moves.v1ToV2.count > 0)
      problems.push(`sticky ${p.label}: ${p.moves.v1ToV2.count} clients moved v1 → v2`);
    if (p.moves.expected.v2ToV1 === 0 && p.moves.v2ToV1.count > 0)
      problems.push(`sticky ${p.label}: ${p.moves.v2ToV1.count} clients moved v2 → v1`);
  }
  return problems;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const interval = (s: Share) => `${pct(s.share)} (${s.count}/${s.of}; ${pct(s.low)}–${pct(s.high)})`;

/** One row per phase: v2's share, then the moves against the phase before. */
export function stickyTable(phases: readonly StickyPhaseSummary[]): string {
  return renderTable([
    [
      "phase (v1/v2)",
      "v2 share of clients (95 % interval)",
      "expected",
      "hash",
      "off hash",
      "v1 → v2 of v1's clients",
      "expected",
      "v2 → v1 of v2's clients",
      "expected",
    ],
    ...phases.map((p) => [
      `${p.label} (${p.weights.one}/${p.weights.two})`,
      interval(p.v2),
      pct(p.expectedV2Share),
      pct(p.v2.of ? p.predictedV2 / p.clients : 0),
      String(p.differFromPrediction),
      p.moves ? interval(p.moves.v1ToV2) : "–",
      p.moves ? `${pct(p.moves.expected.v1ToV2)} (hash ${pct(p.moves.predicted.v1ToV2)})` : "–",
      p.moves ? interval(p.moves.v2ToV1) : "–",
      p.moves ? `${pct(p.moves.expected.v2ToV1)} (hash ${pct(p.moves.predicted.v2ToV1)})` : "–",
    ]),
  ]);
}

/** Every address connects once (`concurrency` at a time); "" for a client that failed. */
async function versionsOf(
  target: string,
  addresses: readonly string[],
  concurrency: number,
): Promise<{ versions: Version[]; firstError?: string }> {
  const versions: Version[] = new Array(addresses.length).fill("");
  let firstError: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < addresses.length) {
      const i = next++;
      try {
        versions[i] = await probePrefix(target, 5000, addresses[i]);
      } catch (error) {
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { versions, firstError };
}

/** Run the sticky phases on a fresh gateway (`balance: sticky`). */
export async function runStickyCheck(
  ctx: PeerContext,
  plan: StickyPlan,
  log: (line: string) => void,
): Promise<{ addresses: string[]; phases: StickyPhaseResult[] }> {
  const addresses = stickyAddresses(plan.clients);
  const first = plan.phases[0];
  if (!first) throw new Error("the sticky check needs a phase");
  const gateway = await startGateway({
    ...ctx,
    initialWeights: first.weights,
    listener: { balance: "sticky" },
  });
  const phases: StickyPhaseResult[] = [];
  try {
    let weights = first.weights;
    for (const phase of plan.phases) {
      let reloadInForceMs: number | undefined;
      if (phase.weights.one !== weights.one || phase.weights.two !== weights.two) {
        const start = performance.now();
        gateway.writeRoutes(phase.weights);
        const inForce = await waitForWeights(gateway, phase.weights);
        if (inForce === undefined)
          throw new Error(`sticky ${phase.label}: weights not in force within 5 s`);
        reloadInForceMs = Number((performance.now() - start).toFixed(1));
        weights = phase.weights;
      }
      const start = performance.now();
      const { versions, firstError } = await versionsOf(
        gateway.targets[0] as string,
        addresses,
        plan.concurrency,
      );
      const durationMs = Math.round(performance.now() - start);
      log(`  sticky ${phase.label}: ${addresses.length} clients in ${durationMs} ms`);
      phases.push({
        label: phase.label,
        weights: phase.weights,
        versions,
        reloadInForceMs,
        firstError,
        durationMs,
      });
    }
  } finally {
    await gateway.stop();
  }
  return { addresses, phases };
}
