/** The pure builders, without Pulumi: security, CLB settings, weights, names. */
import { describe, expect, it } from "vitest";
import { validateRouteFile } from "../../contract/routeFile";
import { parseConfig } from "../../infra/config/config";
import { type StackSettings, toStackSettings } from "../../infra/config/settings";
import { CLB_ANNOTATIONS, GATEWAY_ROUTES_FILE, NON_ROOT_UID } from "../../infra/constants";
import { aclEntryRole, clbAnnotations, clbResourceArgs } from "../../infra/manifests/clbSettings";
import { echoDeployment } from "../../infra/manifests/echoManifests";
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
import { splitWeights } from "../../infra/manifests/weights";
import { validateObject } from "./kubeSchemas";

function settingsWith(raw: Record<string, unknown> = {}): StackSettings {
  return toStackSettings(parseConfig({ mode: "istio", ...raw }));
}

/** The bundled gateway's builder input of standalone settings. */
function gatewayConfig(settings: StackSettings): GatewayConfig {
  if (settings.mode !== "standalone") throw new Error("standalone settings expected");
  const { app, weightV2, gateway } = settings;
  return { app, port: settings.ingress.port, weightV2, gateway };
}

/** The mesh routes' builder input of asm or istio settings. */
function meshConfig(settings: StackSettings): MeshRoutesConfig {
  if (settings.mode === "standalone" || settings.routing.api !== "istio")
    throw new Error("Istio routing expected");
  const { app, weightV2 } = settings;
  return {
    app,
    ingressPort: settings.ingress.port,
    weightV2,
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
      const total = route.reduce((sum, r) => sum + ("weight" in r ? (r.weight ?? 0) : 100), 0);
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
        (r) => [r.destination.subset, "weight" in r ? (r.weight ?? 0) : 100],
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
