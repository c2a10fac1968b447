/**
 * The tree is the architecture: the Pulumi program (index.ts, infra/), the data plane
 * (dataplane/), the tools, and one contract between them. These rules keep it so: what crosses
 * between the Pulumi side and the data plane goes through contract/, the data plane never loads
 * Pulumi (the image carries only what dataplane/ requires), and the stand-ins for the cloud
 * (testbed/) are never imported by the product.
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every import of `file`: local ones as repo-relative paths, packages by name. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const local: string[] = [];
  const packages: string[] = [];
  for (const match of readFileSync(join(ROOT, file), "utf8").matchAll(IMPORT)) {
    const specifier = match[1] as string;
    if (specifier.startsWith(".")) local.push(normalize(join(dirname(file), specifier)));
    else if (
      specifier.startsWith("node:") ||
      builtinModules.includes(specifier.split("/")[0] ?? "")
    )
      continue;
    else {
      const parts = specifier.split("/");
      packages.push(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? ""));
    }
  }
  return { local, packages };
}

const top = (path: string): string => (path.includes("/") ? (path.split("/")[0] ?? path) : path);

/** Packages the data-plane image ships (dataplane/runtimeDependencies.ts copies these). */
const DATA_PLANE_PACKAGES = ["prom-client", "yaml", "zod"];

describe("architecture", () => {
  it("contract/ depends on nothing of ours, and only on zod and yaml", () => {
    for (const file of sources("contract")) {
      const { local, packages } = importsOf(file);
      expect(
        local.map(top).filter((dir) => dir !== "contract"),
        file,
      ).toEqual([]);
      expect(
        packages.filter((name) => !["zod", "yaml"].includes(name)),
        file,
      ).toEqual([]);
    }
  });

  it("dataplane/ imports only itself and contract/, and no Pulumi", () => {
    for (const file of sources("dataplane")) {
      const { local, packages } = importsOf(file);
      expect(
        local.map(top).filter((dir) => dir !== "dataplane" && dir !== "contract"),
        file,
      ).toEqual([]);
      expect(
        packages.filter((name) => !DATA_PLANE_PACKAGES.includes(name)),
        file,
      ).toEqual([]);
    }
  });

  it("infra/ and index.ts import only infra/ and contract/", () => {
    for (const file of [...sources("infra"), "index.ts"]) {
      const { local } = importsOf(file);
      expect(
        local.map(top).filter((dir) => dir !== "infra" && dir !== "contract"),
        file,
      ).toEqual([]);
    }
  });

  it("nothing the product runs imports testbed/ (the stand-ins for the cloud)", () => {
    for (const file of [
      "index.ts",
      ...sources("infra"),
      ...sources("dataplane"),
      ...sources("contract"),
      ...sources("tools"),
    ]) {
      expect(importsOf(file).local.map(top), file).not.toContain("testbed");
    }
  });

  it("sees the imports it checks (the rules above cannot pass vacuously)", () => {
    expect(importsOf("dataplane/gateway/gatewayMain.ts").local).toContain("contract/routeFile");
    expect(importsOf("index.ts").packages).toContain("@pulumi/pulumi");
    expect(sources("dataplane").length).toBeGreaterThan(20);
  });
});
