import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../infra/config/config";

const root = join(__dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const scripts = Object.keys(
  (
    JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    }
  ).scripts,
);

describe("README", () => {
  it("gives the quick start: npm ci, npm start, npm test", () => {
    expect(readme).toMatch(/npm ci\s.*\n.*npm start\s.*\n.*npm test\s/);
  });

  it("lists every config key in the configuration table", () => {
    for (const key of CONFIG_KEYS) expect(readme, key).toContain(`| \`${key}\` |`);
  });

  it("names only npm scripts that exist", () => {
    const named = [...readme.matchAll(/npm run (?:-s )?([a-z][a-z:-]*)/g)].map((match) => match[1]);
    expect(named.length).toBeGreaterThan(5);
    for (const script of named) expect(scripts, String(script)).toContain(script);
  });
});
