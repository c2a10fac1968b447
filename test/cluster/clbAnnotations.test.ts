/**
 * Real engine with the emulated alicloud provider (testbed/alicloudEmulator.ts), defect D-d: the
 * CLB annotations are one Output per key, so a fresh stack's preview shows every annotation it
 * can know (`force-override-listeners`, the ACL's status and type) and only the ids of resources
 * not created yet as unknown; before, the whole map was one unknown. Then `up` binds the ingress
 * Service to the created CLB, and a CLB with delete protection (as prod's) stops `destroy` until
 * the protection is turned off.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  expectUnchanged,
  get,
  loadBalancerIp,
  type PulumiProject,
  SCENARIOS,
  type Snapshot,
  skipReason,
  startScenario,
  UNKNOWN,
} from "./harness";

const { app, namespace } = SCENARIOS.annotations;
const PREFIX = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";
const ALB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer";

describe.skipIf(skipReason())("real engine: CLB annotations (emulated alicloud provider)", () => {
  let project: PulumiProject;
  let before: Snapshot;

  beforeAll(async () => {
    ({ project, before } = await startScenario("annotations", "clb", {
      mode: "istio",
      clb: "create",
      appName: app,
      namespace,
    }));
    // As the README sets a list: Pulumi.yaml declares allowedCidrs an array.
    await project.ok(["config", "set", "--path", "tcp-shift:allowedCidrs[0]", "203.0.113.0/24"]);
  });

  it("D-d. a fresh stack's preview knows every annotation but the ids of what is not created yet", async () => {
    const { steps } = await project.preview();
    const service = steps.find(
      (step) =>
        step.type === "kubernetes:core/v1:Service" && step.name === `${app}-ingress-service`,
    );
    const metadata = service?.newState?.inputs?.metadata as { annotations?: unknown };
    expect(metadata.annotations).toEqual({
      [`${PREFIX}id`]: UNKNOWN,
      [`${PREFIX}force-override-listeners`]: "true",
      [`${PREFIX}acl-status`]: "on",
      [`${PREFIX}acl-id`]: UNKNOWN,
      [`${PREFIX}acl-type`]: "white",
    });
  });

  it("up binds the ingress Service to the created CLB; ingressHost is the CLB's address", async () => {
    await project.up();
    const resources = await project.stateResources();
    const clbId = resources.find((r) => r.type === ALB)?.id;
    expect(clbId).toMatch(/^lb-testbed/);
    const service = await get("data", "v1", "services", "istio-system", `${app}-ingress`);
    expect(service.metadata.annotations?.[`${PREFIX}id`]).toBe(clbId);
    expect(service.metadata.annotations?.[`${PREFIX}acl-id`]).toMatch(/^acl-testbed/);
    expect((await project.outputs()).ingressHost).toBe(loadBalancerIp(service));
  });

  it("a CLB with delete protection stops destroy until the protection is turned off", async () => {
    await project.config({ clbDeleteProtection: "true" });
    await project.up();
    const refused = await project.run(["destroy", "--yes", "--skip-preview"]);
    expect(refused.code).not.toBe(0);
    expect(`${refused.stdout}${refused.stderr}`).toContain("OperationDenied.DeleteProtection");
    expect((await project.stateResources()).some((r) => r.type === ALB)).toBe(true);
    await project.config({ clbDeleteProtection: "false" });
    await project.up();
    await project.ok(["destroy", "--yes", "--skip-preview"]);
    expect(await project.stateResources()).toEqual([]);
    await expectUnchanged("annotations", before);
  });
});
