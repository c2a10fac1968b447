import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const DOCKERFILE = readFileSync(join(__dirname, "../../dataplane/Dockerfile"), "utf8");

describe("the data-plane image", () => {
  it("runs Node 24 LTS (Node 20 reached end of life in April 2026), in both stages", () => {
    expect(DOCKERFILE).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(DOCKERFILE.match(/^FROM \$\{NODE_IMAGE\} AS (build|runtime)$/gm)).toHaveLength(2);
    expect(DOCKERFILE).not.toMatch(/node:(1\d|20|22)-/);
  });
});
