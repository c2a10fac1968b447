/**
 * D-d under the mock runtime: the CLB annotations are one value per key, so a key whose value is
 * known (`force-override-listeners`, the ACL's status and type) stays known while an id is not.
 * The real engine's preview shows the same (test/cluster/clbAnnotations.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { Clb } from "../../infra/components/clb";
import { parseConfig } from "../../infra/config/config";
import { toStackSettings } from "../../infra/config/settings";
import { CLB_ANNOTATIONS } from "../../infra/constants";
import { useProgramMocks } from "./programHarness";

useProgramMocks();

const clbSettings = (raw: Record<string, string>) =>
  toStackSettings(parseConfig({ mode: "istio", ...raw })).clb;

describe("Clb annotations", () => {
  it("are a record of per-key values: ids are Outputs, every other key a plain string", () => {
    const clb = new Clb("unit-clb", {
      config: clbSettings({ allowedCidrs: '["203.0.113.0/24"]' }),
      cloudName: "unit",
    });
    expect(pulumi.Output.isInstance(clb.annotations)).toBe(false);
    expect(
      Object.fromEntries(
        Object.entries(clb.annotations).map(([key, value]) => [
          key,
          pulumi.Output.isInstance(value) ? "(Output)" : value,
        ]),
      ),
    ).toEqual({
      [CLB_ANNOTATIONS.id]: "(Output)",
      [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
      [CLB_ANNOTATIONS.aclStatus]: "on",
      [CLB_ANNOTATIONS.aclId]: "(Output)",
      [CLB_ANNOTATIONS.aclType]: "white",
    });
  });

  it("with clb controller are all known strings", () => {
    const clb = new Clb("unit-controller", { config: clbSettings({ clb: "controller" }) });
    expect(Object.values(clb.annotations).every((value) => typeof value === "string")).toBe(true);
  });
});
