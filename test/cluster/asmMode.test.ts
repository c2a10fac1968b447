/**
 * Real engine, asm mode across two API servers (`mesh` for the ASM control plane, `data` for the
 * ACK cluster), with the emulator standing in for ASM and the cloud controller: scenario 3 on a
 * mesh that has the default `ingressgateway` and on one that has not (D-a), the first `up` while
 * ASM creates the gateway's Service only later, a fresh stack's preview, and the bounded wait's
 * timeout (D-b); the tutorial's 0 → 20 shift as `pulumi preview --diff` prints it (kept as an
 * artifact for the README); scenario 8 for this stack.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_INGRESS_GATEWAY, seedDefaultGateway } from "../../testbed/controlPlanes";
import {
  changes,
  cluster,
  eventually,
  expectUnchanged,
  find,
  get,
  loadBalancerIp,
  PulumiProject,
  recordTiming,
  SCENARIOS,
  type Snapshot,
  saveArtifact,
  skipReason,
  snapshot,
} from "./harness";

const { app, namespace } = SCENARIOS.asm;
const ISTIO = "networking.istio.io/v1";
const ASM = "istio.alibabacloud.com/v1beta1";
const GATEWAY = `${app}-ingressgateway`;
const GATEWAY_SERVICE = `istio-${GATEWAY}`;

/** Where each object of the app lives: [cluster, apiVersion, plural, namespace, name]. */
const PLACEMENT = [
  ["data", "apps/v1", "deployments", namespace, `${app}-v1`],
  ["data", "apps/v1", "deployments", namespace, `${app}-v2`],
  ["data", "v1", "services", namespace, app],
  ["mesh", ISTIO, "gateways", namespace, `${app}-gateway`],
  ["mesh", ISTIO, "virtualservices", namespace, app],
  ["mesh", ISTIO, "destinationrules", namespace, `${app}-destination`],
  ["mesh", ASM, "istiogateways", "istio-system", GATEWAY],
] as const;

function defaultGateway() {
  return find("mesh", ASM, "istiogateways", "istio-system", "ingressgateway");
}

async function defaultGatewayServiceGone(): Promise<true | undefined> {
  return (await find("data", "v1", "services", "istio-system", "istio-ingressgateway"))
    ? undefined
    : true;
}

describe.skipIf(skipReason())("real engine: asm mode on two API servers", () => {
  let before: Snapshot;

  beforeAll(async () => {
    await seedDefaultGateway(cluster("mesh"));
    await eventually("the default gateway's Service", () =>
      find("data", "v1", "services", "istio-system", "istio-ingressgateway"),
    );
    before = await snapshot("asm");
  });

  describe("on a mesh that has the default ingressgateway", () => {
    let project: PulumiProject;
    let defaultBefore: string;

    beforeAll(async () => {
      defaultBefore = JSON.stringify(await defaultGateway());
      project = await PulumiProject.create("asm", "with-default");
      await project.config({ clb: "controller" });
    });

    it("a fresh stack's preview succeeds, the address unknown until ASM made the Service", async () => {
      const preview = await project.ok(["preview"]);
      expect(preview.stdout).toMatch(/ingressHost\s*:\s*\[unknown\]/);
    });

    it("3. the first up succeeds although ASM creates the gateway's Service only later", async () => {
      expect(await find("data", "v1", "services", "istio-system", GATEWAY_SERVICE)).toBeUndefined();
      const up = await project.up();
      recordTiming(`asm: first up ${up.seconds.toFixed(1)} s (ASM delay 4 s, CLB delay 2 s)`);
      // The bounded wait reported its progress, then the address.
      expect(up.stdout).toContain(
        `waiting for ASM (IstioGateway istio-system/${GATEWAY}) to create Service istio-system/${GATEWAY_SERVICE} in ACK cluster`,
      );
      expect(up.stdout).toMatch(
        new RegExp(`istio-system/${GATEWAY_SERVICE} has address 192\\.0\\.2\\.\\d+`),
      );
      for (const [role, apiVersion, plural, ns, name] of PLACEMENT) {
        const other = role === "data" ? "mesh" : "data";
        expect(
          await find(role, apiVersion, plural, ns, name),
          `${role} ${plural} ${name}`,
        ).toBeDefined();
        expect(
          await find(other, apiVersion, plural, ns, name),
          `${other} ${plural} ${name}`,
        ).toBeUndefined();
      }
      const service = await get("data", "v1", "services", "istio-system", GATEWAY_SERVICE);
      expect(service.metadata.annotations).toMatchObject({
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "internet",
      });
      const { ports } = service.spec as { ports: Array<{ port: number }> };
      expect(ports.map((p) => p.port)).toEqual([31400]);
      expect((await project.outputs()).ingressHost).toBe(loadBalancerIp(service));
    });

    it("D-a. the mesh's default ingressgateway is untouched: its ports are still 80 and 443", async () => {
      expect(JSON.stringify(await defaultGateway())).toBe(defaultBefore);
      const gateway = await get("mesh", ASM, "istiogateways", "istio-system", "ingressgateway");
      const { ports } = gateway.spec as { ports: Array<{ port: number }> };
      expect(ports.map((p) => p.port)).toEqual(
        DEFAULT_INGRESS_GATEWAY.spec.ports.map((p) => p.port),
      );
    });

    it("2. the tutorial's shift: preview --diff shows one update, the VirtualService; up routes 80/20", async () => {
      await project.config({ weightV2: "20" });
      const text = await project.ok(["preview", "--diff"]);
      saveArtifact(
        "asm-preview-diff-0-to-20.txt",
        `$ pulumi config set weightV2 20\n$ pulumi preview --diff\n${text.stdout}`,
      );
      const { steps } = await project.preview(["--diff"]);
      expect(changes(steps)).toEqual([
        `update kubernetes:networking.istio.io/v1beta1:VirtualService ${app}-routes-virtual-service`,
      ]);
      await project.up();
      const vs = await get("mesh", ISTIO, "virtualservices", namespace, app);
      const { tcp } = vs.spec as { tcp: Array<{ route: Array<{ weight?: number }> }> };
      expect(tcp[0]?.route.map((r) => r.weight)).toEqual([80, 20]);
    });

    it("8. destroy removes the stack's objects and leaves the default gateway exactly as it was", async () => {
      await project.ok(["destroy", "--yes", "--skip-preview"]);
      expect(JSON.stringify(await defaultGateway())).toBe(defaultBefore);
      await eventually("ASM to remove the app's gateway Service", async () =>
        (await find("data", "v1", "services", "istio-system", GATEWAY_SERVICE)) ? undefined : true,
      );
      await expectUnchanged("asm", before);
    });
  });

  describe("on a mesh without the default ingressgateway", () => {
    let project: PulumiProject;

    beforeAll(async () => {
      await cluster("mesh").delete(
        `/apis/${ASM}/namespaces/istio-system/istiogateways/ingressgateway`,
      );
      await eventually("ASM to remove the default gateway's Service", defaultGatewayServiceGone);
      project = await PulumiProject.create("asm", "without-default");
      await project.config({ clb: "controller" });
    });

    it("3. up succeeds, and nothing named ingressgateway is created", async () => {
      await project.up();
      expect(await defaultGateway()).toBeUndefined();
      expect(await find("mesh", ASM, "istiogateways", "istio-system", GATEWAY)).toBeDefined();
      expect((await project.outputs()).ingressHost).toMatch(/^192\.0\.2\.\d+$/);
      await project.ok(["destroy", "--yes", "--skip-preview"]);
      expect(await find("mesh", ASM, "istiogateways", "istio-system", GATEWAY)).toBeUndefined();
    });

    it("D-b. when ASM never creates the Service, up stops after the bound and says what to check", async () => {
      // An ACK cluster this mesh does not manage: ASM deploys the gateway nowhere.
      const lost = await PulumiProject.create("asm", "lost");
      await lost.config({
        clb: "controller",
        appName: `${app}-lost`,
        clusterId: "cnotinthismesh0",
      });
      const up = await lost.run(["up", "--yes", "--skip-preview"], {
        env: { TCP_SHIFT_SERVICE_WAIT_SECONDS: "6" },
      });
      expect(up.code).not.toBe(0);
      const output = `${up.stdout}\n${up.stderr}`;
      expect(output).toContain(
        `Service istio-system/istio-${app}-lost-ingressgateway did not appear in ACK cluster cnotinthismesh0 within 6 s`,
      );
      expect(output).toContain("the IstioGateway's clusterIds lists cnotinthismesh0");
      expect(output).not.toMatch(/unhandled exception|\n\s+at \S+ \(/);
      await lost.ok(["destroy", "--yes", "--skip-preview"]);
    });

    it("restores the default gateway for the other scenarios", async () => {
      await seedDefaultGateway(cluster("mesh"));
      await eventually("the default gateway's Service", () =>
        find("data", "v1", "services", "istio-system", "istio-ingressgateway"),
      );
    });
  });
});
