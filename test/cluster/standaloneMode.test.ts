/**
 * Real engine, standalone mode (the bundled gateway, no mesh): scenario 4. A weight change is one
 * ConfigMap update; the gateway's Deployment is not rolled (same generation, same ReplicaSet,
 * same pods), so open connections are never touched by a restart. Scenario 8 for this stack.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../testbed/kubeClient";
import {
  changes,
  cluster,
  ensureNamespace,
  find,
  get,
  PulumiProject,
  SCENARIOS,
  type Snapshot,
  skipReason,
  snapshot,
  snapshotDifference,
} from "./harness";

const { app, namespace } = SCENARIOS.standalone;
const GATEWAY = `${app}-gateway`;

/** The gateway's Deployment generation, its ReplicaSets and its pods' uids. */
async function gatewayRollout() {
  const deployment = await find("data", "apps/v1", "deployments", namespace, GATEWAY);
  const owned = (items: KubeObject[], kind: string, owner: string | undefined) =>
    items.filter((item) =>
      (
        (item.metadata.ownerReferences as Array<{ kind: string; uid: string }> | undefined) ?? []
      ).some((ref) => ref.kind === kind && ref.uid === owner),
    );
  const replicaSets = owned(
    (await cluster("data").list(`/apis/apps/v1/namespaces/${namespace}/replicasets`)).items,
    "Deployment",
    deployment?.metadata.uid,
  );
  const pods = (await cluster("data").list(`/api/v1/namespaces/${namespace}/pods`)).items.filter(
    (pod) => replicaSets.some((rs) => owned([pod], "ReplicaSet", rs.metadata.uid).length > 0),
  );
  return {
    generation: deployment?.metadata.generation,
    replicaSets: replicaSets.map((rs) => rs.metadata.name).sort(),
    pods: pods.map((pod) => pod.metadata.uid).sort(),
  };
}

async function routeFile(): Promise<{ listeners: Array<{ routes: Array<{ weight: number }> }> }> {
  const configMap = await get("data", "v1", "configmaps", namespace, `${app}-routes`);
  return JSON.parse((configMap.data as Record<string, string>)["routes.json"] ?? "{}");
}

describe.skipIf(skipReason())("real engine: standalone mode", () => {
  let project: PulumiProject;
  let before: Snapshot;

  beforeAll(async () => {
    await ensureNamespace("data", namespace);
    before = await snapshot("standalone");
    project = await PulumiProject.create("standalone", "standalone");
    await project.config({
      mode: "standalone",
      clb: "controller",
      appName: app,
      namespace,
      gatewayImage: "registry.example.com/tcp-shift/gateway:0.1.0",
    });
    await project.up();
  });

  it("4. a weight change is one ConfigMap update; the gateway Deployment is not rolled", async () => {
    const rollout = await gatewayRollout();
    expect(rollout.generation).toBe(1);
    expect(rollout.replicaSets).toHaveLength(1);
    expect(rollout.pods).toHaveLength(1);

    await project.config({ weightV2: "20" });
    const { steps } = await project.preview();
    expect(changes(steps)).toEqual([`update kubernetes:core/v1:ConfigMap ${GATEWAY}-routes`]);
    await project.up();
    const weights = (await routeFile()).listeners[0]?.routes.map((r) => r.weight);
    expect(weights).toEqual([80, 20]);
    expect(await gatewayRollout()).toEqual(rollout);
    expect((await project.outputs()).ingressHost).toMatch(/^192\.0\.2\.\d+$/);
  });

  it("8. destroy removes everything the stack created and nothing else", async () => {
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    expect(snapshotDifference(before, await snapshot("standalone"))).toEqual({
      added: [],
      removed: [],
      changed: [],
    });
  });
});
