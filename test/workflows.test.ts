import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(__dirname, "..");
const workflowDir = join(root, ".github", "workflows");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  steps: Step[];
  environment?: string;
  permissions?: Record<string, string>;
  needs?: string | string[];
  env?: Record<string, string>;
  "runs-on"?: string;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
  concurrency?: { group: string };
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

/** `${{ inner }}`: a GitHub Actions expression as written in a workflow. */
const expression = (inner: string): string => `\${{ ${inner} }}`;

/** Secret names a job reads: `secrets.NAME` and the prefix of `secrets[format('NAME_{0}', ...)]`. */
function secretsOf(job: Job): string[] {
  const text = JSON.stringify(job);
  return [
    // A per-stack secret (`TCP_SHIFT_ACCESS_dev`) counts as its family (`TCP_SHIFT_ACCESS_*`).
    ...[...text.matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((match) =>
      (match[1] as string).replace(/^(TCP_SHIFT_(?:READONLY_)?ACCESS_).+$/, "$1*"),
    ),
    ...[...text.matchAll(/secrets\[format\('([A-Za-z0-9_]+)\{0\}'/g)].map(
      (match) => `${match[1]}*`,
    ),
  ];
}

/** The secrets that can change a stack (up.yml reads them). */
const WRITE_SECRETS = [
  "PULUMI_ACCESS_TOKEN",
  "PULUMI_CONFIG_PASSPHRASE",
  "ALICLOUD_ACCESS_KEY",
  "ALICLOUD_SECRET_KEY",
  "TCP_SHIFT_ACCESS_*",
];

describe("GitHub workflows", () => {
  it("are the preview, shift and up workflows", () => {
    expect(files.sort()).toEqual(["preview.yml", "shift.yml", "up.yml"]);
  });

  it.each(files)("%s reads secrets only in jobs that name a GitHub environment", (file) => {
    for (const [name, job] of Object.entries(load(file).jobs))
      if (secretsOf(job).length > 0) expect(job.environment, `${file} ${name}`).toBeTruthy();
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

  it("previews with read-only credentials of their own, never up's, and never prod", () => {
    const workflow = load("preview.yml");
    const preview = workflow.jobs["pulumi-preview"] as Job;
    expect(preview.environment).toBe("preview");
    const used = Object.values(workflow.jobs).flatMap(secretsOf);
    expect(used.sort()).toEqual([
      "ALICLOUD_READONLY_ACCESS_KEY",
      "ALICLOUD_READONLY_SECRET_KEY",
      "PULUMI_PREVIEW_CONFIG_PASSPHRASE",
      "PULUMI_READONLY_TOKEN",
      "TCP_SHIFT_READONLY_ACCESS_*",
    ]);
    const upSecrets = new Set(Object.values(load("up.yml").jobs).flatMap(secretsOf));
    expect([...upSecrets].sort()).toEqual([...WRITE_SECRETS].sort());
    expect(new Set(secretsOf(load("shift.yml").jobs.shift as Job))).toEqual(upSecrets);
    for (const name of used) expect(upSecrets.has(name), name).toBe(false);
    // The cloud tools read the usual variable names; the values are the read-only ones.
    expect(preview.env).toMatchObject({
      PULUMI_ACCESS_TOKEN: expression("secrets.PULUMI_READONLY_TOKEN"),
      ALICLOUD_ACCESS_KEY: expression("secrets.ALICLOUD_READONLY_ACCESS_KEY"),
      ALICLOUD_SECRET_KEY: expression("secrets.ALICLOUD_READONLY_SECRET_KEY"),
    });
    // prod is filtered out of the stacks a pull request previews.
    const changed = (workflow.jobs.stacks as Job).steps.find((step) =>
      step.run?.includes("changedStacks"),
    );
    expect(JSON.parse(changed?.env?.PROTECTED ?? "[]")).toEqual(["prod"]);
    expect(changed?.run).toContain("$protected | index($s) | not");
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
    expect(workflow.jobs["up-dev"]?.environment).toBe("dev");
  });

  it("shifts a chosen stack by hand, behind the production environment for prod", () => {
    const workflow = load("shift.yml");
    const dispatch = (
      workflow.on as { workflow_dispatch: { inputs: Record<string, Record<string, unknown>> } }
    ).workflow_dispatch;
    expect(Object.keys(workflow.on)).toEqual(["workflow_dispatch"]);
    const options = dispatch.inputs.stack?.options as string[];
    for (const stack of options)
      expect(existsSync(join(root, `Pulumi.${stack}.yaml`)), stack).toBe(true);
    expect(dispatch.inputs.steps).toMatchObject({ type: "string", required: true });
    expect(dispatch.inputs.interval).toMatchObject({ type: "string", required: true });
    // Serialised with up: no `pulumi up` of main in the middle of a shift.
    expect(workflow.concurrency?.group).toBe(load("up.yml").concurrency?.group);
    const job = workflow.jobs.shift as Job;
    expect(job.needs).toBe("test");
    // The environment expression, evaluated for each stack: prod takes production's approval.
    const environment = job.environment ?? "";
    const evaluate = (stack: string) =>
      environment === expression("inputs.stack == 'prod' && 'production' || inputs.stack")
        ? stack === "prod"
          ? "production"
          : stack
        : undefined;
    expect(evaluate("prod")).toBe("production");
    expect(evaluate("dev")).toBe("dev");
    expect(secretsOf(job).sort()).toEqual([...WRITE_SECRETS].sort());
    const shift = job.steps.find((step) => step.name === "Shift");
    expect(shift?.run?.trim()).toBe(
      'npm run -s shift -- --stack "$STACK" --steps "$STEPS" --interval "$INTERVAL" --rollback-to "$ROLLBACK_TO" --report "$RUNNER_TEMP/shift.md"',
    );
    expect(shift?.env).toEqual({
      STACK: expression("inputs.stack"),
      STEPS: expression("inputs.steps"),
      INTERVAL: expression("inputs.interval"),
      ROLLBACK_TO: expression("inputs.rollback-to"),
    });
    const summary = job.steps.find((step) => step.run?.includes("GITHUB_STEP_SUMMARY"));
    expect(summary?.if).toBe("always()");
    expect(summary?.run).toContain('cat "$RUNNER_TEMP/shift.md"');
    expect(commands(job)).toContain("npm ci");
  });

  it.each(files)("%s never splices an expression into a shell script", (file) => {
    for (const job of Object.values(load(file).jobs))
      for (const step of job.steps) expect(step.run ?? "", file).not.toContain("${{");
  });
});
