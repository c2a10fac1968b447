/** Config shaped by mode: each mode's settings hold what it needs, and no credential. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../infra/config/config";
import { durationSeconds, toStackSettings } from "../../infra/config/settings";

const KUBECONFIG =
  "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: u\n  user:\n    token: s3cr3t-token\n";

describe("toStackSettings", () => {
  it("asm: the ACK cluster id and both access sources, mesh routing, no bundled gateway", () => {
    const settings = toStackSettings(
      parseConfig({ mode: "asm", clusterId: "c1234567890abc", meshId: "c0987654321abc" }),
    );
    expect(settings).toMatchObject({
      mode: "asm",
      clusterId: "c1234567890abc",
      access: {
        dataPlane: { source: "clusterId", clusterId: "c1234567890abc" },
        mesh: { source: "meshId", meshId: "c0987654321abc" },
      },
      routing: { api: "istio", apiVersion: "networking.istio.io/v1beta1" },
      splitter: "mesh",
      ingress: { port: 31400, replicas: 1 },
      app: { name: "tcp-echo", port: 9000, prefixes: { v1: "one", v2: "two" } },
    });
    expect(settings).not.toHaveProperty("gateway");
  });

  it("carries no credential: kubeconfigs and the registry password stay out", () => {
    const settings = toStackSettings(
      parseConfig({
        mode: "standalone",
        kubeconfig: KUBECONFIG,
        gatewayImage: "example.com/gw:1",
        gatewayBuild: "true",
        registryUsername: "builder",
        registryPassword: "hunter2-password",
      }),
    );
    const text = JSON.stringify(settings);
    expect(text).not.toContain("s3cr3t-token");
    expect(text).not.toContain("hunter2-password");
    expect(settings.access.dataPlane).toEqual({ source: "kubeconfig" });
    expect(settings.mode === "standalone" && settings.gateway.build).toEqual({
      username: "builder",
    });
  });

  it("istio with splitter gateway: the bundled gateway's settings, drain in seconds", () => {
    const settings = toStackSettings(
      parseConfig({
        mode: "istio",
        splitter: "gateway",
        gatewayImage: "example.com/gw:1",
        gatewayBalance: "sticky",
        drainAfter: "1h30m",
        drainRate: "25",
        gatewayProxyProtocol: "true",
      }),
    );
    expect(settings).toMatchObject({
      mode: "istio",
      splitter: "gateway",
      access: { dataPlane: { source: "ambient" } },
      gateway: {
        image: "example.com/gw:1",
        balance: "sticky",
        drainAfterSeconds: 5400,
        drainRate: 25,
        proxyProtocol: true,
      },
    });
  });

  it("gateway-api routing carries its class and TCPRoute version", () => {
    const settings = toStackSettings(
      parseConfig({
        mode: "istio",
        routingApi: "gateway-api",
        tcpRouteApiVersion: "gateway.networking.k8s.io/v1",
      }),
    );
    expect(settings.mode !== "standalone" && settings.routing).toEqual({
      api: "gateway-api",
      gatewayClassName: "istio",
      tcpRouteApiVersion: "gateway.networking.k8s.io/v1",
      istioApiVersion: "networking.istio.io/v1beta1",
    });
  });
});

describe("durations", () => {
  it.each([
    ["30s", 30],
    ["10m", 600],
    ["1h", 3600],
    ["1h30m", 5400],
    ["2h0m5s", 7205],
  ])("%s is %d seconds", (text, seconds) => {
    expect(durationSeconds(text)).toBe(seconds);
  });
});

describe("rules of the new keys", () => {
  const problems = (raw: Record<string, string>): string => {
    try {
      parseConfig(raw);
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };

  it("drainAfter must be a duration", () => {
    expect(
      problems({ mode: "standalone", gatewayImage: "example.com/gw:1", drainAfter: "soon" }),
    ).toContain(
      'tcp-shift:drainAfter = "soon": must be a duration such as 30s, 10m, 1h or 1h30m (empty: never)',
    );
  });

  it("the bundled gateway's options need the bundled gateway", () => {
    const message = problems({ mode: "istio", gatewayBalance: "sticky", drainAfter: "10m" });
    expect(message).toContain(
      'tcp-shift:gatewayBalance = "sticky": is only allowed with the bundled gateway (standalone mode or splitter gateway)',
    );
    expect(message).toContain(
      'tcp-shift:drainAfter = "10m": is only allowed with the bundled gateway',
    );
  });

  it("splitter gateway needs the gateway image; standalone has no splitter or routing API", () => {
    expect(problems({ mode: "istio", splitter: "gateway" })).toContain(
      "tcp-shift:gatewayImage = (unset): is required with splitter gateway",
    );
    const standalone = problems({
      mode: "standalone",
      gatewayImage: "example.com/gw:1",
      splitter: "gateway",
      routingApi: "gateway-api",
    });
    expect(standalone).toContain(
      'tcp-shift:splitter = "gateway": is only allowed in asm and istio modes',
    );
    expect(standalone).toContain(
      'tcp-shift:routingApi = "gateway-api": is only allowed in asm and istio modes',
    );
  });
});

describe("image references", () => {
  const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
  const imageProblem = (image: string): string => {
    try {
      parseConfig({ imageV1: image, imageV2: image, mode: "standalone", gatewayImage: image });
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };

  it.each([
    "docker.io/istio/tcp-echo-server:1.1",
    "istio/tcp-echo-server",
    "localhost:5000/gw:1",
    "registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0",
    `registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway@${DIGEST}`,
    `registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0@${DIGEST}`,
    `docker.io/istio/tcp-echo-server:1.1@${DIGEST}`,
  ])("accepts %s for imageV1, imageV2 and gatewayImage", (image) => {
    expect(imageProblem(image)).toBe("");
  });

  it.each([
    "docker.io/istio/tcp-echo-server:1.1 ",
    "Istio/tcp-echo-server:1.1",
    "istio/tcp-echo-server:1:1",
    "istio/tcp-echo-server:",
    "istio/tcp-echo-server@sha256:0123",
    `istio/tcp-echo-server@md5:${"0123456789abcdef".repeat(2)}`,
    `istio/tcp-echo-server@${DIGEST}:1.1`,
    `istio/tcp-echo-server@${DIGEST.toUpperCase()}`,
    "istio//tcp-echo-server",
  ])("refuses %s, naming each key", (image) => {
    const message = imageProblem(image);
    for (const key of ["imageV1", "imageV2", "gatewayImage"])
      expect(message).toContain(
        `tcp-shift:${key} = ${JSON.stringify(image)}: must be a container image reference such as docker.io/istio/tcp-echo-server:1.1, repo@sha256:<64 hex digits> or repo:tag@sha256:<64 hex digits>`,
      );
  });
});
