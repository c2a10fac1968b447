/** The pure builders, without Pulumi: security, CLB settings, weights, names. */
import { describe, expect, it } from "vitest";
import { validateRouteFile } from "../../contract/routeFile";
import { parseConfig } from "../../infra/config/config";
import { type StackSettings, toStackSettings } from "../../infra/config/settings";
import { CLB_ANNOTATIONS, GATEWAY_ROUTES_FILE, NON_ROOT_UID } from "../../infra/constants";
import { aclEntryRole, clbAnnotations, clbResourceArgs } from "../../infra/manifests/clbSettings";
import { echoDeployment } from "../../infra/manifests/echoManifests";
import {
  gatewayApiGateway,
  tcpRoute,
  tcpRouteApiVersionAliases,
} from "../../infra/manifests/gatewayApiManifests";
import {
  type GatewayConfig,
  gatewayDeployment,
  gatewayRoutesConfigMap,
  registryOf,
} from "../../infra/manifests/gatewayManifests";
import {
  istioApiVersionAliases,
  type MeshRoutesConfig,
  virtualService,
} from "../../infra/manifests/meshManifests";
import { appNetworkPolicy, gatewayNetworkPolicy } from "../../infra/manifests/networkPolicies";
import { splitWeights } from "../../infra/manifests/weights";
import { validateObject } from "./kubeSchemas";

function settingsWith(raw: Record<string, unknown> = {}): StackSettings {
  return toStackSettings(parseConfig({ mode: "istio", ...raw }));
}

/** The bundled gateway's builder input of standalone settings. */
function gatewayConfig(settings: StackSettings): GatewayConfig {
  if (settings.mode !== "standalone") throw new Error("standalone settings expected");
  const { app, weightV2, gateway } = settings;
  return { role: "standalone", app, port: settings.ingress.port, weightV2, gateway };
}

/** The mesh routes' builder input of asm or istio settings. */
function meshConfig(settings: StackSettings): MeshRoutesConfig {
  if (settings.mode === "standalone" || settings.routing.api !== "istio")
    throw new Error("Istio routing expected");
  const { app, weightV2 } = settings;
  return {
    app,
    ingressPort: settings.ingress.port,
    target: { kind: "versions", weightV2 },
    apiVersion: settings.routing.apiVersion,
  };
}

interface Pod {
  securityContext?: Record<string, unknown>;
  containers: Array<{
    securityContext?: Record<string, unknown>;
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    readinessProbe?: unknown;
    livenessProbe?: unknown;
  }>;
}

/** The "restricted" Pod Security Standard, as the admission controller checks it. */
function restrictedViolations(pod: Pod): string[] {
  const out: string[] = [];
  const podContext = pod.securityContext ?? {};
  if (podContext.runAsNonRoot !== true) out.push("pod runAsNonRoot");
  if (podContext.runAsUser === 0) out.push("pod runAsUser 0");
  if ((podContext.seccompProfile as { type?: string })?.type !== "RuntimeDefault")
    out.push("pod seccomp");
  for (const container of pod.containers) {
    const context = container.securityContext ?? {};
    if (context.allowPrivilegeEscalation !== false) out.push("allowPrivilegeEscalation");
    if (JSON.stringify((context.capabilities as { drop?: string[] })?.drop) !== '["ALL"]')
      out.push("drop ALL");
    if (context.privileged === true) out.push("privileged");
    if (context.readOnlyRootFilesystem !== true) out.push("readOnlyRootFilesystem");
    if (
      context.runAsNonRoot !== true ||
      typeof context.runAsUser !== "number" ||
      context.runAsUser === 0
    )
      out.push("numeric non-root user");
    if (!container.resources?.requests?.cpu || !container.resources?.limits?.memory)
      out.push("requests and limits");
    if (!container.readinessProbe || !container.livenessProbe) out.push("probes");
  }
  return out;
}

describe("pods", () => {
  it("echo and gateway pods meet the restricted Pod Security Standard", () => {
    const settings = settingsWith({ mode: "standalone", gatewayImage: "example.com/gw:1" });
    const pods = [
      echoDeployment(settings.app, "v1").spec.template.spec,
      echoDeployment(settings.app, "v2").spec.template.spec,
      gatewayDeployment(gatewayConfig(settings), "example.com/gw:1").spec.template.spec,
    ];
    for (const pod of pods) expect(restrictedViolations(pod as Pod)).toEqual([]);
    expect(pods[0]?.securityContext.runAsUser).toBe(NON_ROOT_UID);
  });

  it("echo containers take the config's resources and probe the app port over TCP", () => {
    const settings = settingsWith({ appPort: "9100", cpuLimit: "500m", memoryRequest: "32Mi" });
    const [container] = echoDeployment(settings.app, "v2").spec.template.spec.containers;
    expect(container?.args).toEqual(["9100", "two"]);
    expect(container?.resources).toEqual({
      requests: { cpu: "10m", memory: "32Mi" },
      limits: { cpu: "500m", memory: "64Mi" },
    });
    expect(container?.readinessProbe.tcpSocket).toEqual({ port: 9100 });
    expect(container?.livenessProbe.tcpSocket).toEqual({ port: 9100 });
  });
});

describe("weights", () => {
  it("every weightV2 gives a valid VirtualService whose weights sum to 100", () => {
    for (let weightV2 = 0; weightV2 <= 100; weightV2++) {
      const object = virtualService(meshConfig(settingsWith({ weightV2 })));
      expect(validateObject(object as never)).toBe(true);
      const route = object.spec.tcp[0]?.route ?? [];
      const total = route.reduce(
        (sum, r) => sum + ("weight" in r && typeof r.weight === "number" ? r.weight : 100),
        0,
      );
      expect(total, `weightV2 ${weightV2}`).toBe(100);
      expect(route.length).toBe(weightV2 === 0 || weightV2 === 100 ? 1 : 2);
    }
  });

  it("the gateway route file carries the same weights as the VirtualService", () => {
    for (const weightV2 of [0, 1, 20, 50, 99, 100]) {
      const raw = { gatewayImage: "example.com/gw:1", weightV2 };
      const standalone = settingsWith({ ...raw, mode: "standalone" });
      const text = gatewayRoutesConfigMap(gatewayConfig(standalone)).data[GATEWAY_ROUTES_FILE];
      // JSON, so the gateway never loads its YAML parser.
      const file = validateRouteFile(JSON.parse(text), GATEWAY_ROUTES_FILE);
      // Both versions keep a route (weight 0 included: the gateway drains it and sticky keeps
      // its buckets); the ones with weight are exactly the VirtualService's destinations.
      const fromFile = file.listeners[0]?.routes.map((r) => [r.name, r.weight]);
      expect(fromFile).toEqual(Object.entries(splitWeights(weightV2)));
      const fromMesh = (virtualService(meshConfig(settingsWith(raw))).spec.tcp[0]?.route ?? []).map(
        (r) => [
          "subset" in r.destination ? r.destination.subset : undefined,
          "weight" in r ? r.weight : 100,
        ],
      );
      expect(fromFile?.filter(([, weight]) => weight !== 0)).toEqual(fromMesh);
    }
  });
});

describe("CLB settings", () => {
  it("create/reuse: bind by id and let the controller own the listeners", () => {
    expect(clbAnnotations(settingsWith().clb, { loadBalancerId: "lb-1" })).toEqual({
      [CLB_ANNOTATIONS.id]: "lb-1",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
    });
    expect(() => clbAnnotations(settingsWith().clb, {})).toThrow(/needs the id/);
  });

  it("controller: intranet with vSwitch, PayBySpec with spec", () => {
    const { clb: config } = settingsWith({
      clb: "controller",
      clbAddressType: "intranet",
      clbVswitchId: "vsw-abc",
      clbInstanceChargeType: "PayBySpec",
      clbSpec: "slb.s1.small",
    });
    expect(clbAnnotations(config, {})).toEqual({
      [CLB_ANNOTATIONS.addressType]: "intranet",
      [CLB_ANNOTATIONS.instanceChargeType]: "PayBySpec",
      [CLB_ANNOTATIONS.spec]: "slb.s1.small",
      [CLB_ANNOTATIONS.vswitchId]: "vsw-abc",
    });
  });

  it("a created internet CLB billed by bandwidth", () => {
    const { clb: config } = settingsWith({
      clbInternetChargeType: "paybybandwidth",
      clbBandwidth: "50",
    });
    expect(clbResourceArgs(config, "tcp-shift-prod")).toMatchObject({
      addressType: "internet",
      internetChargeType: "PayByBandwidth",
      bandwidth: 50,
      deleteProtection: "off",
    });
    expect(aclEntryRole("203.0.113.0/24")).toBe("acl-203-0-113-0-24");
  });
});

describe("names", () => {
  it("an Istio API version switch is an alias, not a new resource", () => {
    expect(istioApiVersionAliases("networking.istio.io/v1", "VirtualService")).toEqual([
      { type: "kubernetes:networking.istio.io/v1beta1:VirtualService" },
      { type: "kubernetes:networking.istio.io/v1alpha3:VirtualService" },
    ]);
  });

  it("registry host of an image reference", () => {
    expect(registryOf("registry.cn-hangzhou.aliyuncs.com/acme/gw:1")).toBe(
      "registry.cn-hangzhou.aliyuncs.com",
    );
    expect(registryOf("localhost:5000/gw:1")).toBe("localhost:5000");
    expect(registryOf("acme/gw:1")).toBe("docker.io");
  });
});

describe("Gateway API objects", () => {
  const app = { name: "tcp-echo", namespace: "shop", port: 9000 };
  const config = {
    app,
    ingressPort: 31400,
    target: { kind: "versions", weightV2: 35 },
    gatewayClassName: "istio",
    tcpRouteApiVersion: "gateway.networking.k8s.io/v1alpha2",
  } as const;

  it("every weightV2 gives a valid TCPRoute whose backends carry the VirtualService's weights", () => {
    for (let weightV2 = 0; weightV2 <= 100; weightV2++) {
      const target = { kind: "versions", weightV2 } as const;
      const route = tcpRoute({ ...config, target });
      expect(validateObject(route as never)).toBe(true);
      const backends = route.spec.rules[0]?.backendRefs ?? [];
      const fromRoute = backends.map((b) => [b.name, "weight" in b ? b.weight : 100]);
      const fromMesh = (
        virtualService({ app, ingressPort: 31400, target, apiVersion: "networking.istio.io/v1" })
          .spec.tcp[0]?.route ?? []
      ).map((r) => [
        `tcp-echo-${"subset" in r.destination ? r.destination.subset : ""}`,
        "weight" in r ? r.weight : 100,
      ]);
      expect(fromRoute, `weightV2 ${weightV2}`).toEqual(fromMesh);
    }
  });

  it("the Gateway binds to an existing gateway by hostname, or hands the implementation annotations", () => {
    const bound = gatewayApiGateway(
      { ...config, existingService: { name: "istio-ingressgateway", namespace: "istio-system" } },
      { ignored: "when bound" },
    );
    expect(bound.spec).toEqual({
      gatewayClassName: "istio",
      listeners: [
        {
          name: "tcp-31400",
          protocol: "TCP",
          port: 31400,
          allowedRoutes: { kinds: [{ kind: "TCPRoute" }] },
        },
      ],
      addresses: [
        { type: "Hostname", value: "istio-ingressgateway.istio-system.svc.cluster.local" },
      ],
    });
    const provisioned = gatewayApiGateway({ ...config, ingressPort: 31401 }, { a: "on" });
    expect(provisioned.spec).toMatchObject({
      listeners: [{ name: "tcp-31401", port: 31401 }],
      infrastructure: { annotations: { a: "on" } },
    });
    expect(provisioned.spec).not.toHaveProperty("addresses");
    expect(validateObject(provisioned as never)).toBe(true);
    expect(tcpRoute({ ...config, ingressPort: 31401 }).spec.parentRefs).toEqual([
      { name: "tcp-echo-gateway", sectionName: "tcp-31401" },
    ]);
  });

  it("a TCPRoute version switch is an alias, not a new resource", () => {
    expect(tcpRouteApiVersionAliases("gateway.networking.k8s.io/v1")).toEqual([
      { type: "kubernetes:gateway.networking.k8s.io/v1alpha2:TCPRoute" },
    ]);
  });
});

describe("NetworkPolicies", () => {
  const app = { name: "tcp-echo", namespace: "shop", port: 9100 };

  it("the app: its port from the namespace and the mesh's ingress pods; the sidecar's metrics port from metricsNamespace", () => {
    const policy = appNetworkPolicy(app, {
      sidecar: true,
      meshIngress: { namespace: "istio-system", labels: { istio: "ingressgateway" } },
      metricsNamespace: "arms-prom",
    });
    expect(validateObject(policy as never)).toBe(true);
    expect(policy.metadata).toEqual({ name: "tcp-echo", namespace: "shop" });
    expect(policy.spec.ingress).toEqual([
      {
        ports: [{ port: 9100, protocol: "TCP" }],
        from: [
          { podSelector: {} },
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "istio-system" } },
            podSelector: { matchLabels: { istio: "ingressgateway" } },
          },
        ],
      },
      {
        ports: [{ port: 15020, protocol: "TCP" }],
        from: [
          { podSelector: {} },
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "arms-prom" } } },
        ],
      },
    ]);
  });

  it("the splitter: the data port from anywhere; admin and sidecar metrics from the namespace", () => {
    const policy = gatewayNetworkPolicy({ app, port: 31400 }, { sidecar: true });
    expect(validateObject(policy as never)).toBe(true);
    expect(policy.spec.ingress).toEqual([
      { ports: [{ port: 31400, protocol: "TCP" }] },
      {
        ports: [
          { port: 9901, protocol: "TCP" },
          { port: 15020, protocol: "TCP" },
        ],
        from: [{ podSelector: {} }],
      },
    ]);
  });
});
