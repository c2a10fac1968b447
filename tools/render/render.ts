/**
 * `npm run render -- --stack dev [--set weightV2=20 ...]`: what `pulumi up` would declare, offline.
 *
 * Reads `Pulumi.<stack>.yaml`, applies `--set` overrides, runs the real program (`index.ts`) under
 * the Pulumi mock runtime and prints every Kubernetes object as multi-document YAML, each headed
 * by the cluster it goes to, then the Alibaba Cloud resources, lookups and stack outputs as
 * comments. Bad config: the program's own message on stderr, exit 1, nothing on stdout.
 *
 * Cluster access (kubeconfigs, cluster and mesh ids) is per user and stays out of committed stack
 * files. Where it is missing, render fills in placeholders and says so in its header; the program
 * itself has no render mode, so `pulumi preview`/`up` still refuse to start without it.
 */
import { parseArgs } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { Document, parse as parseYaml, Scalar, visit } from "yaml";
import { EXIT_CODES } from "../../contract/exitCodes";
import { UserError } from "../../contract/userError";
import {
  ACCESS_ENV,
  type MissingAccess,
  missingAccessLines,
  missingClusterAccess,
} from "../../infra/config/clusterAccess";
import { parseConfig, SECRET_KEYS, type TcpShiftConfig } from "../../infra/config/config";
import {
  isSecureValue,
  readStackConfig,
  secureValueStandIn,
  stackFilePath,
} from "../../infra/config/stackFile";
import { DATA_PLANE_PROVIDER_NAME, MESH_PROVIDER_NAME, PROJECT_NAME } from "../../infra/constants";
import {
  installMocks,
  maskSecrets,
  type ProgramRun,
  type RecordedResource,
  runProgram,
  SECRET_MASK,
} from "./renderProgram";

/** Error code of a bad command line. */
export const RENDER_USAGE_ERROR_CODE = "E_USAGE";

const USAGE = `Usage: npm run render -- --stack <name> [--set key=value ...]

Prints what the stack declares: Kubernetes objects as YAML (each headed by its target cluster),
then Alibaba Cloud resources, lookups and outputs. Needs no credentials.

  --stack <name>     reads Pulumi.<name>.yaml (default: dev)
  --set key=value    overrides a ${PROJECT_NAME}: key, e.g. --set weightV2=20 (repeatable)
  --help             this text`;

/** Values that stand in for missing cluster access, so the program can run offline. */
export const ACCESS_PLACEHOLDERS: Record<string, string> = {
  clusterId: "cunsetclusterid",
  meshId: "cunsetmeshid00",
};

const TARGET_LABELS: Record<string, string> = {
  [DATA_PLANE_PROVIDER_NAME]: "data plane",
  [MESH_PROVIDER_NAME]: "mesh",
};

/** Apply order of kinds, so the output reads top-down like an install. */
const KIND_ORDER = [
  "Namespace",
  "NetworkPolicy",
  "ConfigMap",
  "Deployment",
  "PodDisruptionBudget",
  "Service",
  "Gateway",
  "DestinationRule",
  "VirtualService",
  "TCPRoute",
  "IstioGateway",
];

/** Options of one render. */
export interface RenderOptions {
  /** Stack name: reads `Pulumi.<stack>.yaml`. */
  stack: string;
  /** `key=value` overrides. */
  set: string[];
  /** Project directory. @default process.cwd() */
  dir?: string;
}

function usageError(message: string): UserError {
  return new UserError(RENDER_USAGE_ERROR_CODE, `${message}\n\n${USAGE}`);
}

/** `weightV2=20` or `tcp-shift:weightV2=20` → `["weightV2", "20"]`. */
export function parseOverride(text: string): [string, string] {
  const at = text.indexOf("=");
  if (at <= 0) throw usageError(`--set ${text}: expected key=value`);
  let key = text.slice(0, at).trim();
  if (key.startsWith(`${PROJECT_NAME}:`)) key = key.slice(PROJECT_NAME.length + 1);
  if (key.includes(":")) throw usageError(`--set ${text}: only ${PROJECT_NAME}: keys can be set`);
  return [key, text.slice(at + 1)];
}

/** A stack-file value as the CLI hands it to a program: a string (structured values as JSON). */
function cliString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** The program's config for this render, and what render had to stand in for. */
interface RenderConfig {
  config: Record<string, string>;
  secretKeys: string[];
  /** Keys whose encrypted stack-file value render cannot decrypt. */
  undecrypted: string[];
  /** Access the stack lacks (placeholders used instead). */
  missing: MissingAccess[];
  /** The validated config, when it validates (otherwise the program reports why). */
  parsed?: TcpShiftConfig;
}

function renderConfig(options: RenderOptions): RenderConfig {
  const path = stackFilePath(options.stack, options.dir);
  const raw = readStackConfig(path);
  for (const text of options.set) {
    const [key, value] = parseOverride(text);
    raw[key] = value;
  }
  const config: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const undecrypted: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (isSecureValue(value)) {
      config[key] = secureValueStandIn(key);
      secretKeys.add(key);
      undecrypted.push(key);
    } else {
      config[key] = cliString(value);
      if ((SECRET_KEYS as readonly string[]).includes(key)) secretKeys.add(key);
    }
  }
  let parsed: TcpShiftConfig | undefined;
  let missing: MissingAccess[] = [];
  try {
    parsed = parseConfig(config);
    missing = missingClusterAccess(parsed);
  } catch {
    // Invalid config: the program will throw its own error, which is what render must print.
  }
  for (const item of missing) {
    const key = item.keys.find((k) => ACCESS_PLACEHOLDERS[k] !== undefined);
    if (key) config[key] = ACCESS_PLACEHOLDERS[key] as string;
  }
  return { config, secretKeys: [...secretKeys], undecrypted, missing, parsed };
}

/** Top-level keys in manifest order, the rest sorted, recursively sorted below. */
function ordered(value: unknown, top = false): unknown {
  if (Array.isArray(value)) return value.map((item) => ordered(item));
  if (typeof value !== "object" || value === null) return value;
  const first = top ? ["apiVersion", "kind", "metadata"] : [];
  const keys = Object.keys(value).sort((a, b) => {
    const ia = first.indexOf(a);
    const ib = first.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return Object.fromEntries(
    keys.map((key) => [key, ordered((value as Record<string, unknown>)[key])]),
  );
}

function isKubernetesObject(resource: RecordedResource): boolean {
  return (
    resource.custom &&
    resource.readId === undefined &&
    resource.type.startsWith("kubernetes:") &&
    !resource.type.startsWith("pulumi:providers:")
  );
}

function isCloudResource(resource: RecordedResource): boolean {
  return (
    resource.custom &&
    resource.readId === undefined &&
    !resource.type.startsWith("kubernetes:") &&
    !resource.type.startsWith("pulumi:providers:")
  );
}

function objectKey(resource: RecordedResource): string[] {
  const inputs = resource.inputs as {
    kind?: string;
    metadata?: { name?: string; namespace?: string };
  };
  const kind = inputs.kind ?? "";
  const rank = KIND_ORDER.indexOf(kind);
  return [
    resource.provider === MESH_PROVIDER_NAME ? "1" : "0",
    String(rank === -1 ? 99 : rank).padStart(2, "0"),
    kind,
    inputs.metadata?.namespace ?? "",
    inputs.metadata?.name ?? "",
    resource.name,
  ];
}

function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? "";
    const y = b[i] ?? "";
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function commented(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => (line ? `# ${line}` : "#"))
    .join("\n");
}

/** What a YAML 1.1 parser makes of a one-line plain scalar; undefined if it cannot parse it. */
function yaml11Value(text: string): unknown {
  try {
    return parseYaml(text, { version: "1.1" });
  } catch {
    return undefined;
  }
}

/**
 * YAML that YAML 1.1 parsers read the same as YAML 1.2 ones. The `yaml` package writes YAML 1.2,
 * where `on`, `off`, `yes`, `no`, `y`, `n` and `1:20` are plain strings; kubectl's parser (YAML
 * 1.1) reads them as booleans and numbers (`acl-status: on` would become `true`). Every string
 * that YAML 1.1 would read as something else is double-quoted; the rest is left as YAML 1.2 writes
 * it (which already quotes what YAML 1.2 would misread).
 */
export function stringifyYaml(value: unknown): string {
  const document = new Document(value);
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value !== "string" || node.value.includes("\n")) return;
      if (yaml11Value(node.value) !== node.value) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return document.toString({ lineWidth: 0 });
}

function yaml(value: unknown, top = false): string {
  return stringifyYaml(ordered(maskSecrets(value), top)).trimEnd();
}

/** YAML of a list of records whose own keys keep their order; values below are sorted. */
function yamlList(key: string, items: Record<string, unknown>[]): string {
  const list = items.map((item) =>
    Object.fromEntries(Object.entries(item).map(([k, v]) => [k, ordered(maskSecrets(v))])),
  );
  return stringifyYaml({ [key]: list }).trimEnd();
}

/** Where the program gets each kubeconfig from, in words. */
function accessSources(config: TcpShiftConfig): string {
  // Access the stack file leaves unset comes from the environment of whoever runs pulumi.
  const dataPlane = config.kubeconfig
    ? `${PROJECT_NAME}:kubeconfig`
    : config.clusterId
      ? `ACK cluster ${config.clusterId} (Alibaba Cloud API)`
      : `${ACCESS_ENV.kubeconfig} or ${ACCESS_ENV.clusterId} where pulumi runs, else the ambient kubeconfig (KUBECONFIG or ~/.kube/config)`;
  if (config.mode !== "asm") return `data plane from ${dataPlane}`;
  const mesh = config.meshKubeconfig
    ? `${PROJECT_NAME}:meshKubeconfig`
    : `ASM instance ${config.meshId} (Alibaba Cloud API)`;
  return `data plane from ${dataPlane}; mesh from ${mesh}`;
}

function header(options: RenderOptions, setup: RenderConfig, run: ProgramRun): string {
  const config = setup.parsed;
  const overrides = options.set.map((text) => {
    const [key] = parseOverride(text);
    return setup.secretKeys.includes(key) ? `${key}=${SECRET_MASK}` : text;
  });
  const lines = [
    `# ${PROJECT_NAME} render of stack "${options.stack}" (Pulumi.${options.stack}.yaml)${
      overrides.length ? `, with --set ${overrides.join(" --set ")}` : ""
    }`,
  ];
  if (config) {
    const weights = run.outputs.weights as { v1: number; v2: number } | undefined;
    lines.push(
      `# mode: ${config.mode}, weightV2: ${config.weightV2}${
        weights ? ` (v1 ${weights.v1}%, v2 ${weights.v2}% of new connections)` : ""
      }`,
    );
    lines.push(
      config.mode === "asm"
        ? "# clusters: data plane = the ACK cluster (workloads); mesh = the ASM control plane (Istio objects, IstioGateway)"
        : "# cluster: data plane = the one cluster (workloads and, in istio mode, the Istio objects)",
    );
    if (setup.missing.length === 0) lines.push(`# access: ${accessSources(config)}`);
  }
  if (setup.missing.length > 0) {
    lines.push(
      "# NOTE: cluster access is not configured for this stack; rendered with placeholders:",
    );
    for (const item of setup.missing) {
      const key = item.keys.find((k) => ACCESS_PLACEHOLDERS[k] !== undefined);
      if (key) lines.push(`#   ${PROJECT_NAME}:${key} = ${ACCESS_PLACEHOLDERS[key]}`);
    }
    lines.push("# pulumi preview/up stop until these are set:");
    lines.push(commented(missingAccessLines(setup.missing).join("\n")));
  }
  if (setup.undecrypted.length > 0) {
    lines.push(
      `# encrypted values not decrypted (shown as ${SECRET_MASK}): ${setup.undecrypted
        .map((key) => `${PROJECT_NAME}:${key}`)
        .join(", ")}`,
    );
  }
  return lines.join("\n");
}

/** The render text of one program run. */
function formatRun(options: RenderOptions, setup: RenderConfig, run: ProgramRun): string {
  const parts = [header(options, setup, run)];
  const objects = run.resources
    .filter(isKubernetesObject)
    .sort((a, b) => compareKeys(objectKey(a), objectKey(b)));
  for (const object of objects) {
    const target = TARGET_LABELS[object.provider ?? ""] ?? object.provider ?? "default provider";
    parts.push(
      `---\n# cluster: ${target}\n# pulumi: ${object.type} ${object.name}\n${yaml(object.inputs, true)}`,
    );
  }
  const cloud = run.resources
    .filter(isCloudResource)
    .sort((a, b) => compareKeys([a.type, a.name], [b.type, b.name]))
    .map((resource) => ({ type: resource.type, name: resource.name, inputs: resource.inputs }));
  const reads = run.resources
    .filter((resource) => resource.readId !== undefined)
    .map((resource) => ({
      type: resource.type,
      id: resource.readId,
      cluster: TARGET_LABELS[resource.provider ?? ""] ?? resource.provider,
    }))
    .sort((a, b) => compareKeys([a.type, a.id ?? ""], [b.type, b.id ?? ""]));
  const calls = run.calls
    .map((call) => ({ function: call.token, inputs: call.inputs }))
    .sort((a, b) =>
      compareKeys([a.function, JSON.stringify(a.inputs)], [b.function, JSON.stringify(b.inputs)]),
    );
  const summary = [
    "---",
    "# Alibaba Cloud and other cloud resources (not Kubernetes objects):",
    commented(yamlList("cloudResources", cloud)),
    "# Read at deploy time (not declared):",
    commented(yamlList("lookups", calls)),
    commented(yamlList("reads", reads)),
    "# Stack outputs (cloud-assigned values are placeholders):",
    commented(yaml({ outputs: run.outputs })),
  ];
  parts.push(summary.join("\n"));
  return `${parts.join("\n")}\n`;
}

/** Imports the program; tests pass one that resets the module registry first. */
export type ProgramImporter = () => Promise<Record<string, unknown>>;

const importIndex: ProgramImporter = () => import("../../index.js");

/** Render a stack: the text for stdout. Throws `UserError` or `pulumi.RunError` on bad input. */
export async function render(
  options: RenderOptions,
  importProgram: ProgramImporter = importIndex,
): Promise<string> {
  const setup = renderConfig(options);
  installMocks(options.stack);
  const run = await runProgram({
    config: setup.config,
    secretKeys: setup.secretKeys,
    importProgram,
  });
  return formatRun(options, setup, run);
}

function parseCommandLine(argv: string[]): RenderOptions | "help" {
  // `npm run render -- ...` passes a lone "--" through on some npm versions.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  try {
    const { values } = parseArgs({
      args,
      options: {
        stack: { type: "string", default: "dev" },
        set: { type: "string", multiple: true, default: [] },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) return "help";
    return { stack: values.stack, set: values.set };
  } catch (error) {
    throw usageError((error as Error).message);
  }
}

/** Where `main` writes. */
export interface RenderIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * The command: returns the exit code (0 rendered, 1 bad config or stack file, 2 bad command
 * line). Unexpected errors propagate.
 */
export async function main(
  argv: string[],
  io: RenderIo = process,
  importProgram: ProgramImporter = importIndex,
): Promise<number> {
  try {
    const options = parseCommandLine(argv);
    if (options === "help") {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    io.stdout.write(await render(options, importProgram));
    return 0;
  } catch (error) {
    if (error instanceof UserError || pulumi.RunError.isInstance(error)) {
      io.stderr.write(`${(error as Error).message}\n`);
      return error instanceof UserError && error.code === RENDER_USAGE_ERROR_CODE
        ? EXIT_CODES.usage
        : EXIT_CODES.failure;
    }
    throw error;
  }
}

if (typeof require !== "undefined" && require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`render failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = EXIT_CODES.internal;
    },
  );
}
