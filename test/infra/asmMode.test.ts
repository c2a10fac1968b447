import { beforeAll, describe, expect, it } from "vitest";
import {
  ASM_GATEWAY_API_VERSION,
  CLB_ANNOTATIONS,
  DATA_PLANE_PROVIDER_NAME,
  MESH_PROVIDER_NAME,
} from "../../infra/constants";
import { isSecretValue, type ProgramRun } from "../../tools/render/renderProgram";
import {
  ASM_ACCESS,
  declaredNames,
  declaredObjects,
  findObject,
  HARDENING_ADDITIONS,
  resourcesOfType,
  runWith,
  testKubeconfig,
  tutorialDifferences,
  tutorialObjects,
  useProgramMocks,
  validateObject,
} from "./programHarness";

useProgramMocks();

/** The VirtualService adds its namespace and the patchForce annotation to the tutorial's. */
const VIRTUAL_SERVICE_ADDITIONS = ["metadata.namespace", "metadata.annotations"] as const;

/** The tutorial sets the Service type in a form; the program makes it explicit. */
const SERVICE_ADDITIONS = ["metadata.namespace", "spec.type"] as const;

describe("asm mode, weightV2 0 (the tutorial's first state)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runWith({ ...ASM_ACCESS, istioApiVersion: "networking.istio.io/v1alpha3" });
  });

  it("declares exactly the tutorial's objects plus the ASM ingress gateway and a NetworkPolicy", () => {
    expect(declaredNames(run)).toEqual([
      "Deployment/tcp-echo-v1",
      "Deployment/tcp-echo-v2",
      "DestinationRule/tcp-echo-destination",
      "Gateway/tcp-echo-gateway",
      "IstioGateway/tcp-echo-ingressgateway",
      "NetworkPolicy/tcp-echo",
      "Service/tcp-echo",
      "VirtualService/tcp-echo",
    ]);
  });

  it("groups resources in components typed tcp-shift:<area>:<Class>, children named after them", () => {
    const components = run.resources.filter((r) => !r.custom);
    expect(components.map((c) => `${c.type} ${c.name}`).sort()).toEqual([
      "tcp-shift:app:EchoApp tcp-echo",
      "tcp-shift:cloud:Clb tcp-echo-clb",
      "tcp-shift:ingress:AsmIngress tcp-echo-ingress",
      "tcp-shift:mesh:MeshRoutes tcp-echo-routes",
    ]);
    const children = run.resources.filter(
      (r) => r.custom && !r.type.startsWith("pulumi:providers:"),
    );
    for (const child of children) {
      expect(
        components.some((c) => child.name.startsWith(`${c.name}-`)),
        child.name,
      ).toBe(true);
    }
  });

  it("every object validates against the upstream schema", () => {
    const validated = declaredObjects(run).filter((d) => validateObject(d.object));
    expect(validated).toHaveLength(7); // all but ASM's IstioGateway (no published schema)
  });

  it("Deployments are the tutorial's, field by field, plus only the hardening additions", () => {
    for (const expected of tutorialObjects("deployments.yaml")) {
      const actual = findObject(run, "Deployment", expected.metadata.name).object;
      expect(tutorialDifferences(actual, expected, HARDENING_ADDITIONS)).toEqual([]);
    }
  });

  it("the Service is the tutorial's", () => {
    const [expected] = tutorialObjects("service.yaml");
    const actual = findObject(run, "Service", "tcp-echo").object;
    expect(tutorialDifferences(actual, expected, SERVICE_ADDITIONS)).toEqual([]);
  });

  it("DestinationRule and the v1-only VirtualService are the tutorial's", () => {
    for (const file of ["destinationrule.yaml", "virtualservice-v1.yaml"]) {
      const [expected] = tutorialObjects(file);
      if (!expected) throw new Error(file);
      const actual = findObject(run, expected.kind, expected.metadata.name).object;
      expect(tutorialDifferences(actual, expected, VIRTUAL_SERVICE_ADDITIONS), file).toEqual([]);
    }
  });

  it("the VirtualService's weights win over an edit in the ASM console (forced server-side apply)", () => {
    const { object } = findObject(run, "VirtualService", "tcp-echo");
    expect(object.metadata.annotations).toEqual({ "pulumi.com/patchForce": "true" });
  });

  it("the Gateway is the tutorial's but selects the app's own ingress gateway pods", () => {
    // The tutorial adds 31400 to the mesh's shared `ingressgateway`; the stack deploys a gateway
    // of its own (the shared one is never touched) and selects its pods by their pod label.
    const [expected] = tutorialObjects("gateway.yaml");
    const actual = findObject(run, "Gateway", "tcp-echo-gateway").object;
    expect(tutorialDifferences(actual, expected, ["metadata.namespace"])).toEqual([
      'spec.selector.istio: expected "ingressgateway", got undefined',
      "spec.selector.tcp-shift/ingress-gateway: not in the tutorial and not a documented addition",
    ]);
    expect((actual.spec as { selector: unknown }).selector).toEqual({
      "tcp-shift/ingress-gateway": "tcp-echo-ingressgateway",
    });
  });

  it("workloads go to the data plane, Istio objects and IstioGateway to the mesh", () => {
    const targets = Object.fromEntries(
      declaredObjects(run).map((d) => [`${d.object.kind}/${d.object.metadata.name}`, d.provider]),
    );
    expect(targets).toEqual({
      "Deployment/tcp-echo-v1": DATA_PLANE_PROVIDER_NAME,
      "Deployment/tcp-echo-v2": DATA_PLANE_PROVIDER_NAME,
      "Service/tcp-echo": DATA_PLANE_PROVIDER_NAME,
      "NetworkPolicy/tcp-echo": DATA_PLANE_PROVIDER_NAME,
      "Gateway/tcp-echo-gateway": MESH_PROVIDER_NAME,
      "VirtualService/tcp-echo": MESH_PROVIDER_NAME,
      "DestinationRule/tcp-echo-destination": MESH_PROVIDER_NAME,
      "IstioGateway/tcp-echo-ingressgateway": MESH_PROVIDER_NAME,
    });
  });

  it("the app's NetworkPolicy admits its namespace and ASM's ingress gateway pods, nothing else", () => {
    // The pods the tutorial's Gateway selects: the ones that open the connections to the app.
    const gateway = findObject(run, "Gateway", "tcp-echo-gateway").object;
    const { selector } = gateway.spec as { selector: Record<string, string> };
    expect(selector).toEqual({ "tcp-shift/ingress-gateway": "tcp-echo-ingressgateway" });
    const { object } = findObject(run, "NetworkPolicy", "tcp-echo");
    expect(object.spec).toEqual({
      podSelector: { matchLabels: { app: "tcp-echo" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          ports: [{ port: 9000, protocol: "TCP" }],
          from: [
            { podSelector: {} },
            {
              namespaceSelector: {
                matchLabels: { "kubernetes.io/metadata.name": "istio-system" },
              },
              podSelector: { matchLabels: selector },
            },
          ],
        },
        // The sidecar's merged metrics, for scrapers in the namespace.
        { ports: [{ port: 15020, protocol: "TCP" }], from: [{ podSelector: {} }] },
      ],
    });
  });

  it("both kubeconfigs (from the Alibaba Cloud API) are secrets", () => {
    const providers = resourcesOfType(run, "pulumi:providers:kubernetes");
    expect(providers.map((p) => p.name).sort()).toEqual([
      DATA_PLANE_PROVIDER_NAME,
      MESH_PROVIDER_NAME,
    ]);
    for (const provider of providers) expect(isSecretValue(provider.inputs.kubeconfig)).toBe(true);
    expect(run.calls.map((c) => c.token).sort()).toEqual([
      "alicloud:cs/getClusterCredential:getClusterCredential",
      "alicloud:servicemesh/getServiceMeshes:getServiceMeshes",
    ]);
    const meshCall = run.calls.find((c) => c.token.includes("getServiceMeshes"));
    expect(meshCall?.inputs).toEqual({ ids: [ASM_ACCESS.meshId], enableDetails: true });
  });

  it("declares an IstioGateway of the app's own with the ingress port and the created CLB's annotations", () => {
    const { object } = findObject(run, "IstioGateway", "tcp-echo-ingressgateway");
    expect(object.apiVersion).toBe(ASM_GATEWAY_API_VERSION);
    expect(object.metadata.namespace).toBe("istio-system");
    const clb = resourcesOfType(
      run,
      "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    );
    expect(clb).toHaveLength(1);
    expect(object.spec).toEqual({
      gatewayType: "ingress",
      clusterIds: [ASM_ACCESS.clusterId],
      replicaCount: 1,
      ports: [{ name: "tcp", port: 31400, targetPort: 31400, protocol: "TCP" }],
      resources: {
        requests: { cpu: "100m", memory: "128Mi" },
        limits: { cpu: "1", memory: "512Mi" },
      },
      serviceType: "LoadBalancer",
      serviceAnnotations: {
        [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
        [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
      },
      podLabels: { "tcp-shift/ingress-gateway": "tcp-echo-ingressgateway" },
    });
  });

  it("exports the outputs, with the verify command built from them", () => {
    expect(run.outputs).toEqual({
      ingressHost: "(CLB address, known after up)",
      ingressPort: 31400,
      mode: "asm",
      weights: { v1: 100, v2: 0 },
      verifyCommand:
        "npm run verify -- --host (CLB address, known after up) --port 31400 -n 200 --expect-v2 0",
    });
  });
});

describe("asm mode, weights", () => {
  it("weightV2 20 gives exactly the tutorial's 80/20 VirtualService", async () => {
    const run = await runWith({
      ...ASM_ACCESS,
      weightV2: "20",
      istioApiVersion: "networking.istio.io/v1alpha3",
    });
    const [expected] = tutorialObjects("virtualservice-80-20.yaml");
    const actual = findObject(run, "VirtualService", "tcp-echo").object;
    expect(tutorialDifferences(actual, expected, VIRTUAL_SERVICE_ADDITIONS)).toEqual([]);
    expect(run.outputs.weights).toEqual({ v1: 80, v2: 20 });
  });

  it("weightV2 100 routes to v2 alone, without a weight", async () => {
    const run = await runWith({ ...ASM_ACCESS, weightV2: "100" });
    const { object } = findObject(run, "VirtualService", "tcp-echo");
    expect((object.spec as { tcp: unknown[] }).tcp).toEqual([
      {
        match: [{ port: 31400 }],
        route: [{ destination: { host: "tcp-echo", port: { number: 9000 }, subset: "v2" } }],
      },
    ]);
    expect(object.apiVersion).toBe("networking.istio.io/v1beta1");
    expect(validateObject(object)).toBe(true);
  });
});

const DATA_KUBECONFIG = testKubeconfig("https://ack.example.com:6443", "ack-admin");
const MESH_KUBECONFIG = testKubeconfig("https://asm.example.com:6443", "asm-admin");

describe("asm mode, access from config", () => {
  it("uses kubeconfigs from config as secrets, reduced to their active context", async () => {
    const run = await runWith(
      {
        clusterId: ASM_ACCESS.clusterId,
        kubeconfig: DATA_KUBECONFIG,
        meshKubeconfig: MESH_KUBECONFIG,
      },
      ["kubeconfig", "meshKubeconfig"],
    );
    const providers = resourcesOfType(run, "pulumi:providers:kubernetes");
    const byName = Object.fromEntries(providers.map((p) => [p.name, p.inputs.kubeconfig]));
    expect(byName[DATA_PLANE_PROVIDER_NAME]).toMatchObject({
      value: expect.stringContaining("server: https://ack.example.com:6443"),
    });
    expect(byName[MESH_PROVIDER_NAME]).toMatchObject({
      value: expect.stringContaining("server: https://asm.example.com:6443"),
    });
    for (const value of Object.values(byName)) expect(isSecretValue(value)).toBe(true);
    expect(run.calls).toEqual([]);
  });

  it("keeps a kubeconfig secret even when it was set without --secret", async () => {
    const run = await runWith({ clusterId: ASM_ACCESS.clusterId, meshKubeconfig: MESH_KUBECONFIG });
    const mesh = resourcesOfType(run, "pulumi:providers:kubernetes").find(
      (p) => p.name === MESH_PROVIDER_NAME,
    );
    expect(isSecretValue(mesh?.inputs.kubeconfig)).toBe(true);
  });
});

describe("asm mode, access from the environment (nothing in a stack file)", () => {
  const machine = {
    env: {
      TCP_SHIFT_CLUSTER_ID: ASM_ACCESS.clusterId,
      TCP_SHIFT_KUBECONFIG: "/home/me/.kube/ack.yaml",
      TCP_SHIFT_MESH_KUBECONFIG: "/home/me/.kube/asm.yaml",
    },
    files: {
      "/home/me/.kube/ack.yaml": DATA_KUBECONFIG,
      "/home/me/.kube/asm.yaml": MESH_KUBECONFIG,
    },
  };

  it("reads the kubeconfig files the variables name, as secrets, and calls no cloud API", async () => {
    const run = await runWith({}, [], machine);
    const providers = resourcesOfType(run, "pulumi:providers:kubernetes");
    const byName = Object.fromEntries(providers.map((p) => [p.name, p.inputs]));
    expect(byName[DATA_PLANE_PROVIDER_NAME]?.kubeconfig).toMatchObject({
      value: expect.stringContaining("server: https://ack.example.com:6443"),
    });
    expect(byName[MESH_PROVIDER_NAME]?.kubeconfig).toMatchObject({
      value: expect.stringContaining("server: https://asm.example.com:6443"),
    });
    for (const inputs of Object.values(byName)) expect(isSecretValue(inputs.kubeconfig)).toBe(true);
    expect(run.calls).toEqual([]);
    const gateway = findObject(run, "IstioGateway", "tcp-echo-ingressgateway").object;
    expect((gateway.spec as { clusterIds: string[] }).clusterIds).toEqual([ASM_ACCESS.clusterId]);
  });

  it("names each provider's cluster by a stable identity: the ids, else the API server URL", async () => {
    const identities = async (env: Record<string, string>) => {
      const run = await runWith({}, [], { ...machine, env });
      return Object.fromEntries(
        resourcesOfType(run, "pulumi:providers:kubernetes").map((p) => [
          p.name,
          p.inputs.clusterIdentifier,
        ]),
      );
    };
    expect(await identities({ ...machine.env, TCP_SHIFT_MESH_ID: ASM_ACCESS.meshId })).toEqual({
      [DATA_PLANE_PROVIDER_NAME]: `ack:${ASM_ACCESS.clusterId}`,
      [MESH_PROVIDER_NAME]: `asm:${ASM_ACCESS.meshId}`,
    });
    expect(await identities(machine.env)).toEqual({
      [DATA_PLANE_PROVIDER_NAME]: `ack:${ASM_ACCESS.clusterId}`,
      [MESH_PROVIDER_NAME]: "https://asm.example.com:6443",
    });
  });

  it("gives the same kubeconfig text whatever the context, cluster and user are called", async () => {
    const kubeconfigOf = async (text: string) => {
      const run = await runWith({}, [], {
        env: machine.env,
        files: { ...machine.files, "/home/me/.kube/ack.yaml": text },
      });
      const provider = resourcesOfType(run, "pulumi:providers:kubernetes").find(
        (p) => p.name === DATA_PLANE_PROVIDER_NAME,
      );
      return (provider?.inputs.kubeconfig as { value: string } | undefined)?.value;
    };
    expect(await kubeconfigOf(testKubeconfig("https://ack.example.com:6443", "other-name"))).toBe(
      await kubeconfigOf(DATA_KUBECONFIG),
    );
  });

  it("the stack's config keys take precedence over the environment", async () => {
    const run = await runWith(
      { clusterId: "c5555555555abc", meshId: ASM_ACCESS.meshId },
      [],
      machine,
    );
    const gateway = findObject(run, "IstioGateway", "tcp-echo-ingressgateway").object;
    expect((gateway.spec as { clusterIds: string[] }).clusterIds).toEqual(["c5555555555abc"]);
  });

  it("names the variable, not a config key, when its value is wrong", async () => {
    const error = await runWith({}, [], {
      env: { ...machine.env, TCP_SHIFT_CLUSTER_ID: "not-an-id" },
      files: machine.files,
    }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toContain(
      'TCP_SHIFT_CLUSTER_ID (for tcp-shift:clusterId) = "not-an-id": must be an ACK cluster id',
    );
  });

  it("says which file is missing", async () => {
    const error = await runWith({}, [], { env: machine.env, files: {} }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toBe("TCP_SHIFT_KUBECONFIG=/home/me/.kube/ack.yaml: no such file");
  });

  it("names the file, not a config key, when it is no kubeconfig", async () => {
    const error = await runWith({}, [], {
      env: machine.env,
      files: { ...machine.files, "/home/me/.kube/asm.yaml": "hello: world\n" },
    }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toBe(
      "TCP_SHIFT_MESH_KUBECONFIG=/home/me/.kube/asm.yaml: not a kubeconfig (YAML with a clusters list)",
    );
  });
});

describe("asm mode, the app's gateway name", () => {
  it("refuses an appName too long for the Service ASM names after it, before declaring anything", async () => {
    const appName = "a".repeat(43);
    const error = await runWith({ ...ASM_ACCESS, appName }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toBe(
      `tcp-shift:appName = "${appName}": at most 42 characters in asm mode (ASM names the gateway's Service istio-${appName}-ingressgateway, a DNS label of at most 63)`,
    );
    const fits = await runWith({ ...ASM_ACCESS, appName: "a".repeat(42) });
    expect(declaredObjects(fits).length).toBeGreaterThan(0);
  });
});

describe("asm mode, CLB from the cloud controller", () => {
  it("reads the address from the Service ASM creates for the app's gateway, reading no object through the provider", async () => {
    const run = await runWith({ ...ASM_ACCESS, clb: "controller" });
    expect(run.resources.filter((r) => r.type.startsWith("alicloud:"))).toEqual([]);
    expect(run.resources.filter((r) => r.readId !== undefined)).toEqual([]);
    const { object } = findObject(run, "IstioGateway", "tcp-echo-ingressgateway");
    expect((object.spec as { serviceAnnotations: unknown }).serviceAnnotations).toEqual({
      [CLB_ANNOTATIONS.addressType]: "internet",
      [CLB_ANNOTATIONS.chargeType]: "paybytraffic",
      [CLB_ANNOTATIONS.instanceChargeType]: "PayByCLCU",
    });
    expect(run.outputs.ingressHost).toBe("(CLB address, known after up)");
  });
});
