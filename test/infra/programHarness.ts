/**
 * Test harness: runs the real program (`index.ts`) under the recording mocks of
 * `tools/render/renderProgram.ts`; re-exports the schema and tutorial helpers of `kubeSchemas.ts`.
 */
import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";
import { parse } from "yaml";
import { type RouteFile, validateRouteFile } from "../../contract/routeFile";
import { GATEWAY_ROUTES_FILE } from "../../infra/constants";
import {
  installMocks,
  type ProgramRun,
  type RecordedResource,
  type RunProgramArgs,
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

let warnings: string[] = [];

/**
 * Install the mocks (once per test file). `pulumi.log.warn` is recorded instead of printed:
 * `lastWarnings()` returns what the last run warned about.
 */
export function useProgramMocks(): void {
  installMocks(TEST_STACK);
  vi.spyOn(pulumi.log, "warn").mockImplementation(async (message: string) => {
    warnings.push(message);
  });
}

/** The warnings (`pulumi.log.warn`) of the last `runWith`, as `pulumi preview` would print them. */
export function lastWarnings(): string[] {
  return [...warnings];
}

/** What the program sees of the machine: environment, files, the data plane's answer. */
export type ProgramMachine = Pick<RunProgramArgs, "env" | "files" | "serviceReading">;

/** A complete kubeconfig for `server` (token auth), as kubectl writes one. */
export function testKubeconfig(server: string, names = "ctx", token = "token-1"): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: ${names}-cluster, cluster: {server: "${server}", certificate-authority-data: Q0E=}}]`,
    `contexts: [{name: ${names}, context: {cluster: ${names}-cluster, user: ${names}-user}}]`,
    `current-context: ${names}`,
    `users: [{name: ${names}-user, user: {token: ${token}}}]`,
  ].join("\n");
}

/** Run the program with `config` (CLI-style strings), importing it fresh. */
export function runWith(
  config: Record<string, string>,
  secretKeys: string[] = [],
  machine: ProgramMachine = {},
): Promise<ProgramRun> {
  warnings = [];
  return runProgram({
    config,
    secretKeys,
    ...machine,
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

/** `Kind/name` of every declared object, sorted: what a run declares, at a glance. */
export function declaredNames(run: ProgramRun): string[] {
  return declaredObjects(run)
    .map((d) => `${d.object.kind}/${d.object.metadata.name}`)
    .sort();
}

/** The bundled gateway's route file as its ConfigMap `tcp-echo-routes` holds it, validated. */
export function gatewayRouteFile(run: ProgramRun): RouteFile {
  const { object } = findObject(run, "ConfigMap", "tcp-echo-routes");
  const text = (object.data as Record<string, string>)[GATEWAY_ROUTES_FILE] ?? "";
  return validateRouteFile(parse(text), GATEWAY_ROUTES_FILE);
}

/** Resources of a given type token. */
export function resourcesOfType(run: ProgramRun, type: string): RecordedResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** What the engine would receive for one registered resource, beyond its inputs. */
export interface Registration {
  /** The resource's URN (type chain of its parents, type, name). */
  urn: string;
  /** Type tokens of its aliases: an object registered under one of them is updated, not replaced. */
  aliasTypes: string[];
  /** URNs of the resources it depends on (`dependsOn`, and the resources its inputs came from). */
  dependencies: string[];
}

interface RegisterRequest {
  getAliasesList(): Array<{ getSpec(): { getType(): string } | undefined }>;
  getDependenciesList(): string[];
}
type RegisterCallback = (error: unknown, response?: { getUrn(): string }) => void;
interface MockMonitorLike {
  registerResource(request: RegisterRequest, callback: RegisterCallback): unknown;
}

/**
 * Run `action` (a `runWith`) and return every resource registration it made, as the engine
 * would see it: URN, alias types and dependencies. The recording mocks see only inputs.
 */
export async function withRegistrations<T>(
  action: () => Promise<T>,
): Promise<{ result: T; registrations: Registration[] }> {
  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorLike;
  const original = monitor.registerResource;
  const registrations: Registration[] = [];
  monitor.registerResource = (request, callback) =>
    original.call(monitor, request, (error, response) => {
      if (response) {
        registrations.push({
          urn: response.getUrn(),
          aliasTypes: request
            .getAliasesList()
            .map((alias) => alias.getSpec()?.getType() ?? "")
            .filter((type) => type !== ""),
          dependencies: request.getDependenciesList(),
        });
      }
      callback(error, response);
    });
  try {
    return { result: await action(), registrations };
  } finally {
    monitor.registerResource = original;
  }
}
