/**
 * Runs the real Pulumi program (`index.ts`) under the SDK's mock runtime and records every
 * resource it registers, every data-source call and the stack outputs. `npm run render` prints
 * the result; the component tests assert on it. No cloud, no cluster, no credentials.
 *
 * The mock runtime is process-global: `installMocks` once per process (per test file), then
 * `runProgram` as often as needed, each time with a fresh import of the program.
 */
import * as pulumi from "@pulumi/pulumi";
import { type ServiceReading, setProgramHost } from "../../infra/cluster/programHost";
import { PROJECT_NAME } from "../../infra/constants";

/** Stand-in for values only the cloud knows (addresses, ids, digests). */
export const KNOWN_AFTER_UP = "(known after up)";
/** Address the mocks give a created or looked-up CLB and any LoadBalancer Service. */
export const PLACEHOLDER_ADDRESS = `(CLB address, known after up)`;
/** Shown instead of a secret value. */
export const SECRET_MASK = "[secret]";

/** One `registerResource` or `readResource` the program made. */
export interface RecordedResource {
  /** Type token, e.g. `kubernetes:apps/v1:Deployment`. */
  type: string;
  /** Pulumi resource name. */
  name: string;
  /** Inputs as the engine receives them; secrets appear as secret markers. */
  inputs: Record<string, unknown>;
  /** Name of the provider resource that handles it (`data-plane`, `mesh`), if explicit. */
  provider?: string;
  /** False for component resources. */
  custom: boolean;
  /** Id of a resource read with `.get` (not declared); undefined for declared ones. */
  readId?: string;
}

/** One data-source call (`alicloud.cs.getClusterCredential`, ...). */
export interface RecordedCall {
  token: string;
  inputs: Record<string, unknown>;
}

/** Everything one run of the program did. */
export interface ProgramRun {
  resources: RecordedResource[];
  calls: RecordedCall[];
  /** Stack outputs, resolved; secrets masked. */
  outputs: Record<string, unknown>;
}

/** True for the engine's encoding of a secret value. */
export function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] ===
      pulumi.runtime.specialSecretSig
  );
}

/** A deep copy with every secret replaced by `[secret]`. */
export function maskSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return SECRET_MASK;
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v)]));
  }
  return value;
}

/** A deep copy with every secret unwrapped (tests compare plain values). */
export function revealSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return revealSecrets(value.value);
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
  }
  return value;
}

/** `urn:pulumi:dev::tcp-shift::pulumi:providers:kubernetes::data-plane::id` → `data-plane`. */
function providerName(reference: string | undefined): string | undefined {
  if (!reference) return undefined;
  const urn = reference.split("::").slice(0, 4);
  return urn[3];
}

function placeholderKubeconfig(cluster: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: ${cluster}, cluster: {server: "https://${cluster}.invalid"}}]`,
    `contexts: [{name: ${cluster}, context: {cluster: ${cluster}, user: ${cluster}}}]`,
    `current-context: ${cluster}`,
    `users: [{name: ${cluster}, user: {token: placeholder}}]`,
  ].join("\n");
}

/** What the cloud would fill in, so outputs resolve the way they do after `pulumi up`. */
function mockState(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
  if (type === "kubernetes:core/v1:Service") {
    const spec = inputs.spec as { type?: string } | undefined;
    const isLoadBalancer = spec?.type === "LoadBalancer" || spec === undefined;
    return isLoadBalancer
      ? { ...inputs, status: { loadBalancer: { ingress: [{ ip: PLACEHOLDER_ADDRESS }] } } }
      : inputs;
  }
  if (type === "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer") {
    return { ...inputs, address: PLACEHOLDER_ADDRESS };
  }
  if (type === "docker-build:index:Image") {
    const tags = (inputs.tags as string[] | undefined) ?? [];
    return { ...inputs, ref: `${tags[0] ?? "image"}@sha256:${KNOWN_AFTER_UP}`, digest: "" };
  }
  return inputs;
}

function mockId(type: string, name: string, inputs: Record<string, unknown>): string {
  if (type.startsWith("kubernetes:") && !type.startsWith("kubernetes:index:")) {
    const metadata = inputs.metadata as { name?: string; namespace?: string } | undefined;
    return [metadata?.namespace, metadata?.name ?? name].filter(Boolean).join("/");
  }
  return `${name} id ${KNOWN_AFTER_UP}`;
}

function mockCall(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case "alicloud:cs/getClusterCredential:getClusterCredential":
      return { ...inputs, id: inputs.clusterId, kubeConfig: placeholderKubeconfig("ack") };
    case "alicloud:servicemesh/getServiceMeshes:getServiceMeshes":
      return foundByIds(inputs, "meshes", (id) => ({
        id,
        kubeConfig: placeholderKubeconfig("asm"),
      }));
    case "alicloud:slb/getApplicationLoadBalancers:getApplicationLoadBalancers":
      return foundByIds(inputs, "balancers", (id) => ({ id, address: PLACEHOLDER_ADDRESS }));
    default:
      return inputs;
  }
}

/** A list data source looked up by `ids`: every id found, one item each under `field`. */
function foundByIds(
  inputs: Record<string, unknown>,
  field: string,
  item: (id: string) => Record<string, unknown>,
): Record<string, unknown> {
  const ids = (inputs.ids as string[] | undefined) ?? [];
  return { ...inputs, id: ids.join(","), names: ids, [field]: ids.map(item) };
}

let recording: { resources: RecordedResource[]; calls: RecordedCall[] } | undefined;
let lastRecording: { resources: RecordedResource[]; calls: RecordedCall[] } = {
  resources: [],
  calls: [],
};
let installedStack: string | undefined;

/** What the last `runProgram` recorded, also when it failed (bad config registers nothing). */
export function lastRecorded(): { resources: RecordedResource[]; calls: RecordedCall[] } {
  return lastRecording;
}

/** Install the recording mocks for `stack` (once per process; later calls must agree). */
export function installMocks(stack: string): void {
  if (installedStack !== undefined) {
    if (installedStack !== stack) {
      throw new Error(`mocks already installed for stack ${installedStack}, not ${stack}`);
    }
    return;
  }
  installedStack = stack;
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const read = args.id !== undefined && args.id !== "";
        recording?.resources.push({
          type: args.type,
          name: args.name,
          inputs,
          provider: providerName(args.provider),
          custom: args.custom ?? true,
          ...(read ? { readId: args.id } : {}),
        });
        return {
          id: read ? (args.id as string) : mockId(args.type, args.name, inputs),
          state: mockState(args.type, inputs),
        };
      },
      call(args) {
        const inputs = args.inputs as Record<string, unknown>;
        recording?.calls.push({ token: args.token, inputs });
        return mockCall(args.token, inputs);
      },
    },
    PROJECT_NAME,
    stack,
    false,
  );
}

/** Inputs of {@link runProgram}. */
export interface RunProgramArgs {
  /** Config as the CLI hands it over: keys without namespace, string values. */
  config: Record<string, string>;
  /**
   * The environment the program sees (cluster access variables such as TCP_SHIFT_KUBECONFIG).
   * @default {} — never the caller's: a render must not pick up anyone's credentials.
   */
  env?: Record<string, string>;
  /** Files the program may read, by path (kubeconfigs named by `env`). @default {} */
  files?: Record<string, string>;
  /** What reading a Service of the data plane returns. @default found, with the placeholder address */
  serviceReading?: ServiceReading;
  /** Keys whose values are secrets. */
  secretKeys?: readonly string[];
  /** Imports the program fresh (tests reset the module registry first). */
  importProgram: () => Promise<Record<string, unknown>>;
}

const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs;

async function resolveOutput(value: unknown): Promise<unknown> {
  if (!pulumi.Output.isInstance(value)) return value;
  if (await pulumi.isSecret(value)) return SECRET_MASK;
  return new Promise((resolve) => {
    value.apply((plain) => resolve(plain));
  });
}

/**
 * Run the program once with `config`. Errors the program throws (a `pulumi.RunError` for bad
 * config) propagate unchanged, before any resource is recorded.
 */
export async function runProgram(args: RunProgramArgs): Promise<ProgramRun> {
  if (installedStack === undefined) throw new Error("installMocks first");
  const prefixed = (key: string) => `${PROJECT_NAME}:${key}`;
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(args.config).map(([k, v]) => [prefixed(k), v])),
    (args.secretKeys ?? []).map(prefixed),
  );
  const run = { resources: [] as RecordedResource[], calls: [] as RecordedCall[] };
  recording = run;
  lastRecording = run;
  const files = args.files ?? {};
  const serviceReading = args.serviceReading ?? { found: true, address: PLACEHOLDER_ADDRESS };
  // Mocks run no cluster, and a render is the same for everyone: the program sees only what the
  // caller passes, no ambient kubeconfig, and a data plane that answers with the placeholder.
  setProgramHost({
    env: args.env ?? {},
    homeDir: "/nonexistent/tcp-shift-render-home",
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) {
        throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: "ENOENT" });
      }
      return text;
    },
    readService: async () => serviceReading,
  });
  try {
    const program = await args.importProgram();
    const outputs: Record<string, unknown> = {};
    for (const key of Object.keys(program).sort()) {
      if (key === "default") continue;
      outputs[key] = await resolveOutput(program[key]);
    }
    await waitForRPCs();
    return { ...run, outputs };
  } finally {
    recording = undefined;
    setProgramHost(undefined);
  }
}
