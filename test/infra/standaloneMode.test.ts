import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { parseGatewayArgs } from "../../dataplane/gateway/gatewayArgs";
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from "../../dataplane/gateway/gatewayNodeFlags";
import {
  CLB_ANNOTATIONS,
  DATA_PLANE_PROVIDER_NAME,
  GATEWAY_ROUTES_DIR,
  GATEWAY_ROUTES_FILE,
} from "../../infra/constants";
import { isSecretValue, type ProgramRun } from "../../tools/render/renderProgram";
import {
  declaredNames,
  declaredObjects,
  findObject,
  gatewayRouteFile,
  resourcesOfType,
  runWith,
  useProgramMocks,
  validateObject,
  withRegistrations,
} from "./programHarness";

useProgramMocks();

const IMAGE = "registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0";

interface PodTemplate {
  spec: {
    template: {
      spec: {
        terminationGracePeriodSeconds?: number;
        containers: Array<
          Record<string, unknown> & {
            args?: string[];
            volumeMounts?: Record<string, unknown>[];
            lifecycle?: { preStop?: { exec?: { command?: string[] } } };
          }
        >;
        volumes?: Record<string, unknown>[];
      };
    };
  };
}

describe("standalone mode", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runWith({ mode: "standalone", gatewayImage: IMAGE, weightV2: "20" });
  });

  it("declares the echo app, a Service per version, the route ConfigMap and the gateway", () => {
    expect(declaredNames(run)).toEqual([
      "ConfigMap/tcp-echo-routes",
      "Deployment/tcp-echo-gateway",
      "Deployment/tcp-echo-v1",
      "Deployment/tcp-echo-v2",
      "NetworkPolicy/tcp-echo",
      "NetworkPolicy/tcp-echo-gateway",
      "Service/tcp-echo",
      "Service/tcp-echo-gateway",
      "Service/tcp-echo-v1",
      "Service/tcp-echo-v2",
    ]);
    for (const { object, provider } of declaredObjects(run)) {
      expect(validateObject(object), object.kind).toBe(true);
      expect(provider).toBe(DATA_PLANE_PROVIDER_NAME);
    }
  });

  it("uses one provider with the ambient kubeconfig when no access is configured", () => {
    const providers = resourcesOfType(run, "pulumi:providers:kubernetes");
    expect(providers.map((p) => p.name)).toEqual([DATA_PLANE_PROVIDER_NAME]);
    expect(providers[0]?.inputs.kubeconfig).toBeUndefined();
    // The route ConfigMap is updated in place, not replaced (delete + create of a fixed name).
    expect(providers[0]?.inputs.enableConfigMapMutable).toBe("true");
  });

  it("the ConfigMap holds a valid route file: 80/20 to the version Services", () => {
    const routes = gatewayRouteFile(run);
    expect(routes.listeners).toHaveLength(1);
    expect(routes.listeners[0]).toMatchObject({
      name: "tcp-echo",
      listen: "0.0.0.0:31400",
      balance: "smooth",
      routes: [
        { name: "v1", weight: 80, endpoints: ["tcp-echo-v1.default.svc.cluster.local:9000"] },
        { name: "v2", weight: 20, endpoints: ["tcp-echo-v2.default.svc.cluster.local:9000"] },
      ],
    });
  });

  it("mounts the ConfigMap as a directory (no subPath, so updates reach the pod)", () => {
    const object = findObject(run, "Deployment", "tcp-echo-gateway")
      .object as unknown as PodTemplate;
    const pod = object.spec.template.spec;
    const container = pod.containers[0];
    expect(container?.image).toBe(IMAGE);
    // The image's entrypoint runs the gateway for a first argument "gateway" and hands it the rest.
    const entrypoint = readFileSync(
      join(__dirname, "../../dataplane/docker-entrypoint.sh"),
      "utf8",
    );
    // ...with the gateway's node flags (the ones the benchmark measured).
    const execLine = `    exec node ${GATEWAY_NODE_FLAGS.join(" ")} /app/dist/dataplane/gateway/gatewayMain.js "$@"`;
    expect(entrypoint).toMatch(/^ {2}gateway\)\n {4}shift\n/m);
    const gatewayCase = entrypoint.slice(entrypoint.indexOf("  gateway)"));
    const gatewayLines = gatewayCase.slice(0, gatewayCase.indexOf(";;")).split("\n");
    expect(gatewayLines).toContain(execLine);
    for (const [name, value] of Object.entries(GATEWAY_ENV))
      expect(gatewayLines).toContain(`    export ${name}=${value}`);
    const [program, ...gatewayArgs] = container?.args ?? [];
    expect(program).toBe("gateway");
    expect(parseGatewayArgs(gatewayArgs)).toMatchObject({
      config: `${GATEWAY_ROUTES_DIR}/${GATEWAY_ROUTES_FILE}`,
      admin: "0.0.0.0:9901",
      drainSeconds: 25,
    });
    expect(container?.lifecycle?.preStop?.exec?.command).toEqual(["sleep", "5"]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(5 + 25);
    const mount = container?.volumeMounts?.find((m) => m.mountPath === GATEWAY_ROUTES_DIR);
    expect(mount).toEqual({ name: "routes", mountPath: GATEWAY_ROUTES_DIR, readOnly: true });
    expect(pod.volumes).toContainEqual({ name: "routes", configMap: { name: "tcp-echo-routes" } });
    expect(container?.readinessProbe).toMatchObject({
      httpGet: { path: "/readyz", port: "admin" },
    });
    expect(container?.livenessProbe).toMatchObject({
      httpGet: { path: "/healthz", port: "admin" },
    });
    expect(container?.resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    });
  });

  it("exposes the gateway on the ingress port through a LoadBalancer Service with the CLB", () => {
    const { object } = findObject(run, "Service", "tcp-echo-gateway");
    expect(object.metadata.annotations).toEqual({
      [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
    });
    expect(object.spec).toEqual({
      type: "LoadBalancer",
      selector: { app: "tcp-echo-gateway" },
      ports: [{ name: "tcp", port: 31400, targetPort: "tcp", protocol: "TCP" }],
    });
  });
});

describe("standalone mode with gatewayBuild", () => {
  it("builds gateway/ and pushes it with the registry password as a secret", async () => {
    const run = await runWith(
      {
        mode: "standalone",
        gatewayImage: IMAGE,
        gatewayBuild: "true",
        registryUsername: "builder@acme",
        registryPassword: "hunter2",
      },
      ["registryPassword"],
    );
    const [image] = resourcesOfType(run, "docker-build:index:Image");
    expect(image?.inputs).toMatchObject({
      context: { location: "." },
      dockerfile: { location: "dataplane/Dockerfile" },
      push: true,
      tags: [IMAGE],
    });
    const registries = image?.inputs.registries;
    // The whole list is secret (the engine lifts nested secrets to the top property).
    expect(isSecretValue(registries)).toBe(true);
    expect((registries as { value: unknown }).value).toEqual([
      {
        address: "registry.cn-hangzhou.aliyuncs.com",
        username: "builder@acme",
        password: "hunter2",
      },
    ]);
    const deployment = findObject(run, "Deployment", "tcp-echo-gateway")
      .object as unknown as PodTemplate;
    expect(deployment.spec.template.spec.containers[0]?.image).toBe(
      `${IMAGE}@sha256:(known after up)`,
    );
  });
});

describe("standalone mode, resource names", () => {
  it("keeps the URNs the gateway had before it was shared with the splitter", async () => {
    const { registrations } = await withRegistrations(() =>
      runWith({ mode: "standalone", gatewayImage: IMAGE }),
    );
    const gateway = "urn:pulumi:dev::tcp-shift::tcp-shift:gateway:StandaloneGateway";
    const urns = registrations.map((r) => r.urn).filter((urn) => urn.startsWith(gateway));
    expect(urns.sort()).toEqual(
      [
        `${gateway}::tcp-echo-gateway`,
        `${gateway}$kubernetes:apps/v1:Deployment::tcp-echo-gateway-deployment`,
        `${gateway}$kubernetes:core/v1:ConfigMap::tcp-echo-gateway-routes`,
        `${gateway}$kubernetes:core/v1:Service::tcp-echo-gateway-service`,
        `${gateway}$kubernetes:networking.k8s.io/v1:NetworkPolicy::tcp-echo-gateway-network-policy`,
      ].sort(),
    );
  });
});

describe("standalone mode, gateway options", () => {
  it("gatewayProxyProtocol: the CLB sends PROXY v2 (annotation) and the gateway expects it", async () => {
    const run = await runWith({
      mode: "standalone",
      gatewayImage: IMAGE,
      gatewayProxyProtocol: "true",
    });
    expect(findObject(run, "Service", "tcp-echo-gateway").object.metadata.annotations).toEqual({
      [CLB_ANNOTATIONS.id]: "tcp-echo-clb-load-balancer id (known after up)",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
      [CLB_ANNOTATIONS.proxyProtocol]: "on",
    });
    expect(gatewayRouteFile(run).listeners[0]?.proxyProtocol).toBe(true);
    // No mesh here: no Istio annotations on the pods.
    const deployment = findObject(run, "Deployment", "tcp-echo-gateway").object as unknown as {
      spec: { template: { metadata: Record<string, unknown> } };
    };
    expect(deployment.spec.template.metadata).toEqual({ labels: { app: "tcp-echo-gateway" } });
  });

  it("gatewayBalance sticky: externalTrafficPolicy Local keeps the client's address", async () => {
    const run = await runWith({
      mode: "standalone",
      gatewayImage: IMAGE,
      gatewayBalance: "sticky",
    });
    const { object } = findObject(run, "Service", "tcp-echo-gateway");
    expect(object.spec).toMatchObject({ type: "LoadBalancer", externalTrafficPolicy: "Local" });
    expect(validateObject(object)).toBe(true);
    const smooth = await runWith({ mode: "standalone", gatewayImage: IMAGE });
    expect(findObject(smooth, "Service", "tcp-echo-gateway").object.spec).not.toHaveProperty(
      "externalTrafficPolicy",
    );
  });

  it("two or more pods: a PodDisruptionBudget and a spread over zones and nodes", async () => {
    const single = await runWith({ mode: "standalone", gatewayImage: IMAGE });
    expect(declaredObjects(single).filter((d) => d.object.kind === "PodDisruptionBudget")).toEqual(
      [],
    );
    const run = await runWith({ mode: "standalone", gatewayImage: IMAGE, gatewayReplicas: "2" });
    const budget = findObject(run, "PodDisruptionBudget", "tcp-echo-gateway").object;
    expect(budget.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { app: "tcp-echo-gateway" } },
    });
    expect(validateObject(budget)).toBe(true);
    const pod = (
      findObject(run, "Deployment", "tcp-echo-gateway").object as unknown as {
        spec: { template: { spec: { topologySpreadConstraints?: unknown } } };
      }
    ).spec.template.spec;
    const spread = (topologyKey: string) => ({
      maxSkew: 1,
      topologyKey,
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: { app: "tcp-echo-gateway" } },
    });
    expect(pod.topologySpreadConstraints).toEqual([
      spread("topology.kubernetes.io/zone"),
      spread("kubernetes.io/hostname"),
    ]);
  });

  it("NetworkPolicies: the data port from anywhere, the admin port from the namespace and metricsNamespace", async () => {
    const run = await runWith({
      mode: "standalone",
      gatewayImage: IMAGE,
      metricsNamespace: "monitoring",
    });
    const gateway = findObject(run, "NetworkPolicy", "tcp-echo-gateway").object;
    expect(gateway.spec).toEqual({
      podSelector: { matchLabels: { app: "tcp-echo-gateway" } },
      policyTypes: ["Ingress"],
      ingress: [
        { ports: [{ port: 31400, protocol: "TCP" }] },
        {
          ports: [{ port: 9901, protocol: "TCP" }],
          from: [
            { podSelector: {} },
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
          ],
        },
      ],
    });
    // The app's pods: only from their namespace (the gateway); no mesh, no sidecar port.
    const app = findObject(run, "NetworkPolicy", "tcp-echo").object;
    expect(app.spec).toEqual({
      podSelector: { matchLabels: { app: "tcp-echo" } },
      policyTypes: ["Ingress"],
      ingress: [{ ports: [{ port: 9000, protocol: "TCP" }], from: [{ podSelector: {} }] }],
    });
  });
});
