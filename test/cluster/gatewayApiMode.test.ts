/**
 * Real engine, `routingApi: gateway-api` (issue 14): the Gateway API objects instead of Istio's,
 * in asm mode (on `mesh`, bound to the app's own ASM gateway) and in istio mode (on the one
 * cluster, with the CLB annotations for the gateway Istio would deploy). `up` creates the Gateway
 * and the TCPRoute where they belong and the Gateway API CRDs' schemas accept them; a weight
 * change is one in-place update of the TCPRoute (the Gateway, its listener, is not touched); a
 * switch of `tcpRouteApiVersion` is an update too, not a replace; `destroy` removes what `up`
 * made and nothing else. In istio mode with `clb: controller` the address is that of the Service
 * Istio deploys for the Gateway (emulated, `testbed/emulator.ts`), which appears only seconds
 * after `up` declared the Gateway: a fresh stack's preview and the first `up` must not need it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { KubeApiError } from "../../testbed/kubeClient";
import {
  changes,
  cluster,
  eventually,
  expectUnchanged,
  find,
  get,
  loadBalancerIp,
  type PulumiProject,
  recordTiming,
  SCENARIOS,
  type Snapshot,
  servedVersions,
  skipReason,
  startScenario,
} from "./harness";

const { app, namespace } = SCENARIOS.gatewayApi;
const GATEWAY_API = "gateway.networking.k8s.io";
const GATEWAY_VERSION = `${GATEWAY_API}/v1`;
const V1ALPHA2 = `${GATEWAY_API}/v1alpha2`;
const TCP_ROUTES_CRD = `tcproutes.${GATEWAY_API}`;
const ISTIO = "networking.istio.io/v1";
const ASM = "istio.alibabacloud.com/v1beta1";

interface TcpRouteSpec {
  parentRefs: Array<Record<string, unknown>>;
  rules: Array<{ backendRefs: Array<Record<string, unknown>> }>;
}

/** The TCPRoute `name` as `role` serves it at `apiVersion`. */
async function tcpRoute(role: "data" | "mesh", ns: string, name: string, apiVersion = V1ALPHA2) {
  const route = await get(role, apiVersion, "tcproutes", ns, name);
  return { route, spec: route.spec as TcpRouteSpec };
}

/**
 * A backendRef as the API server stores it: the CRD defaults group, kind and weight (1, so
 * Istio's all-v1 route, sent without a weight, reads back with `weight: 1`).
 */
const backend = (name: string, weight = 1) => ({
  group: "",
  kind: "Service",
  name,
  port: 9000,
  weight,
});

/** The Gateway's one listener as stored (the CRD defaults the route kind's group and `from`). */
const LISTENER = {
  name: "tcp-31400",
  protocol: "TCP",
  port: 31400,
  allowedRoutes: {
    kinds: [{ group: GATEWAY_API, kind: "TCPRoute" }],
    namespaces: { from: "Same" },
  },
};

const TCP_ROUTE_UPDATE = (appName: string, version = "v1alpha2") =>
  `update kubernetes:${GATEWAY_API}/${version}:TCPRoute ${appName}-routes-tcp-route`;

/** Nothing of Istio's routing API for `appName`: the Gateway API objects replace it. */
async function istioObjectsOf(ns: string, appName: string): Promise<string[]> {
  const found: string[] = [];
  for (const role of ["data", "mesh"] as const) {
    for (const [plural, name] of [
      ["gateways", `${appName}-gateway`],
      ["virtualservices", appName],
      ["destinationrules", `${appName}-destination`],
    ] as const) {
      if (await find(role, ISTIO, plural, ns, name)) found.push(`${role} ${plural} ${name}`);
    }
  }
  return found;
}

describe.skipIf(skipReason())("real engine: routingApi gateway-api", () => {
  describe("asm mode: Gateway and TCPRoute on the ASM control plane", () => {
    const gatewayName = `${app}-gateway`;
    const asmGateway = `${app}-ingressgateway`;
    const asmService = `istio-${asmGateway}`;
    let project: PulumiProject;
    let before: Snapshot;

    beforeAll(async () => {
      ({ project, before } = await startScenario(
        "gatewayApi",
        "asm",
        { clb: "controller", appName: app, namespace, routingApi: "gateway-api" },
        {
          namespaces: [
            ["data", namespace],
            ["mesh", namespace],
          ],
        },
      ));
    });

    it("up creates the Gateway and the TCPRoute on mesh, bound to the app's ASM gateway", async () => {
      const up = await project.up();
      recordTiming(`gateway-api asm: first up ${up.seconds.toFixed(1)} s`);

      const gateway = await get("mesh", GATEWAY_VERSION, "gateways", namespace, gatewayName);
      expect(gateway.spec).toEqual({
        gatewayClassName: "istio",
        listeners: [LISTENER],
        addresses: [{ type: "Hostname", value: `${asmService}.istio-system.svc.cluster.local` }],
      });
      // The address is the Service "ASM" made for the IstioGateway the stack declared.
      expect(await find("mesh", ASM, "istiogateways", "istio-system", asmGateway)).toBeDefined();
      const service = await get("data", "v1", "services", "istio-system", asmService);
      expect((service.spec as { ports: Array<{ port: number }> }).ports.map((p) => p.port)).toEqual(
        [31400],
      );

      const { spec } = await tcpRoute("mesh", namespace, app);
      expect(spec).toEqual({
        parentRefs: [
          { group: GATEWAY_API, kind: "Gateway", name: gatewayName, sectionName: "tcp-31400" },
        ],
        // weightV2 0: Istio's all-v1 sample, one backend.
        rules: [{ backendRefs: [backend(`${app}-v1`)] }],
      });
      // Routing objects on mesh only; the backends (the per-version Services) on data.
      expect(
        await find("data", GATEWAY_VERSION, "gateways", namespace, gatewayName),
      ).toBeUndefined();
      expect(await find("data", V1ALPHA2, "tcproutes", namespace, app)).toBeUndefined();
      for (const version of ["v1", "v2"]) {
        const perVersion = await get("data", "v1", "services", namespace, `${app}-${version}`);
        expect((perVersion.spec as { ports: Array<{ port: number }> }).ports[0]?.port).toBe(9000);
      }
      expect(await istioObjectsOf(namespace, app)).toEqual([]);
      // Bound to ASM's gateway (spec.addresses): nothing deploys a gateway of its own for it.
      for (const role of ["data", "mesh"] as const) {
        expect(
          await find(role, "v1", "services", namespace, `${gatewayName}-istio`),
          role,
        ).toBeUndefined();
      }
      expect((await project.outputs()).ingressHost).toMatch(/^192\.0\.2\.\d+$/);
    });

    it("the Gateway API CRD schemas are what accepted them: they refuse a malformed Gateway and TCPRoute", async () => {
      const malformed = [
        {
          apiVersion: GATEWAY_VERSION,
          kind: "Gateway",
          metadata: { name: `${app}-schema-check`, namespace },
          spec: {
            gatewayClassName: "istio",
            listeners: [{ name: "tcp-31400", protocol: "TCP", port: 0 }],
          },
        },
        {
          apiVersion: V1ALPHA2,
          kind: "TCPRoute",
          metadata: { name: `${app}-schema-check`, namespace },
          spec: {
            parentRefs: [{ name: gatewayName, sectionName: "tcp-31400" }],
            rules: [{ backendRefs: [{ name: `${app}-v1`, port: 0, weight: -1 }] }],
          },
        },
      ];
      for (const object of malformed) {
        const plural = `${object.kind.toLowerCase()}s`;
        const refused = await cluster("mesh")
          .create(`/apis/${object.apiVersion}/namespaces/${namespace}/${plural}`, object)
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(refused, object.kind).toBeInstanceOf(KubeApiError);
        expect((refused as KubeApiError).status, object.kind).toBe(422);
        expect((refused as KubeApiError).message).toMatch(
          /port: Invalid value: 0: .*should be greater than or equal to 1/,
        );
      }
    });

    it("weightV2 0 → 20: preview --diff is one update, the TCPRoute; up routes 80/20 in place", async () => {
      const gatewayBefore = await get("mesh", GATEWAY_VERSION, "gateways", namespace, gatewayName);
      const { route: routeBefore } = await tcpRoute("mesh", namespace, app);

      await project.config({ weightV2: "20" });
      const { steps } = await project.preview(["--diff"]);
      expect(changes(steps)).toEqual([TCP_ROUTE_UPDATE(app)]);
      const up = await project.up();
      recordTiming(`gateway-api asm: shift up ${up.seconds.toFixed(1)} s`);

      const { route, spec } = await tcpRoute("mesh", namespace, app);
      expect(spec.rules).toEqual([
        { backendRefs: [backend(`${app}-v1`, 80), backend(`${app}-v2`, 20)] },
      ]);
      expect(route.metadata.uid).toBe(routeBefore.metadata.uid);
      // The listener is not rewritten: the Gateway was not written at all.
      const gateway = await get("mesh", GATEWAY_VERSION, "gateways", namespace, gatewayName);
      expect(gateway.metadata.resourceVersion).toBe(gatewayBefore.metadata.resourceVersion);
      expect((await project.outputs()).weights).toEqual({ v1: 80, v2: 20 });
    });

    it("tcpRouteApiVersion v1alpha2 → v1 is an update of the same TCPRoute, not a replace", async () => {
      // The testbed installs the Gateway API's experimental channel of sigs.k8s.io/gateway-api
      // v1.6.3 (testbed/crds.ts), whose TCPRoute CRD serves both versions.
      expect(await servedVersions("mesh", TCP_ROUTES_CRD)).toEqual(
        expect.arrayContaining(["v1", "v1alpha2"]),
      );
      const { route: routeBefore } = await tcpRoute("mesh", namespace, app);
      await project.config({ tcpRouteApiVersion: `${GATEWAY_API}/v1` });
      const { steps } = await project.preview(["--diff"]);
      expect(changes(steps)).toEqual([TCP_ROUTE_UPDATE(app, "v1")]);
      await project.up();
      const { route, spec } = await tcpRoute("mesh", namespace, app, `${GATEWAY_API}/v1`);
      expect(route.metadata.uid).toBe(routeBefore.metadata.uid);
      expect(spec.rules).toEqual([
        { backendRefs: [backend(`${app}-v1`, 80), backend(`${app}-v2`, 20)] },
      ]);
    });

    it("destroy removes what up created and nothing else", async () => {
      await project.ok(["destroy", "--yes", "--skip-preview"]);
      expect(await project.stateResources()).toEqual([]);
      await eventually("ASM to remove the app's gateway Service", async () =>
        (await find("data", "v1", "services", "istio-system", asmService)) ? undefined : true,
      );
      await expectUnchanged("gatewayApi", before);
    });
  });

  describe("istio mode: Gateway and TCPRoute on the one cluster, CLB annotations for Istio's gateway", () => {
    const istioApp = `${app}-istio`;
    const istioNamespace = `${namespace}-istio`;
    const gatewayName = `${istioApp}-gateway`;
    let project: PulumiProject;
    let before: Snapshot;

    beforeAll(async () => {
      // clb create (the emulated alicloud provider): the address comes from the CLB the stack
      // creates; the Service the emulated Istio controller deploys for the Gateway is bound to it.
      ({ project, before } = await startScenario(
        "gatewayApi",
        "istio",
        {
          mode: "istio",
          clb: "create",
          appName: istioApp,
          namespace: istioNamespace,
          routingApi: "gateway-api",
        },
        { namespaces: [["data", istioNamespace]] },
      ));
    });

    it("up creates both on data with the CLB's annotations for Istio's gateway; a shift updates the TCPRoute only", async () => {
      const up = await project.up();
      recordTiming(`gateway-api istio: first up ${up.seconds.toFixed(1)} s`);
      const clbId = (await project.stateResources()).find(
        (r) => r.type === "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
      )?.id;
      expect(clbId).toMatch(/^lb-testbed/);
      const gateway = await get("data", GATEWAY_VERSION, "gateways", istioNamespace, gatewayName);
      expect(gateway.spec).toEqual({
        gatewayClassName: "istio",
        listeners: [LISTENER],
        infrastructure: {
          annotations: {
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id": clbId,
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-force-override-listeners":
              "true",
          },
        },
      });
      expect((await tcpRoute("data", istioNamespace, istioApp)).spec.rules).toEqual([
        { backendRefs: [backend(`${istioApp}-v1`)] },
      ]);
      expect(await find("mesh", V1ALPHA2, "tcproutes", istioNamespace, istioApp)).toBeUndefined();
      // No dedicated ingress Service: Istio's gateway for the Gateway carries the CLB.
      expect(await find("data", "v1", "services", "istio-system", `${istioApp}-ingress`)).toBe(
        undefined,
      );
      expect(await istioObjectsOf(istioNamespace, istioApp)).toEqual([]);
      const { ingressHost } = await project.outputs();
      expect(ingressHost).toMatch(/^192\.0\.2\.\d+$/);
      // The Service Istio deploys for the Gateway is bound to the created CLB: the same address.
      const provisioned = await eventually("the address of Istio's gateway Service", async () => {
        const service = await find(
          "data",
          "v1",
          "services",
          istioNamespace,
          `${gatewayName}-istio`,
        );
        return service && loadBalancerIp(service) ? service : undefined;
      });
      expect(provisioned.metadata.annotations).toMatchObject({
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id": clbId,
      });
      expect(loadBalancerIp(provisioned)).toBe(ingressHost);

      await project.config({ weightV2: "20" });
      const { steps } = await project.preview(["--diff"]);
      expect(changes(steps)).toEqual([TCP_ROUTE_UPDATE(istioApp)]);
      await project.up();
      expect((await tcpRoute("data", istioNamespace, istioApp)).spec.rules).toEqual([
        { backendRefs: [backend(`${istioApp}-v1`, 80), backend(`${istioApp}-v2`, 20)] },
      ]);
    });

    it("destroy removes what up created and nothing else", async () => {
      await project.ok(["destroy", "--yes", "--skip-preview"]);
      expect(await project.stateResources()).toEqual([]);
      await eventually("Istio to remove the gateway's Service", async () =>
        (await find("data", "v1", "services", istioNamespace, `${gatewayName}-istio`))
          ? undefined
          : true,
      );
      await expectUnchanged("gatewayApi", before);
    });
  });

  describe("istio mode, clb controller: the address of the Service Istio deploys for the Gateway", () => {
    const ctlApp = `${app}-ctl`;
    const ctlNamespace = `${namespace}-ctl`;
    const gatewayName = `${ctlApp}-gateway`;
    const serviceName = `${gatewayName}-istio`;
    let project: PulumiProject;
    let before: Snapshot;

    beforeAll(async () => {
      ({ project, before } = await startScenario(
        "gatewayApi",
        "istio-controller",
        {
          mode: "istio",
          clb: "controller",
          appName: ctlApp,
          namespace: ctlNamespace,
          routingApi: "gateway-api",
        },
        { namespaces: [["data", ctlNamespace]] },
      ));
    });

    it("a fresh stack's preview succeeds, the address unknown until Istio made the Service", async () => {
      const preview = await project.ok(["preview"]);
      expect(preview.stdout).toMatch(/ingressHost\s*:\s*\[unknown\]/);
      expect(await find("data", "v1", "services", ctlNamespace, serviceName)).toBeUndefined();
    });

    it("the first up succeeds although Istio creates the Service only later; ingressHost is its address", async () => {
      const up = await project.up();
      recordTiming(`gateway-api istio controller: first up ${up.seconds.toFixed(1)} s`);
      // The bounded wait reported its progress, then the address.
      expect(up.stdout).toContain(
        `to create Service ${ctlNamespace}/${serviceName} in the data-plane cluster`,
      );
      expect(up.stdout).toMatch(
        new RegExp(`${ctlNamespace}/${serviceName} has address 192\\.0\\.2\\.\\d+`),
      );
      const gateway = await get("data", GATEWAY_VERSION, "gateways", ctlNamespace, gatewayName);
      const service = await get("data", "v1", "services", ctlNamespace, serviceName);
      // Made by the controller after the Gateway, not by the stack.
      expect(Date.parse(service.metadata.creationTimestamp as string)).toBeGreaterThan(
        Date.parse(gateway.metadata.creationTimestamp as string),
      );
      expect((await project.stateResources()).map((r) => r.id)).not.toContain(
        `${ctlNamespace}/${serviceName}`,
      );
      expect(service.spec).toMatchObject({ type: "LoadBalancer" });
      expect((service.spec as { ports: Array<{ port: number }> }).ports.map((p) => p.port)).toEqual(
        [15021, 31400],
      );
      expect(service.metadata.annotations).toMatchObject({
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "internet",
      });
      expect((await project.outputs()).ingressHost).toBe(loadBalancerIp(service));
    });

    it("a second preview changes nothing", async () => {
      const { steps } = await project.preview();
      expect(changes(steps)).toEqual([]);
    });

    it("destroy removes what up created and nothing else", async () => {
      await project.ok(["destroy", "--yes", "--skip-preview"]);
      expect(await project.stateResources()).toEqual([]);
      await eventually("Istio to remove the gateway's Service", async () =>
        (await find("data", "v1", "services", ctlNamespace, serviceName)) ? undefined : true,
      );
      await expectUnchanged("gatewayApi", before);
    });
  });
});
