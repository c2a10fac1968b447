/**
 * Upstream schemas and the tutorial comparison, without Pulumi: the pure-builder tests and the
 * mock-runtime tests share them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Gateway as GatewayApiGateway } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import { TCPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/TCPRoute";
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule";
import { Gateway } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";

/**
 * Fields the program adds to the tutorial's Deployments, and nothing else: the namespace, the
 * "restricted" pod security settings, resources and probes.
 */
export const HARDENING_ADDITIONS = [
  "metadata.namespace",
  "spec.template.spec.automountServiceAccountToken",
  "spec.template.spec.securityContext",
  "spec.template.spec.containers[*].securityContext",
  "spec.template.spec.containers[*].resources",
  "spec.template.spec.containers[*].readinessProbe",
  "spec.template.spec.containers[*].livenessProbe",
] as const;

/** Enough of a Kubernetes object to find it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [field: string]: unknown;
}

const ISTIO_MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Gateway,
  VirtualService,
  DestinationRule,
};
const CORE_MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment,
  Service,
  ConfigMap,
  PodDisruptionBudget,
  NetworkPolicy,
};
/** The Gateway API's models (@kubernetes-models/gateway-api): Gateway v1, TCPRoute v1alpha2. */
const GATEWAY_API_MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Gateway: GatewayApiGateway,
  TCPRoute,
};

/**
 * Validate against the upstream schema (kubernetes-models, @kubernetes-models/istio,
 * @kubernetes-models/gateway-api). Istio v1 and v1alpha3 serve the v1beta1 schema; a TCPRoute
 * v1 (promoted) is checked against the v1alpha2 schema it was promoted with. ASM's IstioGateway
 * has no published schema and is checked field by field by the tests instead. Returns false for
 * kinds without a model.
 */
export function validateObject(object: KubeObject): boolean {
  if (object.apiVersion.startsWith("gateway.networking.k8s.io/")) {
    const Model = GATEWAY_API_MODELS[object.kind];
    if (!Model) throw new Error(`no model for ${object.kind}`);
    const apiVersion =
      object.kind === "TCPRoute" ? "gateway.networking.k8s.io/v1alpha2" : object.apiVersion;
    new Model({ ...object, apiVersion } as never).validate();
    return true;
  }
  if (object.apiVersion.startsWith("networking.istio.io/")) {
    const Model = ISTIO_MODELS[object.kind];
    if (!Model) throw new Error(`no model for ${object.kind}`);
    new Model({ ...object, apiVersion: "networking.istio.io/v1beta1" } as never).validate();
    return true;
  }
  const Model = CORE_MODELS[object.kind];
  if (!Model) return false;
  new Model(object as never).validate();
  return true;
}

/**
 * The objects of a fixture file: the ASM tutorial's (`test/fixtures/tutorial/<file>`) or, with
 * `folder`, another upstream sample's (`test/fixtures/<folder>/<file>`).
 */
export function tutorialObjects(file: string, folder = "tutorial"): KubeObject[] {
  const text = readFileSync(join(__dirname, "..", "fixtures", folder, file), "utf8");
  return parseAllDocuments(text).map((doc) => doc.toJS() as KubeObject);
}

function matchesPattern(path: string, pattern: string): boolean {
  const regex = new RegExp(
    `^${pattern.replace(/[.[\]]/g, (c) => `\\${c}`).replace(/\\\[\*\\\]/g, "\\[\\d+\\]")}(\\.|\\[|$)`,
  );
  return regex.test(path);
}

/**
 * Differences between a declared object and the tutorial's: every tutorial field must be equal;
 * a field the tutorial lacks is allowed only under one of `additions` (`a.b[*].c` patterns).
 * Returns one line per difference (empty when they match).
 */
export function tutorialDifferences(
  actual: unknown,
  expected: unknown,
  additions: readonly string[],
  path = "",
): string[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected a list, got ${JSON.stringify(actual)}`];
    const out: string[] = [];
    if (actual.length !== expected.length)
      out.push(`${path}: expected ${expected.length} items, got ${actual.length}`);
    expected.forEach((item, i) => {
      out.push(...tutorialDifferences(actual[i], item, additions, `${path}[${i}]`));
    });
    return out;
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual))
      return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    const out: string[] = [];
    for (const [key, value] of Object.entries(expected)) {
      out.push(
        ...tutorialDifferences(
          (actual as Record<string, unknown>)[key],
          value,
          additions,
          path ? `${path}.${key}` : key,
        ),
      );
    }
    for (const key of Object.keys(actual)) {
      if (key in expected) continue;
      const added = path ? `${path}.${key}` : key;
      if (!additions.some((pattern) => matchesPattern(added, pattern)))
        out.push(`${added}: not in the tutorial and not a documented addition`);
    }
    return out;
  }
  return Object.is(actual, expected)
    ? []
    : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}
