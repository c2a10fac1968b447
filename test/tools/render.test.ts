/**
 * `npm run render`: spawned end to end as a user runs it (a fresh process each), and in process
 * through `main` for the cases that need several renders (faster: one mock runtime).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { openClbWarning } from "../../infra/components/exposureWarnings";
import { parseConfig } from "../../infra/config/config";
import { toStackSettings } from "../../infra/config/settings";
import { parseStackConfig } from "../../infra/config/stackFile";
import { main, stringifyYaml } from "../../tools/render/render";
import { installMocks } from "../../tools/render/renderProgram";
import { committedText } from "../committedFiles";
import {
  ASM_ACCESS,
  type KubeObject,
  tutorialDifferences,
  tutorialObjects,
  validateObject,
} from "../infra/programHarness";

const ROOT = join(__dirname, "..", "..");
/**
 * A project directory holding the committed dev stack file: what a fresh clone renders, whatever
 * the user's working copy of Pulumi.dev.yaml holds (access set with `pulumi config set`, a
 * local-mode weight edit).
 */
const PROJECT = mkdtempSync(join(tmpdir(), "tcp-shift-render-project-"));
writeFileSync(join(PROJECT, "Pulumi.dev.yaml"), committedText("Pulumi.dev.yaml"));
const TSX_LOADER = join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
const RENDER = join(ROOT, "tools", "render", "render.ts");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function render(args: string[], cwd = PROJECT): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX_LOADER, RENDER, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface Document {
  /** The `# cluster: ...` line above the object. */
  cluster: string | undefined;
  object: KubeObject;
}

/** The Kubernetes objects of a render, each with its cluster comment. */
function objectsOf(stdout: string): Document[] {
  return stdout
    .split(/^---$/m)
    .map((chunk) => ({
      cluster: /^# cluster: (.+)$/m.exec(chunk)?.[1],
      object: parse(chunk) as KubeObject,
    }))
    .filter((d) => d.object?.kind !== undefined);
}

function find(docs: Document[], kind: string, name: string): Document {
  const found = docs.find((d) => d.object.kind === kind && d.object.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} not rendered`);
  return found;
}

/**
 * Runs `main` in this process (fresh program import each time) in project directory `dir` and
 * captures its output.
 */
async function renderHere(args: string[], dir = PROJECT): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const code = await main(
      args,
      {
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text) },
      },
      async () => {
        vi.resetModules();
        return (await import("../../index.js")) as Record<string, unknown>;
      },
    );
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
  }
}

const REGISTRY_PASSWORD = "correct-horse-battery-staple";
/** The CLB settings of the committed dev stack: created, internet-facing, no access list. */
const DEV_CLB = toStackSettings(
  parseConfig({
    ...parseStackConfig(committedText("Pulumi.dev.yaml"), "Pulumi.dev.yaml"),
    ...ASM_ACCESS,
  }),
).clb;
const ENCRYPTED = "v1:c2VjcmV0LW1lc2gta3ViZWNvbmZpZw==";

describe("npm run render, spawned", () => {
  const results: Record<string, Result> = {};
  beforeAll(async () => {
    const runs: Record<string, string[]> = {
      dev: ["--stack", "dev"],
      bad: ["--stack", "dev", "--set", "weightV2=120", "--set", "tcp-shift:mode=mesh"],
    };
    await Promise.all(
      Object.entries(runs).map(async ([name, args]) => {
        results[name] = await render(args);
      }),
    );
  }, 60_000);

  const get = (name: string): Result => {
    const result = results[name];
    if (!result) throw new Error(`no run ${name}`);
    return result;
  };

  it("renders the dev stack without credentials and says so in its header", () => {
    const { code, stdout, stderr } = get("dev");
    // The warning `pulumi preview` prints too: dev's CLB is internet-facing without allowedCidrs.
    expect(stderr).toBe(`warning: [runtime] ${openClbWarning(DEV_CLB, 31400)}\n`);
    expect(code).toBe(0);
    expect(stdout).toContain(
      "# NOTE: cluster access is not configured for this stack; rendered with placeholders:",
    );
    expect(stdout).toContain("#       export TCP_SHIFT_CLUSTER_ID=<ACK cluster id>");
  });

  it("prints every object schema-valid, headed by its target cluster", () => {
    const docs = objectsOf(get("dev").stdout);
    const targets = Object.fromEntries(
      docs.map((d) => [`${d.object.kind}/${d.object.metadata.name}`, d.cluster]),
    );
    expect(targets).toEqual({
      "Deployment/tcp-echo-v1": "data plane",
      "Deployment/tcp-echo-v2": "data plane",
      "Service/tcp-echo": "data plane",
      "NetworkPolicy/tcp-echo": "data plane",
      "Gateway/tcp-echo-gateway": "mesh",
      "DestinationRule/tcp-echo-destination": "mesh",
      "VirtualService/tcp-echo": "mesh",
      "IstioGateway/tcp-echo-ingressgateway": "mesh",
    });
    const validated = docs.filter(({ object }) => validateObject(object));
    expect(validated).toHaveLength(7); // all but ASM's IstioGateway (no published schema)
  });

  it("prints the cloud resources after the objects", () => {
    const { stdout } = get("dev");
    const cloud = stdout.slice(stdout.indexOf("# cloudResources:"));
    expect(cloud).toContain(
      "#   - type: alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    );
    expect(cloud).toContain("#     name: tcp-echo-clb-load-balancer");
    expect(stdout.indexOf("# cloudResources:")).toBeGreaterThan(
      stdout.indexOf("kind: IstioGateway"),
    );
  });

  it("bad config: the program's message on stderr, exit 1, nothing on stdout", () => {
    const { code, stdout, stderr } = get("bad");
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      [
        'Invalid tcp-shift configuration in stack "dev":',
        '  - tcp-shift:mode = "mesh": must be one of asm, istio, standalone',
        '  - tcp-shift:weightV2 = "120": must be an integer from 0 to 100',
        "",
      ].join("\n"),
    );
  });
});

describe("npm run render, in process", () => {
  installMocks("dev");

  it("is deterministic, and --set weightV2=20 changes only the VirtualService", async () => {
    const first = await renderHere(["--stack", "dev"]);
    const again = await renderHere(["--stack", "dev"]);
    expect(again.stdout).toBe(first.stdout);
    const shifted = await renderHere(["--", "--stack", "dev", "--set", "weightV2=20"]);
    expect(shifted.code).toBe(0);
    const before = objectsOf(first.stdout);
    const after = objectsOf(shifted.stdout);
    const changed = after
      .filter((doc, i) => JSON.stringify(doc) !== JSON.stringify(before[i]))
      .map((doc) => `${doc.object.kind}/${doc.object.metadata.name}`);
    expect(changed).toEqual(["VirtualService/tcp-echo"]);
    const [expected] = tutorialObjects("virtualservice-80-20.yaml");
    const actual = find(after, "VirtualService", "tcp-echo").object;
    expect(
      tutorialDifferences({ ...actual, apiVersion: expected?.apiVersion }, expected, [
        "metadata.namespace",
        // pulumi.com/patchForce: the stack's weights win over an edit in the ASM console.
        "metadata.annotations",
      ]),
    ).toEqual([]);
  });

  it("routingApi gateway-api: Istio's Gateway API sample, field by field, and no Istio routes", async () => {
    const { code, stdout } = await renderHere([
      "--stack",
      "dev",
      "--set",
      "routingApi=gateway-api",
      "--set",
      "weightV2=20",
    ]);
    expect(code).toBe(0);
    const docs = objectsOf(stdout);
    expect(docs.filter((d) => d.object.apiVersion.startsWith("networking.istio.io/"))).toEqual([]);
    const sample = [
      ...tutorialObjects("tcp-echo-all-v1.yaml", "istio-gateway-api"),
      ...tutorialObjects("tcp-echo-20-v2.yaml", "istio-gateway-api"),
    ];
    const gateway = find(docs, "Gateway", "tcp-echo-gateway");
    const [expectedGateway] = sample.filter((o) => o.kind === "Gateway");
    // asm: the Gateway binds to ASM's ingress gateway (ASM deploys none for a Gateway).
    expect(
      tutorialDifferences(gateway.object, expectedGateway, [
        "metadata.namespace",
        "spec.addresses",
      ]),
    ).toEqual([]);
    expect(gateway.cluster).toBe("mesh");
    const route = find(docs, "TCPRoute", "tcp-echo");
    const expectedRoute = sample.filter((o) => o.kind === "TCPRoute")[1];
    expect(tutorialDifferences(route.object, expectedRoute, ["metadata.namespace"])).toEqual([]);
    for (const service of sample.filter((o) => o.kind === "Service")) {
      const actual = find(docs, "Service", service.metadata.name).object;
      expect(
        tutorialDifferences(actual, service, [
          "metadata.namespace",
          "metadata.labels",
          "spec.type",
          "spec.ports[*].targetPort",
          "spec.ports[*].protocol",
        ]),
      ).toEqual([]);
    }
    for (const { object } of docs) {
      if (object.kind !== "IstioGateway") expect(validateObject(object), object.kind).toBe(true);
    }
  });

  it("quotes strings a YAML 1.1 parser (kubectl) would read as booleans or numbers", async () => {
    const { stdout } = await renderHere([
      "--stack",
      "dev",
      "--set",
      'allowedCidrs=["203.0.113.0/24"]',
    ]);
    expect(stdout).toContain(
      '    service.beta.kubernetes.io/alibaba-cloud-loadbalancer-acl-status: "on"\n',
    );
    const gateway = find(objectsOf(stdout), "IstioGateway", "tcp-echo-ingressgateway").object;
    const annotations = (gateway.spec as { serviceAnnotations: Record<string, unknown> })
      .serviceAnnotations;
    expect(annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-acl-status"]).toBe(
      "on",
    );
    const tricky = { on: "on", off: "off", yes: "yes", n: "n", time: "1:20", plain: "tcp-echo" };
    const text = stringifyYaml(tricky);
    expect(text).toBe(
      '"on": "on"\n"off": "off"\n"yes": "yes"\n"n": "n"\ntime: "1:20"\nplain: tcp-echo\n',
    );
    expect(parse(text, { version: "1.1" })).toEqual(tricky);
    expect(parse(text)).toEqual(tricky);
  });

  it("a bad command line: the problem and usage on stderr, exit 2", async () => {
    const { code, stdout, stderr } = await renderHere(["--stack", "dev", "--set", "weightV2"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^--set weightV2: expected key=value\n\nUsage: npm run render/);
    const unknown = await renderHere(["--stack", "missing"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^Cannot read stack file .*Pulumi\.missing\.yaml: no such file\n$/,
    );
  });

  it("never prints a secret value", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tcp-shift-render-"));
    writeFileSync(
      join(dir, "Pulumi.dev.yaml"),
      [
        "config:",
        "  tcp-shift:mode: standalone",
        "  tcp-shift:gatewayImage: registry.cn-hangzhou.aliyuncs.com/acme/gw:1",
        "  tcp-shift:kubeconfig:",
        `    secure: ${ENCRYPTED}`,
      ].join("\n"),
    );
    const result = await renderHere(
      [
        "--stack",
        "dev",
        "--set",
        "gatewayBuild=true",
        "--set",
        "registryUsername=builder",
        "--set",
        `registryPassword=${REGISTRY_PASSWORD}`,
      ],
      dir,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(REGISTRY_PASSWORD);
    expect(result.stdout).not.toContain(ENCRYPTED.slice(3));
    expect(result.stdout).toContain("--set registryPassword=[secret]");
    expect(result.stdout).toContain(
      "# encrypted values not decrypted (shown as [secret]): tcp-shift:kubeconfig",
    );
    expect(result.stdout).toMatch(/#\s+registries: "\[secret\]"/);
  });
});
