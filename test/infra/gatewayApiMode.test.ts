/**
 * routingApi gateway-api: the Gateway API variant of Istio's TCP traffic shifting task
 * (`samples/tcp-echo/gateway-api/`, test/fixtures/istio-gateway-api/), field by field.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CLB_ANNOTATIONS,
  DATA_PLANE_PROVIDER_NAME,
  MESH_PROVIDER_NAME,
} from "../../infra/constants";
import type { ProgramRun } from "../../tools/render/renderProgram";
import {
  ASM_ACCESS,
  declaredNames,
  declaredObjects,
  findObject,
  type KubeObject,
  resourcesOfType,
  runWith,
  tutorialDifferences,
  tutorialObjects,
  useProgramMocks,
  validateObject,
  withRegistrations,
} from "./programHarness";

useProgramMocks();

const SAMPLE = "istio-gateway-api";
const ALL_V1 = tutorialObjects("tcp-echo-all-v1.yaml", SAMPLE);
const [ROUTE_80_20] = tutorialObjects("tcp-echo-20-v2.yaml", SAMPLE);

function sampleObject(kind: string, name: string): KubeObject {
  const found = ALL_V1.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} not in the sample`);
  return found;
}

/** The per-version Services are the sample's, made explicit (type, targetPort, protocol, labels). */
const VERSION_SERVICE_ADDITIONS = [
  "metadata.namespace",
  "metadata.labels",
  "spec.type",
  "spec.ports[*].targetPort",
  "spec.ports[*].protocol",
] as const;

describe("routingApi gateway-api, asm mode, weightV2 0", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runWith({ ...ASM_ACCESS, routingApi: "gateway-api" });
  });

  it("declares a Gateway and a TCPRoute instead of Istio's routing objects", () => {
    expect(declaredNames(run)).toEqual([
      "Deployment/tcp-echo-v1",
      "Deployment/tcp-echo-v2",
      "Gateway/tcp-echo-gateway",
      "IstioGateway/tcp-echo-ingressgateway",
      "NetworkPolicy/tcp-echo",
      "Service/tcp-echo",
      "Service/tcp-echo-v1",
      "Service/tcp-echo-v2",
      "TCPRoute/tcp-echo",
    ]);
    const istio = declaredObjects(run).filter((d) =>
      d.object.apiVersion.startsWith("networking.istio.io/"),
    );
    expect(istio).toEqual([]);
    for (const { object } of declaredObjects(run)) {
      if (object.kind !== "IstioGateway") expect(validateObject(object), object.kind).toBe(true);
    }
  });

  it("the Gateway is the sample's, bound to ASM's ingress gateway; the TCPRoute is the all-v1 one", () => {
    const gateway = findObject(run, "Gateway", "tcp-echo-gateway");
    expect(gateway.provider).toBe(MESH_PROVIDER_NAME);
    expect(
      tutorialDifferences(gateway.object, sampleObject("Gateway", "tcp-echo-gateway"), [
        "metadata.namespace",
        "spec.addresses",
      ]),
    ).toEqual([]);
    // ASM deploys no gateway for a Gateway: it must name the Service of an existing one.
    expect((gateway.object.spec as { addresses: unknown }).addresses).toEqual([
      { type: "Hostname", value: "istio-tcp-echo-ingressgateway.istio-system.svc.cluster.local" },
    ]);
    const route = findObject(run, "TCPRoute", "tcp-echo");
    expect(route.provider).toBe(MESH_PROVIDER_NAME);
    expect(
      tutorialDifferences(route.object, sampleObject("TCPRoute", "tcp-echo"), [
        "metadata.namespace",
      ]),
    ).toEqual([]);
  });

  it("the per-version Services are the sample's, on the data plane", () => {
    for (const version of ["v1", "v2"]) {
      const service = findObject(run, "Service", `tcp-echo-${version}`);
      expect(service.provider).toBe(DATA_PLANE_PROVIDER_NAME);
      expect(
        tutorialDifferences(
          service.object,
          sampleObject("Service", `tcp-echo-${version}`),
          VERSION_SERVICE_ADDITIONS,
        ),
      ).toEqual([]);
    }
  });

  it("keeps ASM's IstioGateway (the CLB) and groups the routes in a GatewayApiRoutes component", () => {
    const components = run.resources.filter((r) => !r.custom).map((c) => `${c.type} ${c.name}`);
    expect(components.sort()).toEqual([
      "tcp-shift:app:EchoApp tcp-echo",
      "tcp-shift:cloud:Clb tcp-echo-clb",
      "tcp-shift:ingress:AsmIngress tcp-echo-ingress",
      "tcp-shift:mesh:GatewayApiRoutes tcp-echo-routes",
    ]);
    const asm = findObject(run, "IstioGateway", "tcp-echo-ingressgateway").object;
    expect((asm.spec as { serviceAnnotations: unknown }).serviceAnnotations).toEqual({
      [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
    });
  });
});

describe("routingApi gateway-api, weights", () => {
  it("weightV2 20 gives exactly the sample's 80/20 TCPRoute", async () => {
    const run = await runWith({ ...ASM_ACCESS, routingApi: "gateway-api", weightV2: "20" });
    const route = findObject(run, "TCPRoute", "tcp-echo").object;
    expect(tutorialDifferences(route, ROUTE_80_20, ["metadata.namespace"])).toEqual([]);
    expect(run.outputs.weights).toEqual({ v1: 80, v2: 20 });
  });

  it("weightV2 100 routes to v2 alone, without a weight", async () => {
    const run = await runWith({ ...ASM_ACCESS, routingApi: "gateway-api", weightV2: "100" });
    const route = findObject(run, "TCPRoute", "tcp-echo").object;
    expect((route.spec as { rules: unknown }).rules).toEqual([
      { backendRefs: [{ name: "tcp-echo-v2", port: 9000 }] },
    ]);
  });
});

describe("routingApi gateway-api, istio mode", () => {
  it("Istio deploys the gateway: the CLB annotations go to spec.infrastructure, no ingress Service", async () => {
    const run = await runWith({ mode: "istio", routingApi: "gateway-api", weightV2: "20" });
    expect(declaredNames(run)).toEqual([
      "Deployment/tcp-echo-v1",
      "Deployment/tcp-echo-v2",
      "Gateway/tcp-echo-gateway",
      "NetworkPolicy/tcp-echo",
      "Service/tcp-echo",
      "Service/tcp-echo-v1",
      "Service/tcp-echo-v2",
      "TCPRoute/tcp-echo",
    ]);
    const gateway = findObject(run, "Gateway", "tcp-echo-gateway").object;
    expect(
      tutorialDifferences(gateway, sampleObject("Gateway", "tcp-echo-gateway"), [
        "metadata.namespace",
        "spec.infrastructure",
      ]),
    ).toEqual([]);
    expect((gateway.spec as { infrastructure: unknown }).infrastructure).toEqual({
      annotations: {
        [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
        [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
      },
    });
    expect(validateObject(gateway)).toBe(true);
    // The created CLB's address is known: nothing to read.
    expect(run.outputs.ingressHost).toBe("(CLB address, known after up)");
    expect(run.resources.filter((r) => r.readId !== undefined)).toEqual([]);
  });

  it("clb controller: the address is the waited read of the Service Istio creates, not a Service.get", async () => {
    const run = await runWith(
      {
        mode: "istio",
        routingApi: "gateway-api",
        gatewayClassName: "istio-tcp",
        clb: "controller",
      },
      [],
      { serviceReading: { found: true, address: "198.51.100.7" } },
    );
    // Service.get ignores dependsOn (pulumi/pulumi#16395): no object is read through the provider.
    expect(run.resources.filter((r) => r.readId !== undefined)).toEqual([]);
    expect(resourcesOfType(run, "kubernetes:core/v1:Service").map((r) => r.name)).not.toContain(
      "tcp-echo-routes-service",
    );
    const gateway = findObject(run, "Gateway", "tcp-echo-gateway").object;
    expect(gateway.spec).toMatchObject({
      gatewayClassName: "istio-tcp",
      infrastructure: { annotations: { [CLB_ANNOTATIONS.addressType]: "internet" } },
    });
    // What the data plane answered for the Service.
    expect(run.outputs.ingressHost).toBe("198.51.100.7");
  });
});

describe("tcpRouteApiVersion", () => {
  it("picks the TCPRoute's version; a switch is an alias (an update), not a new resource", async () => {
    const urnOf = (version: string) =>
      `urn:pulumi:dev::tcp-shift::tcp-shift:mesh:GatewayApiRoutes$kubernetes:gateway.networking.k8s.io/${version}:TCPRoute::tcp-echo-routes-tcp-route`;
    for (const [version, other] of [
      ["v1", "v1alpha2"],
      ["v1alpha2", "v1"],
    ] as const) {
      const { result: run, registrations } = await withRegistrations(() =>
        runWith({
          ...ASM_ACCESS,
          routingApi: "gateway-api",
          tcpRouteApiVersion: `gateway.networking.k8s.io/${version}`,
        }),
      );
      expect(
        resourcesOfType(run, `kubernetes:gateway.networking.k8s.io/${version}:TCPRoute`),
      ).toHaveLength(1);
      expect(findObject(run, "TCPRoute", "tcp-echo").object.apiVersion).toBe(
        `gateway.networking.k8s.io/${version}`,
      );
      const route = registrations.find((r) => r.urn === urnOf(version));
      expect(route?.aliasTypes).toEqual([`kubernetes:gateway.networking.k8s.io/${other}:TCPRoute`]);
    }
  });
});
