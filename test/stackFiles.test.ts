/** The committed stack files validate, keep access out, and prod is production-shaped. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../infra/config/config";
import { isSecureValue, parseStackConfig } from "../infra/config/stackFile";
import { committedRootFiles, committedText } from "./committedFiles";

const stackFiles = committedRootFiles(/^Pulumi\.[^.]+\.yaml$/);
const committedConfig = (file: string) => parseStackConfig(committedText(file), file);

describe("committed stack files", () => {
  it("include dev and prod", () => {
    expect(stackFiles).toEqual(expect.arrayContaining(["Pulumi.dev.yaml", "Pulumi.prod.yaml"]));
  });

  it.each(stackFiles)("%s passes the config schema", (file) => {
    expect(() => parseConfig(committedConfig(file), file)).not.toThrow();
  });

  it.each(stackFiles)("%s keeps cluster access and secrets out of the repository", (file) => {
    const raw = committedConfig(file);
    for (const key of ["kubeconfig", "meshKubeconfig", "clusterId", "meshId", "registryPassword"]) {
      expect(raw, `${file} must not commit ${key}`).not.toHaveProperty(key);
    }
    expect(Object.values(raw).some(isSecureValue), file).toBe(false);
  });

  it("dev is asm mode with one replica", () => {
    expect(parseConfig(committedConfig("Pulumi.dev.yaml"))).toMatchObject({
      mode: "asm",
      replicas: 1,
    });
  });

  it("prod runs two or more pods per version behind disruption budgets and a restricted CLB", () => {
    const prod = parseConfig(committedConfig("Pulumi.prod.yaml"));
    expect(prod.mode).toBe("asm");
    expect(prod.replicas).toBeGreaterThanOrEqual(2);
    expect(prod.podDisruptionBudget).toBe(true);
    expect(prod.clbAddressType === "intranet" || prod.allowedCidrs.length > 0).toBe(true);
  });
});
