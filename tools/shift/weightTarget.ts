/** What `npm run shift` changes: a Pulumi stack, a stack file or a route file, behind one interface. */
import { randomBytes } from "node:crypto";
import { chmodSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { VersionPrefixes } from "../../contract/versions";

/** Where v2's weight lives and how a step changes it. */
export interface WeightTarget {
  /** What it is, for the plan and the report: `stack file Pulumi.dev.yaml`. */
  readonly description: string;
  /** What setting `weight` does, in the words of the tool a person would use. */
  describeChange(weight: number): string;
  /** v2's weight the target holds now. */
  currentWeight(): Promise<number>;
  /**
   * Set v2's weight (v1 gets the rest) and apply it: resolves once written (files) or once
   * `pulumi up` is done (stacks). `log` gets the tool's own output (pulumi up's).
   */
  setWeight(weight: number, log: (text: string) => void): Promise<void>;
  /** Reply prefixes the target configures (a stack file's prefixV1/prefixV2), if any. */
  prefixes?(): Partial<VersionPrefixes>;
  /** The listener whose routes are shifted, when the target names one (route files). */
  readonly listener?: string;
}

/**
 * Replace `path` with `text` atomically: write a temporary file in the same directory (same file
 * system), then rename it over the original, so a watcher never reads a half-written file. The
 * original's permissions are kept.
 */
export function writeFileAtomically(path: string, text: string): void {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {}
  try {
    writeFileSync(temporary, text, { flush: true });
    if (mode !== undefined) chmodSync(temporary, mode);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
