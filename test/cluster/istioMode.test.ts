/**
 * Real engine, istio mode (one cluster with Istio): scenario 1 (`pulumi up` from empty), 2 (the
 * tutorial's shift through `pulumi config set weightV2`), 6 (drift made in the API server) and 8
 * (`pulumi destroy` removes what the stack made and nothing else).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { KubeApiError } from "../../testbed/kubeClient";
import {
  changes,
  cluster,
  expectUnchanged,
  find,
  get,
  loadBalancerIp,
  type PulumiProject,
  recordTiming,
  SCENARIOS,
  type Snapshot,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.istio;
const ISTIO = "networking.istio.io/v1";

interface TcpRoute {
  destination: { host: string; port: { number: number }; subset: string };
  weight?: number;
}

async function routes(): Promise<TcpRoute[]> {
  const vs = await get("data", ISTIO, "virtualservices", namespace, app);
  return (vs.spec as { tcp: Array<{ route: TcpRoute[] }> }).tcp[0]?.route ?? [];
}

const destination = (subset: string) => ({
  host: app,
  port: { number: 9000 },
  subset,
});

describe.skipIf(skipReason())("real engine: istio mode", () => {
  let project: PulumiProject;
  let before: Snapshot;

  beforeAll(async () => {
    // The first project runs the CLI's TypeScript check, as a user's `pulumi up` does.
    ({ project, before } = await startScenario(
      "istio",
      "istio",
      { mode: "istio", clb: "controller", appName: app, namespace },
      { typeCheck: true },
    ));
  });

  it("1. up from empty creates every object on the one cluster; ingressHost is the CLB's", async () => {
    const up = await project.up();
    recordTiming(`istio: first up ${up.seconds.toFixed(1)} s (with the CLI's type check)`);
    for (const [apiVersion, plural, ns, name] of [
      ["apps/v1", "deployments", namespace, `${app}-v1`],
      ["apps/v1", "deployments", namespace, `${app}-v2`],
      ["v1", "services", namespace, app],
      ["v1", "services", "istio-system", `${app}-ingress`],
      [ISTIO, "gateways", namespace, `${app}-gateway`],
      [ISTIO, "virtualservices", namespace, app],
      [ISTIO, "destinationrules", namespace, `${app}-destination`],
    ] as const) {
      expect(
        await find("data", apiVersion, plural, ns, name),
        `${plural} ${ns}/${name}`,
      ).toBeDefined();
      // One cluster in istio mode: nothing of the app on the mesh API server.
      expect(await find("mesh", apiVersion, plural, ns, name)).toBeUndefined();
    }
    // The real controllers made the Deployments available (the pods are the emulator's).
    const v1 = await get("data", "apps/v1", "deployments", namespace, `${app}-v1`);
    expect((v1.status as { availableReplicas?: number }).availableReplicas).toBe(1);
    const ingress = await get("data", "v1", "services", "istio-system", `${app}-ingress`);
    const address = loadBalancerIp(ingress);
    expect(address).toMatch(/^192\.0\.2\.\d+$/);
    const outputs = await project.outputs();
    expect(outputs).toMatchObject({ ingressHost: address, ingressPort: 31400, mode: "istio" });
    expect(outputs.weights).toEqual({ v1: 100, v2: 0 });
  });

  it("1. Istio's CRD schema is what accepted them: it refuses a malformed route", async () => {
    const vs = await find("data", ISTIO, "virtualservices", namespace, app);
    const broken = {
      apiVersion: ISTIO,
      kind: "VirtualService",
      metadata: { name: `${app}-schema-check`, namespace },
      spec: {
        ...(vs?.spec as object),
        tcp: [{ route: [{ destination: { host: 7 }, weight: "x" }] }],
      },
    };
    const refused = await cluster("data")
      .create(`/apis/${ISTIO}/namespaces/${namespace}/virtualservices`, broken)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(KubeApiError);
    expect((refused as KubeApiError).status).toBe(422);
  });

  it("2. weightV2 20: the preview updates exactly the VirtualService; up routes 80/20", async () => {
    await project.config({ weightV2: "20" });
    const { steps } = await project.preview(["--diff"]);
    expect(changes(steps)).toEqual([
      `update kubernetes:networking.istio.io/v1beta1:VirtualService ${app}-routes-virtual-service`,
    ]);
    const up = await project.up();
    recordTiming(`istio: shift up ${up.seconds.toFixed(1)} s`);
    expect(await routes()).toEqual([
      { destination: destination("v1"), weight: 80 },
      { destination: destination("v2"), weight: 20 },
    ]);
  });

  it("2. then 100 (v2 alone), then 0 (the tutorial's v1-only route)", async () => {
    await project.config({ weightV2: "100" });
    await project.up();
    expect(await routes()).toEqual([{ destination: destination("v2") }]);
    await project.config({ weightV2: "0" });
    await project.up();
    expect(await routes()).toEqual([{ destination: destination("v1") }]);
    expect((await project.outputs()).weights).toEqual({ v1: 100, v2: 0 });
  });

  it("6. drift: an edit of the weights in the API server shows in preview --refresh; up --refresh restores them", async () => {
    await project.config({ weightV2: "20" });
    await project.up();
    // What an edit in the ASM console does: a full update by another field manager.
    const path = `/apis/${ISTIO}/namespaces/${namespace}/virtualservices/${app}`;
    const live = await cluster("data").get(path);
    const edited = structuredClone(live);
    const route = (edited.spec as { tcp: Array<{ route: TcpRoute[] }> }).tcp[0]?.route ?? [];
    for (const entry of route) entry.weight = 50;
    await cluster("data").request(`${path}?fieldManager=asm-console`, {
      method: "PUT",
      body: edited,
    });
    expect((await routes()).map((r) => r.weight)).toEqual([50, 50]);

    const { steps } = await project.preview(["--refresh"]);
    expect(changes(steps).filter((c) => c.startsWith("update "))).toEqual([
      `update kubernetes:networking.istio.io/v1beta1:VirtualService ${app}-routes-virtual-service`,
    ]);
    const restore = await project.up(["--refresh"]);
    recordTiming(`istio: drift restore up --refresh ${restore.seconds.toFixed(1)} s`);
    expect((await routes()).map((r) => r.weight)).toEqual([80, 20]);
    // The stack's field manager owns the route again (the edit's manager no longer does).
    const after = await cluster("data").get(`${path}?showManagedFields=true`);
    const managers = (after.metadata.managedFields ?? []).map((f) => f.manager);
    expect(managers.some((m) => m?.startsWith("pulumi-kubernetes"))).toBe(true);
  });

  it("8. destroy removes everything the stack created and nothing else", async () => {
    const destroy = await project.ok(["destroy", "--yes", "--skip-preview"]);
    recordTiming(`istio: destroy ${destroy.seconds.toFixed(1)} s`);
    expect(await project.stateResources()).toEqual([]);
    await expectUnchanged("istio", before);
  });
});
