import { describe, expect, it } from "vitest";
import {
  CLB_ANNOTATIONS,
  DATA_PLANE_PROVIDER_NAME,
  ISTIO_SYSTEM_NAMESPACE,
} from "../../infra/constants";
import { isSecretValue } from "../../tools/render/renderProgram";
import {
  declaredNames,
  declaredObjects,
  findObject,
  resourcesOfType,
  runWith,
  useProgramMocks,
  validateObject,
} from "./programHarness";

useProgramMocks();

const ALB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer";

describe("istio mode", () => {
  it("declares the Istio objects and a dedicated LoadBalancer Service, all on one cluster", async () => {
    const run = await runWith({ mode: "istio", clusterId: "c1234567890abc", weightV2: "35" });
    const objects = declaredObjects(run);
    expect(declaredNames(run)).toEqual([
      "Deployment/tcp-echo-v1",
      "Deployment/tcp-echo-v2",
      "DestinationRule/tcp-echo-destination",
      "Gateway/tcp-echo-gateway",
      "NetworkPolicy/tcp-echo",
      "Service/tcp-echo",
      "Service/tcp-echo-ingress",
      "VirtualService/tcp-echo",
    ]);
    for (const { object, provider } of objects) {
      expect(validateObject(object), object.kind).toBe(true);
      expect(provider).toBe(DATA_PLANE_PROVIDER_NAME);
    }
    const providers = resourcesOfType(run, "pulumi:providers:kubernetes");
    expect(providers).toHaveLength(1);
    expect(isSecretValue(providers[0]?.inputs.kubeconfig)).toBe(true);

    const ingress = findObject(run, "Service", "tcp-echo-ingress").object;
    expect(ingress.metadata.namespace).toBe(ISTIO_SYSTEM_NAMESPACE);
    expect(ingress.spec).toEqual({
      type: "LoadBalancer",
      selector: { istio: "ingressgateway" },
      ports: [{ name: "tcp", port: 31400, targetPort: 31400, protocol: "TCP" }],
    });
    const vs = findObject(run, "VirtualService", "tcp-echo").object as unknown as {
      spec: { tcp: Array<{ route: Array<{ weight?: number }> }> };
    };
    expect(vs.spec.tcp[0]?.route.map((r) => r.weight)).toEqual([65, 35]);
  });

  it("uses the ambient kubeconfig when neither kubeconfig nor clusterId is set", async () => {
    const run = await runWith({ mode: "istio" });
    const providers = resourcesOfType(run, "pulumi:providers:kubernetes");
    expect(providers.map((p) => [p.name, p.inputs.kubeconfig])).toEqual([
      [DATA_PLANE_PROVIDER_NAME, undefined],
    ]);
    expect(run.calls).toEqual([]);
  });

  it("passes non-default reply prefixes to the verify command", async () => {
    const run = await runWith({
      mode: "istio",
      prefixV1: "blue",
      prefixV2: "green",
      weightV2: "5",
    });
    expect(run.outputs.verifyCommand).toBe(
      "npm run verify -- --host (CLB address, known after up) --port 31400 -n 200 --expect-v2 5 --prefix-v1 blue --prefix-v2 green",
    );
    const v2 = findObject(run, "Deployment", "tcp-echo-v2").object as unknown as {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    expect(v2.spec.template.spec.containers[0]?.args).toEqual(["9000", "green"]);
  });

  it("declares the Istio objects with istioApiVersion", async () => {
    const run = await runWith({ mode: "istio", istioApiVersion: "networking.istio.io/v1" });
    const vs = run.resources.filter((r) => r.type.endsWith(":VirtualService"));
    expect(vs.map((r) => r.type)).toEqual(["kubernetes:networking.istio.io/v1:VirtualService"]);
    expect(validateObject(findObject(run, "VirtualService", "tcp-echo").object)).toBe(true);
  });
});

describe("CLB sources", () => {
  it("create: an ApplicationLoadBalancer bound by id, its address is ingressHost", async () => {
    const run = await runWith({
      mode: "istio",
      clbAddressType: "intranet",
      clbVswitchId: "vsw-2zeabc123",
      clbInstanceChargeType: "PayBySpec",
      clbSpec: "slb.s2.small",
      clbDeleteProtection: "true",
    });
    const [clb] = resourcesOfType(run, ALB);
    expect(clb?.inputs).toEqual({
      loadBalancerName: "tcp-shift-dev",
      addressType: "intranet",
      paymentType: "PayAsYouGo",
      instanceChargeType: "PayBySpec",
      loadBalancerSpec: "slb.s2.small",
      vswitchId: "vsw-2zeabc123",
      deleteProtection: "on",
      tags: { "managed-by": "pulumi", project: "tcp-shift" },
    });
    expect(findObject(run, "Service", "tcp-echo-ingress").object.metadata.annotations).toEqual({
      [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
    });
    expect(run.outputs.ingressHost).toBe("(CLB address, known after up)");
  });

  it("reuse: no CLB resource, annotations name clbId, the address is looked up", async () => {
    const run = await runWith({ mode: "istio", clb: "reuse", clbId: "lb-2zeabc123" });
    expect(resourcesOfType(run, ALB)).toEqual([]);
    expect(findObject(run, "Service", "tcp-echo-ingress").object.metadata.annotations).toEqual({
      [CLB_ANNOTATIONS.id]: "lb-2zeabc123",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
    });
    expect(run.calls).toEqual([
      {
        token: "alicloud:slb/getApplicationLoadBalancers:getApplicationLoadBalancers",
        inputs: { ids: ["lb-2zeabc123"] },
      },
    ]);
  });

  it("controller: no Alibaba Cloud resource, creation annotations only", async () => {
    const run = await runWith({
      mode: "istio",
      clb: "controller",
      clbInternetChargeType: "paybybandwidth",
      clbBandwidth: "20",
    });
    expect(run.resources.filter((r) => r.type.startsWith("alicloud:"))).toEqual([]);
    expect(findObject(run, "Service", "tcp-echo-ingress").object.metadata.annotations).toEqual({
      [CLB_ANNOTATIONS.addressType]: "internet",
      [CLB_ANNOTATIONS.chargeType]: "paybybandwidth",
      [CLB_ANNOTATIONS.instanceChargeType]: "PayByCLCU",
      [CLB_ANNOTATIONS.bandwidth]: "20",
    });
  });

  it("allowedCidrs: an ACL with one entry per CIDR, attached by annotations", async () => {
    const run = await runWith({
      mode: "istio",
      allowedCidrs: '["203.0.113.0/24", "198.51.100.7/32"]',
    });
    const [acl] = resourcesOfType(run, "alicloud:slb/acl:Acl");
    expect(acl?.inputs).toEqual({ name: "tcp-shift-dev-allowed", ipVersion: "ipv4" });
    const entries = resourcesOfType(run, "alicloud:slb/aclEntryAttachment:AclEntryAttachment");
    expect(entries.map((e) => [e.name, e.inputs.entry]).sort()).toEqual([
      ["tcp-echo-clb-acl-198-51-100-7-32", "198.51.100.7/32"],
      ["tcp-echo-clb-acl-203-0-113-0-24", "203.0.113.0/24"],
    ]);
    const aclId = "tcp-echo-clb-acl id (known after up)";
    for (const entry of entries) expect(entry.inputs.aclId).toBe(aclId);
    expect(
      findObject(run, "Service", "tcp-echo-ingress").object.metadata.annotations,
    ).toMatchObject({
      [CLB_ANNOTATIONS.aclStatus]: "on",
      [CLB_ANNOTATIONS.aclId]: aclId,
      [CLB_ANNOTATIONS.aclType]: "white",
    });
  });
});

describe("podDisruptionBudget", () => {
  it("adds one PDB per version", async () => {
    const run = await runWith({ mode: "istio", replicas: "2", podDisruptionBudget: "true" });
    for (const version of ["v1", "v2"]) {
      const { object, provider } = findObject(run, "PodDisruptionBudget", `tcp-echo-${version}`);
      expect(validateObject(object)).toBe(true);
      expect(provider).toBe(DATA_PLANE_PROVIDER_NAME);
      expect(object.spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: { app: "tcp-echo", version } },
      });
    }
  });
});
