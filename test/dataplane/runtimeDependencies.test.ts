import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  dependencyClosure,
  packageName,
  requiredPackages,
} from "../../dataplane/runtimeDependencies";

describe("image runtime dependencies", () => {
  it("finds bare requires in compiled JS, ignoring builtins and relative paths", () => {
    const dir = mkdtempSync(join(tmpdir(), "deps-"));
    try {
      mkdirSync(join(dir, "gateway"));
      writeFileSync(
        join(dir, "gateway", "a.js"),
        'const a = require("node:net"); const b = require("fs"); const c = require("./x");\n' +
          'const d = require("../components/userError"); const e = require("zod/v4");\n' +
          'const f = require("@opentelemetry/api/build"); const g = require("yaml");\n',
      );
      expect(requiredPackages(dir)).toEqual(["@opentelemetry/api", "yaml", "zod"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("follows dependencies: prom-client brings its own, nothing from Pulumi", () => {
    const closure = dependencyClosure(["prom-client", "yaml", "zod"], "node_modules");
    expect(closure).toEqual(
      expect.arrayContaining([
        "prom-client",
        "@opentelemetry/api",
        "tdigest",
        "bintrees",
        "yaml",
        "zod",
      ]),
    );
    expect(closure.some((name) => name.startsWith("@pulumi/"))).toBe(false);
  });

  it("names a package that is required but missing", () => {
    expect(() => dependencyClosure(["no-such-package-here"], "node_modules")).toThrow(
      /"no-such-package-here" is required but not installed/,
    );
  });

  it("reduces specifiers to package names", () => {
    expect(packageName("zod/v4/core")).toBe("zod");
    expect(packageName("@scope/pkg/deep")).toBe("@scope/pkg");
  });
});
