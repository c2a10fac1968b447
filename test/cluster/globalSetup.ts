/**
 * The real-engine tier's setup: the built tools (building what is missing when Go is there),
 * then one set of local control planes for every scenario, with short emulator delays so the
 * "created later" paths really run. In CI (`CI=true`) a missing toolchain fails the tier; outside
 * CI, without Go and without built tools, the tier is skipped with one line.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { installAlicloudEmulator } from "../../testbed/alicloudEmulator";
import {
  controlPlaneTools,
  startControlPlanes,
  stopControlPlanes,
} from "../../testbed/controlPlanes";
import {
  BINARY_NAMES,
  ensureTools,
  pulumiHome,
  toolPaths,
  toolsDir,
} from "../../testbed/toolchain";
import type { TierContext } from "./tierContext";

function hasGo(): boolean {
  const r = spawnSync("go", ["version"], { encoding: "utf8" });
  return r.status === 0;
}

function isCi(): boolean {
  return process.env.CI === "true" || process.env.CI === "1";
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = resolve(__dirname, "..", "..");
  const built = toolPaths();
  const missing = BINARY_NAMES.filter((name) => !built[name]);
  if (missing.length > 0 && !hasGo()) {
    const reason = `no Go toolchain to build ${missing.join(", ")} (cache ${toolsDir()})`;
    if (isCi()) {
      throw new Error(`real-engine tier: CI=true and ${reason}: install Go (see README)`);
    }
    process.stdout.write(`real-engine tier skipped: ${reason}; install Go 1.26 to run it\n`);
    project.provide("tier", { skip: reason } satisfies TierContext);
    return async () => {};
  }
  const t0 = performance.now();
  const tools = await ensureTools({ progress: "text" });
  installAlicloudEmulator(tools.pulumi as string, pulumiHome());
  const toolSeconds = (performance.now() - t0) / 1000;

  const scratch = mkdtempSync(join(tmpdir(), "tcp-shift-tier-"));
  const stateDir = join(scratch, "cluster");
  const artifactsDir = resolve(process.env.TCP_SHIFT_TIER_ARTIFACTS || join(scratch, "artifacts"));
  mkdirSync(artifactsDir, { recursive: true });
  const t1 = performance.now();
  await startControlPlanes({
    stateDir,
    tools: controlPlaneTools(tools),
    asmDelayMs: 4000,
    ccmDelayMs: 2000,
    podReadyDelayMs: 500,
    defaultGateway: true,
    log: (line) => process.stdout.write(`[tier] ${line}\n`),
  });
  const clusterSeconds = (performance.now() - t1) / 1000;
  process.stdout.write(
    `[tier] tools ready in ${toolSeconds.toFixed(1)} s, control planes in ${clusterSeconds.toFixed(1)} s; artifacts in ${artifactsDir}\n`,
  );
  project.provide("tier", {
    stateDir,
    scratch,
    artifactsDir,
    pulumiHome: pulumiHome(),
    tools,
    projectRoot: resolve(process.env.TCP_SHIFT_TIER_PROJECT || root),
  } satisfies TierContext);

  return async () => {
    await stopControlPlanes(stateDir);
    // The scenario copies and (unless TCP_SHIFT_TIER_ARTIFACTS names a place) the artifacts.
    if (process.env.TCP_SHIFT_TIER_KEEP !== "1") rmSync(scratch, { recursive: true, force: true });
  };
}
