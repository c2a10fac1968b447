/**
 * Real engine, scenario 7 (defect D-c): the same cluster reached through a kubeconfig with other
 * text replaces nothing. The stack's access starts as config keys (`kubeconfig` set with
 * --secret, `clusterId`), the form the README gave before, so the same steps ran against the
 * program without `clusterIdentifier`; there, a new endpoint replaced the provider and with it
 * every Deployment and LoadBalancer Service.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CLUSTER_IDS } from "../../testbed/controlPlanes";
import {
  changes,
  controlPlanes,
  expectUnchanged,
  find,
  kubeconfigFor,
  type PulumiProject,
  SCENARIOS,
  type Snapshot,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.credentials;

/** The uids of the stack's workloads and Services: a replace would change them. */
async function uids(): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const [plural, apiVersion, ns, name] of [
    ["deployments", "apps/v1", namespace, `${app}-v1`],
    ["deployments", "apps/v1", namespace, `${app}-v2`],
    ["services", "v1", namespace, app],
    ["services", "v1", "istio-system", `${app}-ingress`],
  ] as const) {
    out[`${plural}/${name}`] = (await find("data", apiVersion, plural, ns, name))?.metadata.uid;
  }
  return out;
}

/** Preview steps that would create, replace or delete anything. */
function destructive(steps: Parameters<typeof changes>[0]): string[] {
  return changes(steps).filter((change) => !change.startsWith("update "));
}

describe.skipIf(skipReason())("real engine: cluster identity (credential form)", () => {
  let project: PulumiProject;
  let before: Snapshot;
  let created: Record<string, string | undefined>;

  beforeAll(async () => {
    ({ project, before } = await startScenario(
      "credentials",
      "creds",
      { mode: "istio", clb: "controller", appName: app, namespace },
      { access: {} },
    ));
    await project.config({ clusterId: LOCAL_CLUSTER_IDS.data });
    await project.config({ kubeconfig: kubeconfigFor("data") }, { secret: true });
    await project.up();
    created = await uids();
    expect(Object.values(created).every(Boolean)).toBe(true);
  });

  it("7. other context and user names with another token (a refreshed credential) replace nothing", async () => {
    await project.config(
      { kubeconfig: kubeconfigFor("data", { user: "operator", contextName: "ack-refreshed" }) },
      { secret: true },
    );
    const { steps } = await project.preview();
    expect(destructive(steps)).toEqual([]);
    await project.up();
    expect(await uids()).toEqual(created);
  });

  it("7. the same cluster through its other endpoint (as ACK's intranet and internet ones) replaces nothing", async () => {
    const server = controlPlanes().dataAlternateServer;
    await project.config(
      { kubeconfig: kubeconfigFor("data", { server, contextName: "ack-intranet" }) },
      { secret: true },
    );
    const { steps } = await project.preview();
    expect(destructive(steps)).toEqual([]);
    // At most the provider's own inputs change.
    expect(changes(steps)).toEqual(
      changes(steps).length === 0 ? [] : ["update pulumi:providers:kubernetes data-plane"],
    );
    await project.up();
    expect(await uids()).toEqual(created);
  });

  it("7. switching to the environment's access (no key in the stack file) replaces nothing", async () => {
    await project.ok(["config", "rm", "tcp-shift:kubeconfig"]);
    await project.ok(["config", "rm", "tcp-shift:clusterId"]);
    const env = {
      TCP_SHIFT_KUBECONFIG: project.writeFile("ack.kubeconfig", kubeconfigFor("data")),
      TCP_SHIFT_CLUSTER_ID: LOCAL_CLUSTER_IDS.data,
    };
    const { steps } = await project.preview([], { env });
    expect(destructive(steps)).toEqual([]);
    await project.up([], { env });
    expect(await uids()).toEqual(created);
    await project.ok(["destroy", "--yes", "--skip-preview"], { env });
    await expectUnchanged("credentials", before);
  });
});
