/**
 * Real engine, `splitter: gateway` (issue 11) in istio mode: the mesh's route sends the ingress
 * port to the bundled gateway's ClusterIP Service, fixed, and the gateway splits by the weights of
 * its ConfigMap. A weight change is then one in-place ConfigMap update: the preview shows that
 * resource alone, the gateway's Deployment is not rolled (same generation, ReplicaSet and pods),
 * and the VirtualService is not written at all, so no Envoy listener would be rewritten. The
 * emulator's kubelet reports the gateway's pods Ready without pulling the image.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  changes,
  deploymentRollout,
  expectUnchanged,
  find,
  gatewayRouteFile,
  get,
  type PulumiProject,
  recordTiming,
  SCENARIOS,
  type Snapshot,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.splitter;
const ISTIO = "networking.istio.io/v1";
const GATEWAY = `${app}-gateway`;
const ROUTES = `${app}-routes`;

/** The route to the splitter: the ingress port to the gateway's Service, one destination. */
const SPLITTER_ROUTE = {
  hosts: ["*"],
  gateways: [`${app}-gateway`],
  tcp: [
    {
      match: [{ port: 31400 }],
      route: [{ destination: { host: GATEWAY, port: { number: 31400 } } }],
    },
  ],
};

async function routeWeights(): Promise<Record<string, number>> {
  const file = await gatewayRouteFile(namespace, ROUTES);
  return Object.fromEntries(
    (file.listeners[0]?.routes ?? []).map((route) => [route.name, route.weight]),
  );
}

describe.skipIf(skipReason())("real engine: splitter gateway (istio mode)", () => {
  let project: PulumiProject;
  let before: Snapshot;

  beforeAll(async () => {
    ({ project, before } = await startScenario("splitter", "splitter", {
      mode: "istio",
      clb: "controller",
      appName: app,
      namespace,
      splitter: "gateway",
      gatewayImage: "registry.example.com/tcp-shift/gateway:0.1.0",
    }));
  });

  it("up: the VirtualService routes the ingress port to the bundled gateway's ClusterIP Service", async () => {
    const up = await project.up();
    recordTiming(`splitter: first up ${up.seconds.toFixed(1)} s`);
    const vs = await get("data", ISTIO, "virtualservices", namespace, app);
    expect(vs.spec).toEqual(SPLITTER_ROUTE);
    const service = await get("data", "v1", "services", namespace, GATEWAY);
    expect(service.spec).toMatchObject({
      type: "ClusterIP",
      selector: { app: GATEWAY },
      ports: [expect.objectContaining({ port: 31400 })],
    });
    // Its pods are the gateway Deployment's, and they run (the route waited for them).
    const deployment = await get("data", "apps/v1", "deployments", namespace, GATEWAY);
    expect((deployment.status as { readyReplicas?: number }).readyReplicas).toBe(1);
    // Nothing routes by subset: no subsets' DestinationRule.
    expect(await find("data", ISTIO, "destinationrules", namespace, `${app}-destination`)).toBe(
      undefined,
    );
    // The gateway splits between the per-version Services: all on v1 at weightV2 0.
    expect(await routeWeights()).toEqual({ v1: 100, v2: 0 });
    const file = await gatewayRouteFile(namespace, ROUTES);
    expect(file.listeners[0]?.routes.map((route) => route.endpoints)).toEqual([
      [`${app}-v1.${namespace}.svc.cluster.local:9000`],
      [`${app}-v2.${namespace}.svc.cluster.local:9000`],
    ]);
    expect((await project.outputs()).ingressHost).toMatch(/^192\.0\.2\.\d+$/);
  });

  it("weightV2 0 → 20: preview --diff is one update, the route ConfigMap; up rolls nothing and leaves the VirtualService alone", async () => {
    const rollout = await deploymentRollout(namespace, GATEWAY);
    expect(rollout.generation).toBe(1);
    expect(rollout.replicaSets).toHaveLength(1);
    expect(rollout.pods).toHaveLength(1);
    const vsBefore = await get("data", ISTIO, "virtualservices", namespace, app);

    await project.config({ weightV2: "20" });
    const { steps } = await project.preview(["--diff"]);
    expect(changes(steps)).toEqual([`update kubernetes:core/v1:ConfigMap ${GATEWAY}-routes`]);
    const up = await project.up();
    recordTiming(`splitter: shift up ${up.seconds.toFixed(1)} s`);

    expect(await routeWeights()).toEqual({ v1: 80, v2: 20 });
    expect(await deploymentRollout(namespace, GATEWAY)).toEqual(rollout);
    const vs = await get("data", ISTIO, "virtualservices", namespace, app);
    expect(vs.metadata.resourceVersion).toBe(vsBefore.metadata.resourceVersion);
    expect(vs.spec).toEqual(SPLITTER_ROUTE);
  });

  it("destroy removes everything the stack created and nothing else", async () => {
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    expect(await project.stateResources()).toEqual([]);
    await expectUnchanged("splitter", before);
  });
});
