/**
 * Real engine, `npm run shift -- --stack` (issue 12): the shift command, as a child process,
 * drives a real stack through the real Automation API (`pulumi config set tcp-shift:weightV2 W`,
 * then `pulumi up`, against the local control planes) from 0 to 100 in three steps, and its gates
 * judge real connections.
 *
 * The stack runs standalone mode, whose ingress is an emulated CLB address (192.0.2.x, TEST-NET-1):
 * nothing answers there, and the emulator's kubelet runs no container. So the data plane runs
 * here, on loopback: the real bundled gateway (dataplane/, a child process watching a route file)
 * in front of two real tcp-echo servers. The route file comes from the stack: a watch on the data
 * API server copies the stack's route ConfigMap (`<app>-routes`, `routes.json`) into it whenever
 * `up` changes it, with the in-cluster endpoints (`<app>-v1.<ns>.svc.cluster.local:9000`)
 * rewritten to the local echo servers' addresses. That watch stands in for the kubelet's
 * ConfigMap sync (which swaps the mounted file in a real pod): the shift knows nothing of it and
 * must see each new weight in force by its own probe connections, as it would behind a CLB.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEchoServer, type EchoServer } from "../../dataplane/echo/echoServer";
import type { KubeObject } from "../../testbed/kubeClient";
import { writeFileAtomically } from "../../tools/shift/weightTarget";
import { startGatewayProgram } from "../tools/shift/shiftHarness";
import {
  cluster,
  expectUnchanged,
  gatewayRouteFile,
  type PulumiProject,
  recordTiming,
  SCENARIOS,
  type Snapshot,
  saveArtifact,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.progressive;
const STACK = "steps";
const ROUTES = `${app}-routes`;
/** The repository: the shift tool is this checkout's, run against the scenario's project copy. */
const ROOT = resolve(__dirname, "..", "..");

/** The ConfigMap's route file for loopback: local listen address, local echo servers. */
function loopbackRouteFile(text: string, endpoints: Record<string, string>): string {
  const file = JSON.parse(text) as {
    listeners: Array<{ listen: string; routes: Array<{ endpoints: string[] }> }>;
  };
  for (const listener of file.listeners) {
    // Port 0 once and for all: the gateway keeps a listener whose name and listen are unchanged.
    listener.listen = "127.0.0.1:0";
    for (const route of listener.routes) {
      route.endpoints = route.endpoints.map((endpoint) => {
        const local = endpoints[endpoint];
        if (!local) throw new Error(`route file endpoint ${endpoint} is not a version of ${app}`);
        return local;
      });
    }
  }
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * The kubelet's ConfigMap sync, stood in for: watch the route ConfigMap in `data` and write each
 * version of it to `routeFile` (atomically, as the kubelet's symlink swap), for loopback.
 */
function syncRouteConfigMap(routeFile: string, endpoints: Record<string, string>) {
  const errors: string[] = [];
  let first: () => void = () => {};
  const synced = new Promise<void>((resolve) => {
    first = resolve;
  });
  let last = "";
  const stop = cluster("data").informer(
    `/api/v1/namespaces/${namespace}/configmaps?fieldSelector=metadata.name%3D${ROUTES}`,
    ({ type, object }: { type: string; object: KubeObject }) => {
      const text = (object.data as Record<string, string> | undefined)?.["routes.json"];
      if (type === "DELETED" || text === undefined || text === last) return;
      try {
        writeFileAtomically(routeFile, loopbackRouteFile(text, endpoints));
        last = text;
        first();
      } catch (error) {
        errors.push((error as Error).message);
      }
    },
    { onError: (error) => errors.push(String(error)) },
  );
  return { stop, synced, errors };
}

/** A tcp-echo server on loopback answering with `prefix`; resolves with its address. */
async function echo(prefix: string): Promise<{ server: EchoServer; address: string }> {
  const server = createEchoServer({ ports: [0], prefix, host: "127.0.0.1" });
  const [bound] = await server.listen();
  return { server, address: `127.0.0.1:${bound?.port}` };
}

interface HistoryEntry {
  kind: string;
  result: string;
  config?: Record<string, { value?: string } | string>;
  environment?: Record<string, string>;
}

describe.skipIf(skipReason())("real engine: npm run shift --stack (Automation API)", () => {
  let project: PulumiProject;
  let before: Snapshot;
  const cleanups: Array<() => unknown> = [];
  let gatewayPort: number;
  let sync: ReturnType<typeof syncRouteConfigMap>;

  beforeAll(async () => {
    ({ project, before } = await startScenario("progressive", STACK, {
      mode: "standalone",
      clb: "controller",
      appName: app,
      namespace,
      gatewayImage: "registry.example.com/tcp-shift/gateway:0.1.0",
    }));
    await project.up();

    const v1 = await echo("one");
    const v2 = await echo("two");
    cleanups.push(
      () => v1.server.close(0),
      () => v2.server.close(0),
    );
    const routeFile = join(project.dir, "routes.json");
    sync = syncRouteConfigMap(routeFile, {
      [`${app}-v1.${namespace}.svc.cluster.local:9000`]: v1.address,
      [`${app}-v2.${namespace}.svc.cluster.local:9000`]: v2.address,
    });
    cleanups.push(sync.stop);
    await sync.synced;
    const gateway = await startGatewayProgram(routeFile);
    cleanups.push(gateway.stop);
    gatewayPort = gateway.port;
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("shifts a real stack 0 → 30 → 60 → 100 through the Automation API, gated on real connections", async () => {
    const report = join(project.dir, "shift.md");
    const shift = await project.exec(
      process.execPath,
      [
        "--import",
        "tsx",
        "tools/shift/shiftMain.ts",
        "--stack",
        STACK,
        "--work-dir",
        project.dir,
        "--host",
        "127.0.0.1",
        "--port",
        String(gatewayPort),
        "--steps",
        "30,60,100",
        // A healthy v2: keep a spurious rollback on a loaded CI machine below one in a thousand.
        "--false-alarm",
        "0.1",
        "--interval",
        "2s",
        "--rate",
        "200",
        "--apply-timeout",
        "30s",
        "--report",
        report,
        "--json",
      ],
      { cwd: ROOT, timeoutMs: 240_000 },
    );
    recordTiming(`shift: 3 steps through the Automation API ${shift.seconds.toFixed(1)} s`);
    saveArtifact("shift-stack-output.txt", `${shift.stderr}\n${shift.stdout}`);
    expect(shift.code, `${shift.stdout}\n${shift.stderr}`).toBe(0);
    expect(sync.errors).toEqual([]);

    const result = JSON.parse(shift.stdout);
    expect(result).toMatchObject({ result: "promoted", finalWeight: 100, lastGoodWeight: 100 });
    const steps = result.records.filter((r: { kind: string }) => r.kind === "step");
    expect(steps.map((r: { weight: number }) => r.weight)).toEqual([30, 60, 100]);
    for (const step of steps) {
      // In force by the probe's own connections through the gateway, after the synced ConfigMap.
      expect(step.inForce).toMatchObject({ inForce: true, how: "verify" });
      expect(step.window.answered.v2).toBeGreaterThan(0);
    }
    expect(steps.at(-1)).toMatchObject({ verdict: "pass", window: { answered: { v1: 0 } } });
    // pulumi up's own output, forwarded by the shift.
    expect(shift.stderr).toContain(`Updating (${STACK})`);

    // Three updates by the Automation API after the test's own first `up`, newest first.
    const history = JSON.parse((await project.ok(["stack", "history", "--json"])).stdout) as
      | HistoryEntry[]
      | null;
    const updates = (history ?? []).filter((entry) => entry.kind === "update");
    expect(updates.map((entry) => entry.result)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    const weightOf = (entry: HistoryEntry) => {
      const value = entry.config?.["tcp-shift:weightV2"];
      return typeof value === "string" ? value : value?.value;
    };
    expect(updates.slice(0, 3).map(weightOf)).toEqual(["100", "60", "30"]);
    expect(updates.slice(0, 3).map((entry) => entry.environment?.["exec.kind"])).toEqual([
      "auto.local",
      "auto.local",
      "auto.local",
    ]);
    // The test's own first `up` was the CLI's.
    expect(updates[3]?.environment?.["exec.kind"]).not.toBe("auto.local");

    expect((await gatewayRouteFile(namespace, ROUTES)).listeners[0]?.routes).toEqual([
      expect.objectContaining({ name: "v1", weight: 0 }),
      expect.objectContaining({ name: "v2", weight: 100 }),
    ]);
    expect((await project.outputs()).weights).toEqual({ v1: 0, v2: 100 });
    const markdown = readFileSync(report, "utf8");
    saveArtifact("shift-stack-report.md", markdown);
    expect(markdown).toContain("## tcp-shift: promoted (weight 100 now)");
    expect(markdown).toContain(`Pulumi stack ${STACK} (Automation API)`);
  });

  it("destroy removes everything the stack created and nothing else", async () => {
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    expect(await project.stateResources()).toEqual([]);
    await expectUnchanged("progressive", before);
  });
});
