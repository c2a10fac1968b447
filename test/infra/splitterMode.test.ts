/**
 * splitter: gateway: the mesh's route sends the ingress port to the bundled gateway's ClusterIP
 * Service and never changes; the gateway splits with the weights of its ConfigMap.
 */

import { beforeAll, describe, expect, it } from "vitest";

import {
  CLB_ANNOTATIONS,
  DATA_PLANE_PROVIDER_NAME,
  ISTIO_EXCLUDE_INBOUND_PORTS_ANNOTATION,
  ISTIO_PROXY_CONFIG_ANNOTATION,
  MESH_PROVIDER_NAME,
} from "../../infra/constants";
import type { ProgramRun } from "../../tools/render/renderProgram";
import {
  ASM_ACCESS,
  declaredNames,
  declaredObjects,
  findObject,
  gatewayRouteFile,
  type Registration,
  runWith,
  useProgramMocks,
  validateObject,
  withRegistrations,
} from "./programHarness";

useProgramMocks();

const IMAGE = "registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0";
const SPLITTER = { splitter: "gateway", gatewayImage: IMAGE } as const;
const URN = "urn:pulumi:dev::tcp-shift::";

interface PodTemplate {
  spec: {
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    };
  };
}

describe("splitter gateway, routingApi istio (asm)", () => {
  let run: ProgramRun;
  let registrations: Registration[];
  beforeAll(async () => {
    ({ result: run, registrations } = await withRegistrations(() =>
      runWith({ ...ASM_ACCESS, ...SPLITTER, weightV2: "20" }),
    ));
  });

  it("declares the bundled gateway beside the app, and no subsets' DestinationRule", () => {
    expect(declaredNames(run)).toEqual([
      "ConfigMap/tcp-echo-routes",
      "Deployment/tcp-echo-gateway",
      "Deployment/tcp-echo-v1",
      "Deployment/tcp-echo-v2",
      "Gateway/tcp-echo-gateway",
      "IstioGateway/tcp-echo-ingressgateway",
      "NetworkPolicy/tcp-echo",
      "NetworkPolicy/tcp-echo-gateway",
      "Service/tcp-echo",
      "Service/tcp-echo-gateway",
      "Service/tcp-echo-v1",
      "Service/tcp-echo-v2",
      "VirtualService/tcp-echo",
    ]);
    for (const { object } of declaredObjects(run)) {
      if (object.kind !== "IstioGateway") expect(validateObject(object), object.kind).toBe(true);
    }
    for (const name of ["tcp-echo-routes", "tcp-echo-gateway"]) {
      for (const kind of ["ConfigMap", "Deployment", "Service"]) {
        const found = declaredObjects(run).find(
          (d) => d.object.kind === kind && d.object.metadata.name === name,
        );
        if (found) expect(found.provider, `${kind}/${name}`).toBe(DATA_PLANE_PROVIDER_NAME);
      }
    }
  });

  it("the VirtualService sends the ingress port to the gateway's Service, without weights", () => {
    const { object, provider } = findObject(run, "VirtualService", "tcp-echo");
    expect(provider).toBe(MESH_PROVIDER_NAME);
    expect(object.spec).toEqual({
      hosts: ["*"],
      gateways: ["tcp-echo-gateway"],
      tcp: [
        {
          match: [{ port: 31400 }],
          route: [{ destination: { host: "tcp-echo-gateway", port: { number: 31400 } } }],
        },
      ],
    });
  });

  it("the gateway's Service is ClusterIP, without the CLB's annotations (they stay on the IstioGateway)", () => {
    const { object } = findObject(run, "Service", "tcp-echo-gateway");
    expect(object.metadata.annotations).toBeUndefined();
    expect(object.spec).toEqual({
      type: "ClusterIP",
      selector: { app: "tcp-echo-gateway" },
      ports: [{ name: "tcp", port: 31400, targetPort: "tcp", protocol: "TCP" }],
    });
    const asm = findObject(run, "IstioGateway", "tcp-echo-ingressgateway").object;
    expect((asm.spec as { serviceAnnotations: unknown }).serviceAnnotations).toMatchObject({
      [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
    });
  });

  it("the ConfigMap carries the weights: 80/20 to the per-version Services", () => {
    expect(gatewayRouteFile(run).listeners[0]).toMatchObject({
      listen: "0.0.0.0:31400",
      proxyProtocol: false,
      routes: [
        { name: "v1", weight: 80, endpoints: ["tcp-echo-v1.default.svc.cluster.local:9000"] },
        { name: "v2", weight: 20, endpoints: ["tcp-echo-v2.default.svc.cluster.local:9000"] },
      ],
    });
  });

  it("the gateway's sidecar starts first and drains as long as the gateway does", () => {
    const deployment = findObject(run, "Deployment", "tcp-echo-gateway")
      .object as unknown as PodTemplate;
    expect(deployment.spec.template.metadata.annotations).toEqual({
      [ISTIO_PROXY_CONFIG_ANNOTATION]:
        '{"holdApplicationUntilProxyStarts":true,"terminationDrainDuration":"35s"}',
    });
  });

  it("the VirtualService moves to the gateway only once it runs (depends on its pods)", () => {
    const splitter = `${URN}tcp-shift:gateway:SplitterGateway$`;
    const route = registrations.find((r) =>
      r.urn.endsWith(
        "kubernetes:networking.istio.io/v1beta1:VirtualService::tcp-echo-routes-virtual-service",
      ),
    );
    expect(route?.dependencies).toEqual(
      expect.arrayContaining([
        `${splitter}kubernetes:apps/v1:Deployment::tcp-echo-gateway-deployment`,
        `${splitter}kubernetes:core/v1:Service::tcp-echo-gateway-service`,
        `${splitter}kubernetes:core/v1:ConfigMap::tcp-echo-gateway-routes`,
      ]),
    );
    const components = run.resources.filter((r) => !r.custom).map((c) => `${c.type} ${c.name}`);
    expect(components).toContain("tcp-shift:gateway:SplitterGateway tcp-echo-gateway");
  });
});

describe("splitter gateway, routingApi gateway-api (istio)", () => {
  it("the TCPRoute has one backend, the gateway's Service, and no weight", async () => {
    const { result: run, registrations } = await withRegistrations(() =>
      runWith({ mode: "istio", routingApi: "gateway-api", ...SPLITTER }),
    );
    const tcpRouteRegistration = registrations.find((r) =>
      r.urn.endsWith(":TCPRoute::tcp-echo-routes-tcp-route"),
    );
    expect(tcpRouteRegistration?.dependencies).toContain(
      `${URN}tcp-shift:gateway:SplitterGateway$kubernetes:apps/v1:Deployment::tcp-echo-gateway-deployment`,
    );
    const route = findObject(run, "TCPRoute", "tcp-echo").object;
    expect((route.spec as { rules: unknown }).rules).toEqual([
      { backendRefs: [{ name: "tcp-echo-gateway", port: 31400 }] },
    ]);
    expect(validateObject(route)).toBe(true);
    expect(
      declaredObjects(run).filter((d) => d.object.apiVersion.startsWith("networking.istio.io/")),
    ).toEqual([]);
    expect(findObject(run, "Service", "tcp-echo-gateway").object.spec).toMatchObject({
      type: "ClusterIP",
    });
  });
});

describe("splitter gateway with PROXY protocol", () => {
  const proxyRule = {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "DestinationRule",
    metadata: { name: "tcp-echo-gateway", namespace: "default" },
    spec: {
      host: "tcp-echo-gateway",
      trafficPolicy: { tls: { mode: "DISABLE" }, proxyProtocol: { version: "V2" } },
    },
  };

  it("istio routing: Envoy sends PROXY v2 in plain TCP, past the gateway's sidecar", async () => {
    const { result: run, registrations } = await withRegistrations(() =>
      runWith({ ...ASM_ACCESS, ...SPLITTER, gatewayProxyProtocol: "true" }),
    );
    const rule = findObject(run, "DestinationRule", "tcp-echo-gateway");
    expect(rule.provider).toBe(MESH_PROVIDER_NAME);
    expect(rule.object).toEqual(proxyRule);
    expect(validateObject(rule.object)).toBe(true);
    const deployment = findObject(run, "Deployment", "tcp-echo-gateway")
      .object as unknown as PodTemplate;
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      [ISTIO_EXCLUDE_INBOUND_PORTS_ANNOTATION]: "31400",
    });
    expect(gatewayRouteFile(run).listeners[0]?.proxyProtocol).toBe(true);
    const route = registrations.find((r) => r.urn.endsWith("::tcp-echo-routes-virtual-service"));
    expect(route?.dependencies).toContain(
      `${URN}tcp-shift:mesh:MeshRoutes$kubernetes:networking.istio.io/v1beta1:DestinationRule::tcp-echo-routes-gateway-destination-rule`,
    );
  });

  it("gateway-api routing: the same DestinationRule, in istioApiVersion", async () => {
    const run = await runWith({
      ...ASM_ACCESS,
      ...SPLITTER,
      routingApi: "gateway-api",
      istioApiVersion: "networking.istio.io/v1",
      gatewayProxyProtocol: "true",
    });
    expect(findObject(run, "DestinationRule", "tcp-echo-gateway").object).toEqual({
      ...proxyRule,
      apiVersion: "networking.istio.io/v1",
    });
  });

  it("sticky balance needs it: behind Envoy the gateway sees only the ingress gateway's address", async () => {
    const error = await runWith({ mode: "istio", ...SPLITTER, gatewayBalance: "sticky" }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toContain(
      'tcp-shift:gatewayBalance = "sticky": sticky with splitter gateway needs gatewayProxyProtocol: true',
    );
    const run = await runWith({
      mode: "istio",
      ...SPLITTER,
      gatewayBalance: "sticky",
      gatewayProxyProtocol: "true",
    });
    expect(gatewayRouteFile(run).listeners[0]).toMatchObject({
      balance: "sticky",
      proxyProtocol: true,
    });
  });
});
