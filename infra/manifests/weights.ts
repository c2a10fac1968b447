/**
 * The one place that turns `weightV2` into per-version weights. The VirtualService, the bundled
 * gateway's route file, local mode and the stack outputs all call it, so they cannot disagree.
 */
import type { Version } from "../constants";

/** Percent of new connections per version; always sums to 100. */
export interface VersionWeights {
  v1: number;
  v2: number;
}

/** One weighted destination: a version and its share of new connections. */
export interface WeightedVersion {
  version: Version;
  weight: number;
}

/** v1 gets whatever v2 does not: `{v1: 100 - weightV2, v2: weightV2}`. */
export function splitWeights(weightV2: number): VersionWeights {
  if (!Number.isInteger(weightV2) || weightV2 < 0 || weightV2 > 100) {
    throw new RangeError(`weightV2 must be an integer from 0 to 100, got ${weightV2}`);
  }
  return { v1: 100 - weightV2, v2: weightV2 };
}

/**
 * The destinations that receive traffic, in version order. A version at weight 0 is left out, as
 * Istio does; with one destination left its weight is 100 (the tutorial's first route omits it).
 */
export function weightedVersions(weightV2: number): WeightedVersion[] {
  const weights = splitWeights(weightV2);
  return (["v1", "v2"] as const)
    .map((version) => ({ version, weight: weights[version] }))
    .filter((destination) => destination.weight > 0);
}
