/** Pulumi.yaml documents every config key as the schema defines it (stack files: stackFiles.test.ts). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_KEYS, parseConfig, SECRET_KEYS } from "../../infra/config/config";

const ROOT = join(__dirname, "..", "..");

interface ProjectKey {
  type: string;
  default?: unknown;
  description?: string;
  secret?: boolean;
  items?: { type: string };
}

const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as {
  name: string;
  runtime: { name: string; options?: { typescript?: boolean } };
  config: Record<string, ProjectKey>;
};

describe("Pulumi.yaml", () => {
  it("is the tcp-shift project on Node.js with TypeScript", () => {
    expect(project.name).toBe("tcp-shift");
    expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
  });

  it("documents every schema key, in schema order, and nothing else", () => {
    expect(Object.keys(project.config)).toEqual(CONFIG_KEYS);
  });

  it("gives each key the schema's type and default, and a description", () => {
    const defaults = parseConfig({}) as Record<string, unknown>;
    for (const key of CONFIG_KEYS) {
      const entry = project.config[key] as ProjectKey;
      expect(entry.description, key).toMatch(/\S{3}/);
      const value = defaults[key];
      if (value === undefined) {
        // Optional: the CLI requires every declared key without a default, so "" means unset.
        expect(entry.default, key).toBe("");
        expect(entry.type, key).toBe("string");
        expect((parseConfig({ [key]: "" }) as Record<string, unknown>)[key], key).toBeUndefined();
        continue;
      }
      expect(entry.default, key).toEqual(value);
      const type = Array.isArray(value)
        ? "array"
        : typeof value === "number"
          ? "integer"
          : typeof value;
      expect(entry.type, key).toBe(type);
    }
  });

  it("declares no key secret: the CLI would reject stacks that leave a credential unset", () => {
    for (const key of CONFIG_KEYS) expect(project.config[key]?.secret, key).toBeUndefined();
    for (const key of SECRET_KEYS)
      expect(project.config[key]?.description, key).toContain("--secret");
  });
});
