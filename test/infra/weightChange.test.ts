/**
 * Property: a change of `weightV2` alone changes the inputs of exactly one resource (the
 * VirtualService or the TCPRoute; with the bundled gateway, standalone or splitter, its route
 * ConfigMap: no Deployment rolls) and no resource name. Random pairs of
 * weights from a seeded generator, so a failure reproduces.
 */
import { describe, expect, it } from "vitest";
import type { ProgramRun } from "../../tools/render/renderProgram";
import { revealSecrets } from "../../tools/render/renderProgram";
import { seededRandom } from "../seededRandom";
import { ASM_ACCESS, runWith, useProgramMocks } from "./programHarness";

useProgramMocks();

/** Pairs of distinct weights: the edges, then random ones. */
function weightPairs(seed: number, count: number): [number, number][] {
  const next = seededRandom(seed);
  const pairs: [number, number][] = [
    [0, 100],
    [0, 20],
    [20, 80],
  ];
  while (pairs.length < count) {
    const a = Math.floor(next() * 101);
    const b = Math.floor(next() * 101);
    if (a !== b) pairs.push([a, b]);
  }
  return pairs;
}

/** `type::name` → inputs (as JSON) of every registered resource. */
function inputsByResource(run: ProgramRun): Map<string, string> {
  const out = new Map<string, string>();
  for (const resource of run.resources) {
    const key = `${resource.type}::${resource.name}`;
    if (out.has(key)) throw new Error(`duplicate resource ${key}`);
    out.set(key, JSON.stringify(revealSecrets(resource.inputs)));
  }
  return out;
}

const GATEWAY_IMAGE = "registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0";

const MODES = [
  {
    mode: "asm",
    config: { ...ASM_ACCESS, allowedCidrs: '["203.0.113.0/24"]' },
    changes:
      "kubernetes:networking.istio.io/v1beta1:VirtualService::tcp-echo-routes-virtual-service",
  },
  {
    mode: "istio",
    config: { mode: "istio", clb: "reuse", clbId: "lb-2zeabc123" },
    changes:
      "kubernetes:networking.istio.io/v1beta1:VirtualService::tcp-echo-routes-virtual-service",
  },
  {
    mode: "standalone",
    config: {
      mode: "standalone",
      gatewayImage: "registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0",
      gatewayReplicas: "2",
    },
    changes: "kubernetes:core/v1:ConfigMap::tcp-echo-gateway-routes",
  },
  {
    mode: "asm, routingApi gateway-api",
    config: { ...ASM_ACCESS, routingApi: "gateway-api" },
    changes: "kubernetes:gateway.networking.k8s.io/v1alpha2:TCPRoute::tcp-echo-routes-tcp-route",
  },
  {
    mode: "istio, routingApi gateway-api",
    config: { mode: "istio", routingApi: "gateway-api", clb: "controller" },
    changes: "kubernetes:gateway.networking.k8s.io/v1alpha2:TCPRoute::tcp-echo-routes-tcp-route",
  },
  {
    // No Envoy listener is rewritten and no pod rolls: the ConfigMap alone changes.
    mode: "asm, splitter gateway",
    config: { ...ASM_ACCESS, splitter: "gateway", gatewayImage: GATEWAY_IMAGE },
    changes: "kubernetes:core/v1:ConfigMap::tcp-echo-gateway-routes",
  },
  {
    mode: "istio, splitter gateway, gateway-api, PROXY protocol, two pods",
    config: {
      mode: "istio",
      routingApi: "gateway-api",
      splitter: "gateway",
      gatewayImage: GATEWAY_IMAGE,
      gatewayProxyProtocol: "true",
      gatewayReplicas: "2",
    },
    changes: "kubernetes:core/v1:ConfigMap::tcp-echo-gateway-routes",
  },
] as const;

describe.each(MODES)("$mode mode: weightV2 changes one resource", ({ config, changes }) => {
  it("for random pairs of weights (seed 20261125)", async () => {
    const runs = new Map<number, Map<string, string>>();
    const resourcesAt = async (weight: number) => {
      let found = runs.get(weight);
      if (!found) {
        found = inputsByResource(await runWith({ ...config, weightV2: String(weight) }));
        runs.set(weight, found);
      }
      return found;
    };
    for (const [a, b] of weightPairs(20261125, 6)) {
      const before = await resourcesAt(a);
      const after = await resourcesAt(b);
      expect([...after.keys()].sort(), `names ${a} → ${b}`).toEqual([...before.keys()].sort());
      const changed = [...before.keys()].filter((key) => before.get(key) !== after.get(key));
      expect(changed, `changed ${a} → ${b}`).toEqual([changes]);
    }
  });
});
