/**
 * Test harness: runs the real program (`index.ts`) under the recording mocks of
 * `tools/render/renderProgram.ts`; re-exports the schema and tutorial helpers of `kubeSchemas.ts`.
 */
import { vi } from "vitest";
import {
  installMocks,
  type ProgramRun,
  type RecordedResource,
  revealSecrets,
  runProgram,
} from "../../tools/render/renderProgram";
import type { KubeObject } from "./kubeSchemas";

export {
  HARDENING_ADDITIONS,
  type KubeObject,
  tutorialDifferences,
  tutorialObjects,
  validateObject,
} from "./kubeSchemas";

/** Stack name every mock test runs as. */
export const TEST_STACK = "dev";

/** Access that satisfies `missingClusterAccess` in asm mode. */
export const ASM_ACCESS = { clusterId: "c1234567890abc", meshId: "c0987654321abc" } as const;

/** A Kubernetes object the program declared, with where it goes. */
export interface DeclaredObject {
  /** Provider name: `data-plane` or `mesh`. */
  provider: string | undefined;
  /** Pulumi resource name. */
  name: string;
  /** The object, secrets unwrapped. */
  object: KubeObject;
}

/** Install the mocks (once per test file). */
export function useProgramMocks(): void {
  installMocks(TEST_STACK);
}

/** Run the program with `config` (CLI-style strings), importing it fresh. */
export function runWith(
  config: Record<string, string>,
  secretKeys: string[] = [],
): Promise<ProgramRun> {
  return runProgram({
    config,
    secretKeys,
    importProgram: async () => {
      vi.resetModules();
      return (await import("../../index.js")) as Record<string, unknown>;
    },
  });
}

/** Declared (not read) Kubernetes objects of a run. */
export function declaredObjects(run: ProgramRun): DeclaredObject[] {
  return run.resources
    .filter(
      (r) =>
        r.custom &&
        r.readId === undefined &&
        r.type.startsWith("kubernetes:") &&
        !r.type.startsWith("pulumi:"),
    )
    .map((r) => ({
      provider: r.provider,
      name: r.name,
      object: revealSecrets(r.inputs) as KubeObject,
    }));
}

/** The one declared object of `kind` named `name`; fails the test when missing or ambiguous. */
export function findObject(run: ProgramRun, kind: string, name: string): DeclaredObject {
  const found = declaredObjects(run).filter(
    (d) => d.object.kind === kind && d.object.metadata.name === name,
  );
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0] as DeclaredObject;
}

/** Resources of a given type token. */
export function resourcesOfType(run: ProgramRun, type: string): RecordedResource[] {
  return run.resources.filter((r) => r.type === type);
}
