import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(__dirname, "..");
const workflowDir = join(root, ".github", "workflows");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  steps: Step[];
  environment?: string;
  permissions?: Record<string, string>;
  needs?: string | string[];
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

function load(file: string): Workflow {
  return parse(readFileSync(join(workflowDir, file), "utf8")) as Workflow;
}

function stacksNamed(workflow: Workflow): string[] {
  const names: string[] = [];
  for (const job of Object.values(workflow.jobs)) {
    for (const step of job.steps) {
      const stack = step.with?.["stack-name"] ?? step.env?.STACK;
      if (typeof stack === "string" && !stack.includes("${{")) names.push(stack);
    }
  }
  return names;
}

/** The commands of a job's `run` steps, in order. */
function commands(job: Job): string[] {
  return job.steps.flatMap((step) =>
    step.run ? step.run.split("\n").map((line) => line.trim()) : [],
  );
}

const files = readdirSync(workflowDir).filter((file) => file.endsWith(".yml"));

describe("GitHub workflows", () => {
  it("are the preview and up workflows", () => {
    expect(files.sort()).toEqual(["preview.yml", "up.yml"]);
  });

  it.each(files)("%s parses and names only stacks that exist", (file) => {
    const workflow = load(file);
    expect(Object.keys(workflow.jobs).length).toBeGreaterThan(0);
    for (const stack of stacksNamed(workflow)) {
      expect(existsSync(join(root, `Pulumi.${stack}.yaml`)), `Pulumi.${stack}.yaml`).toBe(true);
    }
  });

  it.each(files)("%s runs the README's test command before anything else", (file) => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(readme).toContain("npm ci");
    expect(readme).toContain("npm test");
    const test = load(file).jobs.test;
    expect(test).toBeDefined();
    const run = commands(test as Job);
    expect(run.indexOf("npm ci")).toBeGreaterThanOrEqual(0);
    expect(run.indexOf("npm test")).toBeGreaterThan(run.indexOf("npm ci"));
  });

  it("previews pull requests with a PR comment and a diff, after the tests", () => {
    const workflow = load("preview.yml");
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    const preview = workflow.jobs["pulumi-preview"] as Job;
    expect(preview.permissions?.["pull-requests"]).toBe("write");
    expect(preview.needs).toContain("test");
    const action = preview.steps.find((step) => step.with?.command === "preview");
    expect(action?.uses).toMatch(/^pulumi\/actions@v[67]$/);
    expect(action?.with).toMatchObject({ "comment-on-pr": true, diff: true });
    expect(commands(preview)).toContain("npm ci");
  });

  it("renders a credential-free manifest diff into the job summary", () => {
    const job = load("preview.yml").jobs["manifest-diff"] as Job;
    const script = commands(job).join("\n");
    expect(script).toContain("npm run --silent render -- --stack");
    expect(script).toContain("GITHUB_STEP_SUMMARY");
    expect(JSON.stringify(job)).not.toContain("secrets.");
  });

  it("runs up on main for dev, then prod behind the production environment", () => {
    const workflow = load("up.yml");
    expect(workflow.on).toEqual({ push: { branches: ["main"] } });
    const prod = workflow.jobs["up-prod"] as Job;
    expect(prod.environment).toBe("production");
    expect(prod.needs).toBe("up-dev");
    expect(stacksNamed(workflow).sort()).toEqual(["dev", "dev", "prod", "prod"]);
  });
});
