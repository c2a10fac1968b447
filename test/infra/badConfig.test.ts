/**
 * Bad config fails before any resource is registered, with one pulumi.RunError whose message
 * lists every bad key, the value given and what is allowed: the exact text a user sees.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { lastRecorded } from "../../tools/render/renderProgram";
import { ASM_ACCESS, runWith, useProgramMocks } from "./programHarness";

useProgramMocks();

const HEAD = 'Invalid tcp-shift configuration in stack "dev":';

const CASES: Array<[string, Record<string, string>, string]> = [
  [
    "weightV2 120",
    { ...ASM_ACCESS, weightV2: "120" },
    `${HEAD}\n  - tcp-shift:weightV2 = "120": must be an integer from 0 to 100`,
  ],
  [
    "weightV2 -1",
    { ...ASM_ACCESS, weightV2: "-1" },
    `${HEAD}\n  - tcp-shift:weightV2 = "-1": must be an integer from 0 to 100`,
  ],
  [
    "weightV2 20.5",
    { ...ASM_ACCESS, weightV2: "20.5" },
    `${HEAD}\n  - tcp-shift:weightV2 = "20.5": must be an integer from 0 to 100`,
  ],
  [
    "weightV2 abc",
    { ...ASM_ACCESS, weightV2: "abc" },
    `${HEAD}\n  - tcp-shift:weightV2 = "abc": must be an integer from 0 to 100`,
  ],
  [
    "unknown mode",
    { ...ASM_ACCESS, mode: "linkerd" },
    `${HEAD}\n  - tcp-shift:mode = "linkerd": must be one of asm, istio, standalone`,
  ],
  [
    "ingress port out of range",
    { ...ASM_ACCESS, ingressPort: "70000" },
    `${HEAD}\n  - tcp-shift:ingressPort = "70000": must be an integer from 1 to 65535`,
  ],
  [
    "app port 0",
    { mode: "istio", appPort: "0" },
    `${HEAD}\n  - tcp-shift:appPort = "0": must be an integer from 1 to 65535`,
  ],
  [
    "several bad keys at once",
    { mode: "istio", weightV2: "120", ingressPort: "-5" },
    `${HEAD}\n  - tcp-shift:weightV2 = "120": must be an integer from 0 to 100\n  - tcp-shift:ingressPort = "-5": must be an integer from 1 to 65535`,
  ],
  [
    "a typo in a key",
    { mode: "istio", weightv2: "20" },
    `${HEAD}\n  - tcp-shift:weightv2 = "20": unknown key; known keys are `,
  ],
  [
    "allowedCidrs with a controller-made CLB",
    { mode: "istio", clb: "controller", allowedCidrs: '["10.0.0.0/8"]' },
    `${HEAD}\n  - tcp-shift:allowedCidrs = "[\\"10.0.0.0/8\\"]": needs clb create or reuse (this stack creates the CLB access list)`,
  ],
  [
    "asm mode with no way to reach the mesh",
    { clusterId: ASM_ACCESS.clusterId },
    [
      "Cluster access is not configured for this stack:",
      "  - ASM control plane (Istio resources and IstioGateway): set TCP_SHIFT_MESH_KUBECONFIG or TCP_SHIFT_MESH_ID (or the config key tcp-shift:meshKubeconfig / tcp-shift:meshId)",
      "      export TCP_SHIFT_MESH_KUBECONFIG=<path of the ASM kubeconfig>  (or: export TCP_SHIFT_MESH_ID=<ASM instance id>)",
    ].join("\n"),
  ],
  [
    "asm mode with no access at all",
    {},
    [
      "Cluster access is not configured for this stack:",
      "  - ACK data-plane cluster (ASM deploys the ingress gateway there): set TCP_SHIFT_CLUSTER_ID (or the config key tcp-shift:clusterId)",
      "      export TCP_SHIFT_CLUSTER_ID=<ACK cluster id>",
      "  - ASM control plane (Istio resources and IstioGateway): set TCP_SHIFT_MESH_KUBECONFIG or TCP_SHIFT_MESH_ID (or the config key tcp-shift:meshKubeconfig / tcp-shift:meshId)",
      "      export TCP_SHIFT_MESH_KUBECONFIG=<path of the ASM kubeconfig>  (or: export TCP_SHIFT_MESH_ID=<ASM instance id>)",
    ].join("\n"),
  ],
];

describe("bad config", () => {
  it("suggests the known key a typo was meant to be", async () => {
    const error = await runWith({ mode: "istio", weightv2: "20" }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message.endsWith("; did you mean tcp-shift:weightV2?")).toBe(true);
  });

  it.each(CASES)("%s", async (_name, config, message) => {
    const error = await runWith(config).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(pulumi.RunError.isInstance(error), String(error)).toBe(true);
    const text = (error as Error).message;
    if (message.endsWith("known keys are ")) expect(text.startsWith(message)).toBe(true);
    else expect(text).toBe(message);
    expect(lastRecorded().resources).toEqual([]);
    expect(lastRecorded().calls).toEqual([]);
  });

  it("never echoes a secret value", async () => {
    const error = await runWith({ mode: "istio", kubeconfig: "~/.kube/config", weightV2: "x" }, [
      "kubeconfig",
    ]).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toBe(
      `${HEAD}\n  - tcp-shift:weightV2 = "x": must be an integer from 0 to 100\n  - tcp-shift:kubeconfig = [secret]: must be the text of a kubeconfig (YAML with clusters:), not a path; set it with: pulumi config set --secret <key> < kubeconfig.yaml`,
    );
  });
});

describe("bad config with secrets", () => {
  it("does not echo the value of a mistyped key that was set as a secret", async () => {
    const error = await runWith({ mode: "istio", kubeconfg: "token: hunter2" }, ["kubeconfg"]).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(
      error?.message.startsWith(`${HEAD}\n  - tcp-shift:kubeconfg = [secret]: unknown key`),
    ).toBe(true);
  });
});
