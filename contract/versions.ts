/**
 * The two versions traffic shifts between and how their replies tell them apart: the Pulumi
 * program deploys them, the data plane routes to them, verify and shift count them.
 */

/** The two versions, in order. */
export const VERSIONS = ["v1", "v2"] as const;
export type Version = (typeof VERSIONS)[number];

/** Reply prefix of each version (tcp-echo's second argument). */
export type VersionPrefixes = Record<Version, string>;

/** Reply prefixes of the tutorial's versions: `one` for v1, `two` for v2. */
export const DEFAULT_PREFIXES: Readonly<VersionPrefixes> = { v1: "one", v2: "two" };
