/** The testbed's pure parts, without Go or a control plane: `npm run cluster` options and env, the ASM stand-in's objects. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { envLines, parseDelay } from "../../testbed/cluster";
import { asmGatewayObjects, clbAddress } from "../../testbed/emulator";

describe("npm run cluster", () => {
  const dir = mkdtempSync(join(tmpdir(), "tcp-shift-cluster-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads delays as durations", () => {
    expect(parseDelay("8s", "--asm-delay")).toBe(8000);
    expect(parseDelay("500ms", "--asm-delay")).toBe(500);
    expect(parseDelay("1m", "--asm-delay")).toBe(60000);
    expect(() => parseDelay("soon", "--asm-delay")).toThrow(
      "--asm-delay soon: expected a duration such as 500ms, 8s or 1m",
    );
  });

  it("refuses a delay without a unit, except 0 (8 could mean 8 ms or 8 s)", () => {
    expect(parseDelay("0", "--pod-delay")).toBe(0);
    expect(() => parseDelay("8", "--asm-delay")).toThrow(
      "--asm-delay 8: expected a duration such as 500ms, 8s or 1m",
    );
  });

  it("env prints only export lines: built tools first on PATH, both kubeconfigs, the file backend", () => {
    writeFileSync(
      join(dir, "state.json"),
      JSON.stringify({
        clusters: {
          data: { kubeconfig: join(dir, "data.kubeconfig") },
          mesh: { kubeconfig: join(dir, "mesh.kubeconfig") },
        },
      }),
    );
    const lines = envLines(dir, {
      pulumi: "/tools/pulumi-v3/pulumi",
      kubectl: "/tools/kubernetes-v1/kubectl",
      etcd: "/tools/etcd-v3/etcd",
    });
    expect(lines.every((line) => /^export [A-Z_]+=/.test(line))).toBe(true);
    expect(lines[0]).toBe(
      `export PATH='/tools/pulumi-v3:/tools/kubernetes-v1:/tools/etcd-v3':"$PATH"`,
    );
    const vars = Object.fromEntries(
      lines.slice(1).map((line) => {
        const [, name, value] = /^export ([A-Z_]+)='(.*)'$/.exec(line) ?? [];
        return [name, value];
      }),
    );
    expect(vars).toMatchObject({
      KUBECONFIG: join(dir, "data.kubeconfig"),
      TCP_SHIFT_KUBECONFIG: join(dir, "data.kubeconfig"),
      TCP_SHIFT_MESH_KUBECONFIG: join(dir, "mesh.kubeconfig"),
      TCP_SHIFT_CLUSTER_ID: "ctestbeddata01",
      TCP_SHIFT_MESH_ID: "ctestbedmesh01",
      TCP_SHIFT_TESTBED_STATE: dir,
      PULUMI_BACKEND_URL: `file://${join(dir, "backend")}`,
      PULUMI_CONFIG_PASSPHRASE: "tcp-shift-local",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
      PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
    });
    expect(vars.PULUMI_HOME).toMatch(/pulumi-home$/);
  });

  it("env without running control planes says how to start them", () => {
    expect(() => envLines(join(dir, "none"), {})).toThrow(
      /^no local control planes in .*none: run npm run cluster -- up$/,
    );
  });
});

describe("the ASM stand-in", () => {
  it("makes istio-<name> with the IstioGateway's ports, annotations and pod labels", () => {
    const { deployment, service } = asmGatewayObjects({
      metadata: { name: "app-ingressgateway", namespace: "istio-system" },
      spec: {
        clusterIds: ["c1"],
        ports: [{ name: "tcp", port: 31400, targetPort: 31400, protocol: "TCP" }],
        serviceAnnotations: { "example.com/a": "b" },
        podLabels: { "tcp-shift/ingress-gateway": "app-ingressgateway" },
        replicaCount: 2,
      },
    }) as {
      deployment: {
        metadata: { name: string };
        spec: { replicas: number; template: { metadata: { labels: object } } };
      };
      service: { metadata: { name: string; annotations: object }; spec: object };
    };
    expect(deployment.metadata.name).toBe("istio-app-ingressgateway");
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.metadata.labels).toEqual({
      "tcp-shift/ingress-gateway": "app-ingressgateway",
      app: "istio-app-ingressgateway",
      istio: "app-ingressgateway",
    });
    expect(service.metadata).toMatchObject({
      name: "istio-app-ingressgateway",
      annotations: { "example.com/a": "b" },
    });
    expect(service.spec).toEqual({
      type: "LoadBalancer",
      selector: { app: "istio-app-ingressgateway", istio: "app-ingressgateway" },
      ports: [{ name: "tcp", port: 31400, targetPort: 31400, protocol: "TCP" }],
    });
  });

  it("gives a CLB id one TEST-NET-1 address, the same every time", () => {
    expect(clbAddress("lb-testbed0123")).toBe(clbAddress("lb-testbed0123"));
    expect(clbAddress("lb-testbed0123")).toMatch(/^192\.0\.2\.(2[0-4]\d)$/);
  });
});
