/**
 * Real engine, standalone mode (the bundled gateway, no mesh): scenario 4. A weight change is one
 * ConfigMap update; the gateway's Deployment is not rolled (same generation, same ReplicaSet,
 * same pods), so open connections are never touched by a restart. Scenario 8 for this stack.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  changes,
  deploymentRollout,
  expectUnchanged,
  gatewayRouteFile,
  type PulumiProject,
  SCENARIOS,
  type Snapshot,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.standalone;
const GATEWAY = `${app}-gateway`;

describe.skipIf(skipReason())("real engine: standalone mode", () => {
  let project: PulumiProject;
  let before: Snapshot;

  beforeAll(async () => {
    ({ project, before } = await startScenario("standalone", "standalone", {
      mode: "standalone",
      clb: "controller",
      appName: app,
      namespace,
      gatewayImage: "registry.example.com/tcp-shift/gateway:0.1.0",
    }));
    await project.up();
  });

  it("4. a weight change is one ConfigMap update; the gateway Deployment is not rolled", async () => {
    const rollout = await deploymentRollout(namespace, GATEWAY);
    expect(rollout.generation).toBe(1);
    expect(rollout.replicaSets).toHaveLength(1);
    expect(rollout.pods).toHaveLength(1);

    await project.config({ weightV2: "20" });
    const { steps } = await project.preview();
    expect(changes(steps)).toEqual([`update kubernetes:core/v1:ConfigMap ${GATEWAY}-routes`]);
    await project.up();
    const file = await gatewayRouteFile(namespace, `${app}-routes`);
    expect(file.listeners[0]?.routes.map((r) => r.weight)).toEqual([80, 20]);
    expect(await deploymentRollout(namespace, GATEWAY)).toEqual(rollout);
    expect((await project.outputs()).ingressHost).toMatch(/^192\.0\.2\.\d+$/);
  });

  it("8. destroy removes everything the stack created and nothing else", async () => {
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    await expectUnchanged("standalone", before);
  });
});
