/**
 * The `--stack` target's wiring, with a stand-in for the Automation API's `Stack` (npm test has
 * no pulumi CLI; the real engine is exercised by the cluster tier). The stand-in's `up` does what
 * `pulumi up` does for a local stack: the stack's config reaches the running data plane, here by
 * writing the stack file local mode follows, so the shift still judges real connections.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../../contract/userError";
import { silentLogger } from "../../../dataplane/shared/jsonLogger";
import { startLocalStack } from "../../../tools/local/localStack";
import { pulumiStackTarget, type StackOperations } from "../../../tools/shift/pulumiStackTarget";
import { setStackFileWeight } from "../../../tools/shift/stackFileTarget";
import { FAST, runShift } from "./shiftHarness";

/** A stack whose config is a map and whose `up` runs `onUp`; it records every call. */
function fakeStack(
  config: Record<string, string>,
  onUp: (config: Record<string, string>) => void = () => {},
  outputs: Record<string, unknown> = {},
) {
  const calls: string[] = [];
  const stack: StackOperations = {
    async getAllConfig() {
      calls.push("getAllConfig");
      return Object.fromEntries(Object.entries(config).map(([k, value]) => [k, { value }]));
    },
    async setConfig(key, value) {
      calls.push(`setConfig ${key}=${value.value} secret=${value.secret}`);
      config[key] = value.value;
    },
    async up({ onOutput }) {
      calls.push("up");
      onOutput("Updating (dev)\n");
      onUp(config);
      return { summary: { result: "succeeded" } };
    },
    async outputs() {
      calls.push("outputs");
      return Object.fromEntries(Object.entries(outputs).map(([k, value]) => [k, { value }]));
    },
  };
  return { stack, calls };
}

describe("the --stack target", () => {
  it("sets tcp-shift:weightV2 as a plain string, then runs up, and forwards up's output", async () => {
    const { stack, calls } = fakeStack({ "tcp-shift:weightV2": "5" });
    const target = pulumiStackTarget("dev", stack);
    expect(await target.currentWeight()).toBe(5);
    const output: string[] = [];
    await target.setWeight(20, (text) => output.push(text));
    expect(calls).toEqual(["getAllConfig", "setConfig tcp-shift:weightV2=20 secret=false", "up"]);
    expect(output).toEqual(["Updating (dev)\n"]);
    expect(target.describeChange(20)).toBe(
      "pulumi config set tcp-shift:weightV2 20, then pulumi up",
    );
  });

  it("reads an unset weight as 0 and turns a failed up into a user error", async () => {
    const { stack } = fakeStack({});
    stack.up = async () => {
      throw new Error("error: update failed\n  details");
    };
    const target = pulumiStackTarget("prod", stack);
    expect(await target.currentWeight()).toBe(0);
    await expect(target.setWeight(10, () => {})).rejects.toThrow(
      new UserError("E_STACK", "pulumi up of stack prod failed: error: update failed"),
    );
  });

  it("plans from the stack's outputs when --host and --port are not given", async () => {
    const { stack, calls } = fakeStack({}, () => {}, {
      ingressHost: "203.0.113.7",
      ingressPort: 31400,
    });
    const run = await runShift(
      ["--stack", "prod", "--steps", "20,100", "--interval", "5m", "--dry-run"],
      {
        openStack: async (name, workDir) => {
          calls.push(`open ${name} ${workDir}`);
          return stack;
        },
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("target     Pulumi stack prod (Automation API), now at weight 0");
    expect(run.stdout).toContain("probe      203.0.113.7:31400");
    expect(run.stdout).toContain(
      "step 1/2   pulumi config set tcp-shift:weightV2 20, then pulumi up;",
    );
    expect(calls).not.toContain("up");
  });

  const dir = mkdtempSync(join(tmpdir(), "shift-stack-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("shifts a running stack to 100 through config set and up", async () => {
    const stackFile = join(dir, "Pulumi.dev.yaml");
    writeFileSync(stackFile, 'config:\n  tcp-shift:weightV2: "0"\n');
    const local = await startLocalStack({
      dir,
      port: 0,
      print: () => {},
      printError: () => {},
      logger: silentLogger,
    });
    try {
      const { stack, calls } = fakeStack({ "tcp-shift:weightV2": "0" }, (config) =>
        writeFileSync(
          stackFile,
          setStackFileWeight(readFileSync(stackFile, "utf8"), Number(config["tcp-shift:weightV2"])),
        ),
      );
      const run = await runShift(
        [
          "--stack",
          "dev",
          "--host",
          "127.0.0.1",
          "--port",
          String(local.port),
          "--steps",
          "50,100",
          ...FAST,
          "--baseline",
          "0",
        ],
        { openStack: async () => stack },
      );
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(calls.filter((call) => call !== "getAllConfig")).toEqual([
        "setConfig tcp-shift:weightV2=50 secret=false",
        "up",
        "setConfig tcp-shift:weightV2=100 secret=false",
        "up",
      ]);
      expect(run.stderr).toBe("Updating (dev)\nUpdating (dev)\n");
      expect(local.weights).toEqual({ v1: 0, v2: 100 });
    } finally {
      await local.close(0);
    }
  });
});
