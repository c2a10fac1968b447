/**
 * Summary of V8 `.cpuprofile` files (written by `node --cpu-prof`): self time per function,
 * summed over all profiles (one per process), biggest first.
 */

/** The parts of a V8 CPU profile this summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
    children?: number[];
  }[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/** One function's share of the sampled time. */
export interface SelfTime {
  /** `name (file:line)`; `(anonymous)` for unnamed functions. */
  frame: string;
  selfMs: number;
  /** Percent of all sampled time, idle included. */
  percent: number;
  /** Percent of the busy time (all sampled time less `(idle)`). */
  busyPercent: number;
}

function frameName(callFrame: CpuProfile["nodes"][number]["callFrame"]): string {
  const { functionName, url, lineNumber } = callFrame;
  const file = shortUrl(url);
  const name = functionName || "(anonymous)";
  return file ? `${name} (${file}:${lineNumber + 1})` : name;
}

/** Each sample with the time charged to it (its following time delta, as DevTools does). */
function timedSamples(profile: CpuProfile): { id: number; us: number }[] {
  if (profile.samples && profile.timeDeltas && profile.samples.length > 0)
    return profile.samples.map((id, i) => ({
      id,
      us: Math.max(0, profile.timeDeltas?.[i + 1] ?? 0),
    }));
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const interval = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
  return profile.nodes.map((node) => ({ id: node.id, us: (node.hitCount ?? 0) * interval }));
}

function ranked(byFrame: Map<string, number>, total: number, idle: number): SelfTime[] {
  const busy = total - idle;
  return [...byFrame.entries()]
    .map(([frame, us]) => ({
      frame,
      selfMs: us / 1000,
      percent: total > 0 ? (100 * us) / total : 0,
      busyPercent: busy > 0 && frame !== "(idle)" ? (100 * us) / busy : 0,
    }))
    .sort((a, b) => b.selfMs - a.selfMs);
}

/** Short file name: the part after `dist/` or `node_modules/`, else the base name. */
export function shortUrl(url: string): string {
  if (url === "") return "";
  const path = url.replace(/^file:\/\//, "");
  const match = /(?:^|\/)(dist\/.*|node_modules\/.*|node:.*)$/.exec(path);
  return match?.[1] ?? path.split("/").pop() ?? path;
}

/**
 * Self time per function over `profiles`. Each sample's time is its time delta (the V8 way);
 * profiles without deltas fall back to hit counts × the mean sampling interval.
 */
export function selfTimes(profiles: readonly CpuProfile[]): SelfTime[] {
  const byFrame = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const frameOf = new Map(profile.nodes.map((node) => [node.id, frameName(node.callFrame)]));
    for (const { id, us } of timedSamples(profile)) {
      const frame = frameOf.get(id) ?? "(unknown)";
      byFrame.set(frame, (byFrame.get(frame) ?? 0) + us);
      total += us;
    }
  }
  return ranked(byFrame, total, byFrame.get("(idle)") ?? 0);
}

/**
 * Inclusive ("total") time of the functions whose frame matches `keep` (e.g. the gateway's own
 * code): every sample is charged once to each distinct matching frame on its stack. `selfMs`
 * then holds the inclusive time.
 */
export function inclusiveTimes(
  profiles: readonly CpuProfile[],
  keep: (frame: string) => boolean,
): SelfTime[] {
  const byFrame = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const profile of profiles) {
    const parentOf = new Map<number, number>();
    for (const node of profile.nodes)
      for (const child of node.children ?? []) parentOf.set(child, node.id);
    const frameOf = new Map(profile.nodes.map((node) => [node.id, frameName(node.callFrame)]));
    for (const { id, us } of timedSamples(profile)) {
      total += us;
      if (frameOf.get(id) === "(idle)") idle += us;
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
        const frame = frameOf.get(at);
        if (frame === undefined || seen.has(frame) || !keep(frame)) continue;
        seen.add(frame);
        byFrame.set(frame, (byFrame.get(frame) ?? 0) + us);
      }
    }
  }
  return ranked(byFrame, total, idle);
}
