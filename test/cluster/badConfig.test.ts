/**
 * Real engine, scenario 5: bad config stops `pulumi preview` (and `up`) with a message that names
 * the key and what is allowed, no stack trace, and nothing created.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  expectUnchanged,
  type PulumiProject,
  SCENARIOS,
  type Snapshot,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.badConfig;

describe.skipIf(skipReason())("real engine: bad config", () => {
  let project: PulumiProject;
  let before: Snapshot;

  beforeAll(async () => {
    ({ project, before } = await startScenario("badConfig", "bad", {
      mode: "istio",
      clb: "controller",
      appName: app,
      namespace,
    }));
  });

  it.each([
    ["weightV2", "150", 'tcp-shift:weightV2 = "150": must be an integer from 0 to 100'],
    ["mode", "blue", 'tcp-shift:mode = "blue": must be one of asm, istio, standalone'],
  ])(
    "5. %s %s: preview and up fail naming the key and what is allowed",
    async (key, value, line) => {
      await project.config({ [key]: value });
      for (const command of [["preview"], ["up", "--yes"]]) {
        const result = await project.run(command);
        const output = `${result.stdout}\n${result.stderr}`;
        expect(result.code, result.command).not.toBe(0);
        expect(output).toContain(`Invalid tcp-shift configuration in stack "bad":`);
        expect(output).toContain(`  - ${line}`);
        expect(output).not.toMatch(/unhandled exception|\n\s+at \S+ \(/);
      }
      await project.ok(["config", "rm", `tcp-shift:${key}`]);
    },
  );

  it("5. nothing was created, in the stack or in the clusters", async () => {
    expect(await project.stateResources()).toEqual([]);
    await expectUnchanged("badConfig", before);
  });
});
