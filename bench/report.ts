/**
 * Pure result math of the benchmark: medians, min–max, per-round ratios between two peers
 * measured in the same round, the summary table and the `--json` object. No I/O here.
 */

/** Median, minimum and maximum of a set of measurements. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many values. */
  n: number;
}

/** Median of `values` (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] as number) + upper) / 2;
}

/** Median with min and max over the finite values; undefined when there are none. */
export function spread(values: readonly (number | undefined)[]): Spread | undefined {
  const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (finite.length === 0) return undefined;
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  };
}

/**
 * Ratios `a[i] / b[i]` of values measured in the same round i. Rounds where either value is
 * missing or `b[i]` is not positive are skipped (a ratio against zero says nothing).
 */
export function roundRatios(
  a: readonly (number | undefined)[],
  b: readonly (number | undefined)[],
): number[] {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (y <= 0) continue;
    ratios.push(x / y);
  }
  return ratios;
}

/** Latency percentiles of one fixed-rate phase, microseconds. */
export interface LatencyUs {
  p50: number;
  p99: number;
}

/** Everything measured for one peer in one round. Proxy-only fields are absent for direct. */
export interface PeerSample {
  peer: string;
  round: number;
  /** New connections/s, closed loop, 1 at a time. */
  connRate1: number;
  /** New connections/s, closed loop, 50 at a time. */
  connRate50: number;
  /** Proxy CPU (user + system) per connection during the 50-concurrent phase, µs. */
  cpuPerConnUs?: number;
  /** Both backends' CPU per connection in the same phase, µs (shows the backends are cheap). */
  backendCpuPerConnUs?: number;
  /** Connect + line + reply latency at 1000 new connections/s. */
  lat1000: LatencyUs;
  /** Same at 3000 new connections/s. */
  lat3000: LatencyUs;
  /** Echoed MB/s over a few long-lived connections. */
  bulkMBs: number;
  /** RSS right after start, MB. */
  rssStartMB?: number;
  /** RSS idle after the load phases, MB. */
  rssIdleMB?: number;
  /** RSS added per open idle connection, KB. */
  rssPerConnKB?: number;
  /** Connections of the 50-concurrent phase that went to v1 / v2. */
  split: { one: number; two: number };
  /** 50-concurrent phase: the load generator's CPU, share of one core. */
  generatorCpu50?: number;
  /** 50-concurrent phase: share of all the machine's cores that were busy. */
  machineBusy50?: number;
  /** 50-concurrent phase: the busiest address pair's rate, share of what its port space carries. */
  pairUse50?: number;
  /** Failed or wrong connections and off-weight splits seen in this round (empty: none). */
  problems?: string[];
}

/** One row of the summary: a metric across peers. */
export interface MetricSummary {
  key: string;
  label: string;
  unit: string;
  /** Whether a bigger value is better (for reading the ratio). */
  higherIsBetter: boolean;
  perPeer: Record<string, Spread | undefined>;
  /** Median of per-round gateway/HAProxy ratios, with min–max (absent for context rows). */
  gatewayVsHaproxy?: Spread;
  /** Median of per-round gateway/direct ratios, with min–max. */
  gatewayVsDirect?: Spread;
}

interface MetricDef {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
  /** Value of a sample; `direct` is the direct sample of the same round (for added latency). */
  value: (sample: PeerSample, direct: PeerSample | undefined) => number | undefined;
  /** Compare to direct? Added latency against direct is 0 by definition. */
  vsDirect: boolean;
  /** A context row (what bounds a phase): no ratios. */
  context?: true;
}

/**
 * Latency the proxy adds over direct in the same round (may be negative when noise makes direct
 * slower; a ratio against a non-positive HAProxy figure is skipped, see {@link roundRatios}).
 */
export function addedLatency(peer: number, direct: number | undefined): number | undefined {
  if (direct === undefined) return undefined;
  return peer - direct;
}

/**
 * The proxy's CPU over the 50-concurrent phase as a share of one core: its CPU per connection
 * times connections per second. HAProxy (`nbthread 1`), nginx (1 worker) and the gateway each
 * carry connections on one thread.
 */
export function proxyCoreShare(s: PeerSample): number | undefined {
  return s.cpuPerConnUs === undefined ? undefined : (s.cpuPerConnUs * s.connRate50) / 1e6;
}

function percent(share: number | undefined): number | undefined {
  return share === undefined ? undefined : 100 * share;
}

export const METRICS: readonly MetricDef[] = [
  {
    key: "connRate1",
    label: "new conn/s, 1 concurrent",
    unit: "conn/s",
    higherIsBetter: true,
    value: (s) => s.connRate1,
    vsDirect: true,
  },
  {
    key: "connRate50",
    label: "new conn/s, 50 concurrent",
    unit: "conn/s",
    higherIsBetter: true,
    value: (s) => s.connRate50,
    vsDirect: true,
  },
  {
    key: "generatorCpu50",
    label: "c=50: load generator CPU",
    unit: "% of a core",
    higherIsBetter: false,
    value: (s) => percent(s.generatorCpu50),
    vsDirect: false,
    context: true,
  },
  {
    key: "proxyCpu50",
    label: "c=50: proxy CPU",
    unit: "% of a core",
    higherIsBetter: false,
    value: (s) => percent(proxyCoreShare(s)),
    vsDirect: false,
    context: true,
  },
  {
    key: "machineBusy50",
    label: "c=50: machine CPU busy",
    unit: "% of all cores",
    higherIsBetter: false,
    value: (s) => percent(s.machineBusy50),
    vsDirect: false,
    context: true,
  },
  {
    key: "pairUse50",
    label: "c=50: busiest address pair",
    unit: "% of its port space",
    higherIsBetter: false,
    value: (s) => percent(s.pairUse50),
    vsDirect: false,
    context: true,
  },
  {
    key: "cpuPerConn",
    label: "proxy CPU per connection",
    unit: "µs",
    higherIsBetter: false,
    value: (s) => s.cpuPerConnUs,
    vsDirect: false,
  },
  {
    key: "p50At1000",
    label: "added p50 @1000/s",
    unit: "µs",
    higherIsBetter: false,
    value: (s, d) =>
      s.peer === "direct" ? undefined : addedLatency(s.lat1000.p50, d?.lat1000.p50),
    vsDirect: false,
  },
  {
    key: "p99At1000",
    label: "added p99 @1000/s",
    unit: "µs",
    higherIsBetter: false,
    value: (s, d) =>
      s.peer === "direct" ? undefined : addedLatency(s.lat1000.p99, d?.lat1000.p99),
    vsDirect: false,
  },
  {
    key: "p50At3000",
    label: "added p50 @3000/s",
    unit: "µs",
    higherIsBetter: false,
    value: (s, d) =>
      s.peer === "direct" ? undefined : addedLatency(s.lat3000.p50, d?.lat3000.p50),
    vsDirect: false,
  },
  {
    key: "p99At3000",
    label: "added p99 @3000/s",
    unit: "µs",
    higherIsBetter: false,
    value: (s, d) =>
      s.peer === "direct" ? undefined : addedLatency(s.lat3000.p99, d?.lat3000.p99),
    vsDirect: false,
  },
  {
    key: "p99At1000Raw",
    label: "p99 @1000/s (connect+line)",
    unit: "µs",
    higherIsBetter: false,
    value: (s) => s.lat1000.p99,
    vsDirect: true,
  },
  {
    key: "p99At3000Raw",
    label: "p99 @3000/s (connect+line)",
    unit: "µs",
    higherIsBetter: false,
    value: (s) => s.lat3000.p99,
    vsDirect: true,
  },
  {
    key: "bulk",
    label: "bulk echo, 4 connections",
    unit: "MB/s",
    higherIsBetter: true,
    value: (s) => s.bulkMBs,
    vsDirect: true,
  },
  {
    key: "rssStart",
    label: "RSS at start",
    unit: "MB",
    higherIsBetter: false,
    value: (s) => s.rssStartMB,
    vsDirect: false,
  },
  {
    key: "rssIdle",
    label: "RSS idle (after load)",
    unit: "MB",
    higherIsBetter: false,
    value: (s) => s.rssIdleMB,
    vsDirect: false,
  },
  {
    key: "rssPerConn",
    label: "RSS per idle connection",
    unit: "KB",
    higherIsBetter: false,
    value: (s) => s.rssPerConnKB,
    vsDirect: false,
  },
];

/** Summarise samples of all rounds: per-peer spreads and per-round ratios. */
export function summarize(samples: readonly PeerSample[]): MetricSummary[] {
  const rounds = [...new Set(samples.map((s) => s.round))].sort((a, b) => a - b);
  const peers = [...new Set(samples.map((s) => s.peer))];
  const find = (peer: string, round: number) =>
    samples.find((s) => s.peer === peer && s.round === round);
  return METRICS.map((metric) => {
    const series = (peer: string) =>
      rounds.map((round) => {
        const sample = find(peer, round);
        return sample ? metric.value(sample, find("direct", round)) : undefined;
      });
    const perPeer: Record<string, Spread | undefined> = {};
    for (const peer of peers) perPeer[peer] = spread(series(peer));
    const gateway = series("gateway");
    return {
      key: metric.key,
      label: metric.label,
      unit: metric.unit,
      higherIsBetter: metric.higherIsBetter,
      perPeer,
      gatewayVsHaproxy: metric.context
        ? undefined
        : spread(roundRatios(gateway, series("haproxy"))),
      gatewayVsDirect: metric.vsDirect ? spread(roundRatios(gateway, series("direct"))) : undefined,
    };
  });
}

/** `12.3 (11.0–14.1)` with a precision that suits the magnitude. */
export function formatSpread(value: Spread | undefined, ratio = false): string {
  if (!value) return "–";
  const fmt = (x: number) => {
    if (ratio) return x.toFixed(2);
    const abs = Math.abs(x);
    return abs >= 100 ? x.toFixed(0) : abs >= 10 ? x.toFixed(1) : x.toFixed(2);
  };
  if (value.n === 1 || value.min === value.max) return fmt(value.median);
  return `${fmt(value.median)} (${fmt(value.min)}–${fmt(value.max)})`;
}

/** Left-aligned first column, right-aligned others, columns separated by two spaces. */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          const pad = " ".repeat((widths[i] ?? 0) - [...cell].length);
          return i === 0 ? cell + pad : pad + cell;
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The summary as a text table: one row per metric, one column per peer, then the ratios. */
export function summaryTable(summary: readonly MetricSummary[], peers: readonly string[]): string {
  const header = ["metric", ...peers, "gateway/HAProxy", "gateway/direct"];
  const rows = summary.map((m) => [
    `${m.label} [${m.unit}]`,
    ...peers.map((peer) => formatSpread(m.perPeer[peer])),
    formatSpread(m.gatewayVsHaproxy, true),
    formatSpread(m.gatewayVsDirect, true),
  ]);
  return renderTable([header, ...rows]);
}

/** The fields `npm run bench -- --json` promises (issue 5), gateway/HAProxy medians. */
export interface HeadlineFigures {
  ratios: { connRate?: number; cpuPerConn?: number; bulk?: number; p99At1000?: number };
  rssIdleMB?: number;
  rssPerConnKB?: number;
  reloadMs?: number;
  lostConnections?: number;
}

/** Pick the headline figures out of a summary. */
export function headline(
  summary: readonly MetricSummary[],
  reload: { reloadMs?: number; lostConnections?: number },
): HeadlineFigures {
  const metric = (key: string) => summary.find((m) => m.key === key);
  return {
    ratios: {
      connRate: metric("connRate50")?.gatewayVsHaproxy?.median,
      cpuPerConn: metric("cpuPerConn")?.gatewayVsHaproxy?.median,
      bulk: metric("bulk")?.gatewayVsHaproxy?.median,
      p99At1000: metric("p99At1000")?.gatewayVsHaproxy?.median,
    },
    rssIdleMB: metric("rssIdle")?.perPeer.gateway?.median,
    rssPerConnKB: metric("rssPerConn")?.perPeer.gateway?.median,
    reloadMs: reload.reloadMs,
    lostConnections: reload.lostConnections,
  };
}

/**
 * Peer order of round `round`: as given in even rounds, reversed in odd ones, so the gateway
 * and HAProxy swap places every round (alternating pairs: drift in machine load hits both).
 */
export function roundOrder<T>(peers: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...peers] : [...peers].reverse();
}

/** Above these shares a resource is taken to bound the 50-concurrent phase. */
export const BOUND_AT = { proxy: 0.85, generator: 0.9, machine: 0.95, pairs: 0.9 } as const;

/**
 * What bounds a peer's 50-concurrent phase, in words, from its per-round samples (medians):
 * the proxy's own thread, the load generator's single thread, the machine's cores, or the port
 * space of an address pair. Empty when none is near its limit.
 */
export function conn50Bounds(samples: readonly PeerSample[]): string[] {
  const proxy = spread(samples.map(proxyCoreShare));
  const generator = spread(samples.map((s) => s.generatorCpu50));
  const machine = spread(samples.map((s) => s.machineBusy50));
  const pairs = spread(samples.map((s) => s.pairUse50));
  const reasons: string[] = [];
  const pct = (x: number) => `${Math.round(100 * x)} %`;
  if (proxy && proxy.median >= BOUND_AT.proxy)
    reasons.push(`the proxy's own thread (${pct(proxy.median)} of a core)`);
  if (generator && generator.median >= BOUND_AT.generator)
    reasons.push(`the load generator (${pct(generator.median)} of its one core)`);
  if (machine && machine.median >= BOUND_AT.machine)
    reasons.push(`the machine's cores (${pct(machine.median)} busy)`);
  if (pairs && pairs.median >= BOUND_AT.pairs)
    reasons.push(`the loopback port space (busiest address pair at ${pct(pairs.median)})`);
  return reasons;
}

/** {@link conn50Bounds} per peer, in the order given. */
export function conn50BoundsByPeer(
  samples: readonly PeerSample[],
  peers: readonly string[],
): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const peer of peers) result[peer] = conn50Bounds(samples.filter((s) => s.peer === peer));
  return result;
}
