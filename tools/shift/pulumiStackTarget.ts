/**
 * `--stack NAME`: a Pulumi stack through the Automation API, exactly as a person would shift it:
 * `pulumi config set tcp-shift:weightV2 W`, then `pulumi up`. The weight is in force once `up`
 * is done. Needs the `pulumi` CLI at run time; the Automation API is loaded only for this target.
 */
import { UserError } from "../../contract/userError";
import { WEIGHT_KEY } from "./stackFileTarget";
import type { WeightTarget } from "./weightTarget";

/** Error code of a stack the Automation API cannot open or update. */
export const STACK_ERROR_CODE = "E_STACK";

/** The few stack operations the shift needs: a `Stack` of `@pulumi/pulumi/automation`, narrowed. */
export interface StackOperations {
  /** Every config value of the stack, by full key (`tcp-shift:weightV2`). */
  getAllConfig(): Promise<Record<string, { value: string; secret?: boolean }>>;
  setConfig(key: string, value: { value: string; secret?: boolean }): Promise<void>;
  up(options: { onOutput: (out: string) => void }): Promise<{ summary: { result?: string } }>;
  outputs(): Promise<Record<string, { value: unknown }>>;
}

/**
 * Select `stackName` in the Pulumi project at `workDir` with
 * `LocalWorkspace.selectStack({ stackName, workDir })`.
 */
export async function selectPulumiStack(
  stackName: string,
  workDir: string,
): Promise<StackOperations> {
  const { LocalWorkspace } = await import("@pulumi/pulumi/automation/index.js");
  try {
    return await LocalWorkspace.selectStack({ stackName, workDir });
  } catch (error) {
    const message = (error as Error).message;
    throw new UserError(
      STACK_ERROR_CODE,
      /spawn pulumi ENOENT|pulumi: (command )?not found/i.test(message)
        ? "--stack needs the pulumi CLI on PATH (https://www.pulumi.com/docs/install/); without it, shift a stack file (--stack-file) or a route file (--route-file)"
        : `Cannot select stack ${stackName} in ${workDir}: ${firstLine(message)}`,
    );
  }
}

/**
 * The telling line of an Automation API error: its message is `code: N\n stdout: ...\n stderr:
 * ...`, and the CLI's own error is on the stderr line.
 */
function firstLine(text: string): string {
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/^code: -?\d+$/.test(line) && line !== "stdout:");
  const stderr = lines.find((line) => line.startsWith("stderr: ") && line.length > 8);
  return stderr ? stderr.slice(8) : (lines[0] ?? text);
}

/** The stack's `ingressHost` and `ingressPort` outputs: where clients connect. */
export async function stackIngress(
  stack: StackOperations,
): Promise<{ host?: string; port?: number }> {
  const outputs = await stack.outputs();
  const host = outputs.ingressHost?.value;
  const port = outputs.ingressPort?.value;
  return {
    ...(typeof host === "string" && host !== "" ? { host } : {}),
    ...(typeof port === "number" ? { port } : {}),
  };
}

/** A stack as a `WeightTarget`. */
export function pulumiStackTarget(stackName: string, stack: StackOperations): WeightTarget {
  return {
    description: `Pulumi stack ${stackName} (Automation API)`,
    describeChange: (weight) => `pulumi config set ${WEIGHT_KEY} ${weight}, then pulumi up`,
    async currentWeight() {
      const config = await stack.getAllConfig();
      const entry = config[WEIGHT_KEY];
      if (entry === undefined) return 0;
      const weight = /^\d{1,3}$/.test(entry.value.trim()) ? Number(entry.value) : Number.NaN;
      if (!(weight >= 0 && weight <= 100))
        throw new UserError(
          STACK_ERROR_CODE,
          `stack ${stackName}: ${WEIGHT_KEY} = "${entry.value}": must be an integer from 0 to 100`,
        );
      return weight;
    },
    async setWeight(weight, log) {
      await stack.setConfig(WEIGHT_KEY, { value: String(weight), secret: false });
      try {
        const result = await stack.up({ onOutput: log });
        if (result.summary.result !== undefined && result.summary.result !== "succeeded")
          throw new Error(`pulumi up ended with result "${result.summary.result}"`);
      } catch (error) {
        throw new UserError(
          STACK_ERROR_CODE,
          `pulumi up of stack ${stackName} failed: ${firstLine((error as Error).message)}`,
        );
      }
    },
  };
}
