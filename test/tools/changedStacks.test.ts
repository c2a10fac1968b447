import { describe, expect, it } from "vitest";
import { stacksToPreview } from "../../tools/ci/changedStacks";

const stacks = ["dev", "prod"];

describe("stacksToPreview", () => {
  it("previews only the stack whose stack file changed", () => {
    expect(stacksToPreview(["Pulumi.prod.yaml"], stacks)).toEqual(["prod"]);
    expect(stacksToPreview(["Pulumi.dev.yaml", "README.md"], stacks)).toEqual(["dev"]);
  });

  it("previews every stack when the program changed", () => {
    expect(stacksToPreview(["infra/components/meshRoutes.ts"], stacks)).toEqual(["dev", "prod"]);
    expect(stacksToPreview(["Pulumi.dev.yaml", "index.ts"], stacks)).toEqual(["dev", "prod"]);
    expect(stacksToPreview(["package-lock.json"], stacks)).toEqual(["dev", "prod"]);
  });

  it("previews nothing for docs, tests, benchmarks, workflows, CI and tools", () => {
    expect(
      stacksToPreview(
        [
          "README.md",
          "test/x.test.ts",
          "bench/run.ts",
          ".github/workflows/up.yml",
          ".ci/run",
          "testbed/cluster.ts",
          "tools/shift/shiftCli.ts",
        ],
        stacks,
      ),
    ).toEqual([]);
    expect(stacksToPreview(["contract/routeFile.ts"], stacks)).toEqual(["dev", "prod"]);
  });

  it("ignores a stack file of a stack that is not listed", () => {
    expect(stacksToPreview(["Pulumi.qa.yaml"], stacks)).toEqual([]);
  });
});
