import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../infra/config/config";
import { readStackConfig } from "../infra/config/stackFile";

const root = join(__dirname, "..");
const stackFiles = readdirSync(root).filter((file) => /^Pulumi\.[^.]+\.yaml$/.test(file));

describe("committed stack files", () => {
  it("include dev and prod", () => {
    expect(stackFiles).toEqual(expect.arrayContaining(["Pulumi.dev.yaml", "Pulumi.prod.yaml"]));
  });

  it.each(stackFiles)("%s passes the config schema", (file) => {
    expect(() => parseConfig(readStackConfig(join(root, file)), file)).not.toThrow();
  });

  it.each(stackFiles)("%s keeps cluster and mesh access out of the repository", (file) => {
    const raw = readStackConfig(join(root, file));
    for (const key of ["kubeconfig", "meshKubeconfig", "clusterId", "meshId", "registryPassword"]) {
      expect(raw, `${file} must not commit ${key}`).not.toHaveProperty(key);
    }
  });

  it("prod runs two or more pods per version behind disruption budgets and a restricted CLB", () => {
    const prod = parseConfig(readStackConfig(join(root, "Pulumi.prod.yaml")));
    expect(prod.mode).toBe("asm");
    expect(prod.replicas).toBeGreaterThanOrEqual(2);
    expect(prod.podDisruptionBudget).toBe(true);
    expect(prod.clbAddressType === "intranet" || prod.allowedCidrs.length > 0).toBe(true);
  });
});
