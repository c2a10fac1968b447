import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { committedText } from "./committedFiles";

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
  permissions?: Record<string, string>;
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

/** The step that gives a job its cluster access (tools/ci/stackAccess.ts). */
const ACCESS_STEP = "npx tsx tools/ci/stackAccess.ts";

/** Index of the first step in `job` that runs `pulumi` against a stack (the action, or the shift). */
function pulumiStepIndex(job: Job): number {
  return job.steps.findIndex(
    (step) =>
      (step.uses?.startsWith("pulumi/actions@") && step.with?.command !== undefined) ||
      step.run?.includes("npm run -s shift -- --stack"),
  );
}

/** The shift workflow's job and its steps by name. */
function shiftJob(): { job: Job; step: (name: string) => Step; index: (name: string) => number } {
  const job = load("shift.yml").jobs.shift as Job;
  const index = (name: string) => job.steps.findIndex((step) => step.name === name);
  return {
    job,
    index,
    step: (name) => {
      const found = job.steps[index(name)];
      if (!found) throw new Error(`shift.yml: no step "${name}"`);
      return found;
    },
  };
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
      for (const step of job.steps) {
        expect(step.run ?? "", file).not.toContain("${{");
        expect(step.run ?? "", file).not.toMatch(/inputs\./);
      }
  });

  it.each(files)(
    "%s gives every job that runs pulumi its cluster access through stackAccess first",
    (file) => {
      const jobs = Object.entries(load(file).jobs).filter(([, job]) => pulumiStepIndex(job) >= 0);
      expect(jobs.length, file).toBeGreaterThan(0);
      for (const [name, job] of jobs) {
        const access = job.steps.findIndex((step) => step.run?.trim() === ACCESS_STEP);
        expect(access, `${file} ${name}`).toBeGreaterThanOrEqual(0);
        expect(access, `${file} ${name}`).toBeLessThan(pulumiStepIndex(job));
        const step = job.steps[access] as Step;
        // The stack (for messages) and the JSON secret: nothing that logs in or selects a stack.
        expect(Object.keys(step.env ?? {}).sort(), `${file} ${name}`).toEqual([
          "ACCESS_JSON",
          "STACK",
        ]);
        expect(step.env?.ACCESS_JSON, `${file} ${name}`).toMatch(
          /^\$\{\{ secrets(\.TCP_SHIFT_ACCESS_\w+|\[format\('TCP_SHIFT_(READONLY_)?ACCESS_\{0\}', \w+\.stack\)\]) \}\}$/,
        );
      }
    },
  );

  it.each(files)(
    "%s keeps the runner's stack file as committed: no config set, no config-map",
    (file) => {
      for (const [name, job] of Object.entries(load(file).jobs))
        for (const step of job.steps) {
          expect(step.run ?? "", `${file} ${name}`).not.toMatch(
            /pulumi\s+config\s+set|stack\s+select/,
          );
          expect(step.with ?? {}, `${file} ${name}`).not.toHaveProperty("config-map");
        }
    },
  );

  it("gives access with a script that runs no command (no pulumi): files and $GITHUB_ENV only", () => {
    const source = readFileSync(join(root, "tools", "ci", "stackAccess.ts"), "utf8");
    expect(source).toContain("appendFileSync(githubEnv");
    expect(source).not.toMatch(/child_process|execFile|spawn/);
  });

  it("logs pulumi/actions in through cloud-url, and the shift through pulumi login before it runs", () => {
    for (const file of ["preview.yml", "up.yml"])
      for (const job of Object.values(load(file).jobs)) {
        const index = pulumiStepIndex(job);
        if (index < 0) continue;
        expect(job.steps[index]?.with?.["cloud-url"], file).toBe(
          expression("vars.PULUMI_BACKEND_URL"),
        );
      }
    const { step, index } = shiftJob();
    const login = step("Log in to the Pulumi backend");
    expect(login.run?.trim()).toBe(
      'if [ -n "$PULUMI_BACKEND_URL" ]; then pulumi login "$PULUMI_BACKEND_URL"; else pulumi login; fi',
    );
    expect(login.env).toEqual({ PULUMI_BACKEND_URL: expression("vars.PULUMI_BACKEND_URL") });
    expect(index("Install the Pulumi CLI")).toBeLessThan(index("Log in to the Pulumi backend"));
    expect(index("Log in to the Pulumi backend")).toBeLessThan(index("Shift"));
  });

  it("commits the shift's weight after the shift, whatever its outcome, with the job's token", () => {
    const { job, step, index } = shiftJob();
    const commit = step("Commit the weight");
    expect(commit.if).toBe("always()");
    expect(index("Commit the weight")).toBeGreaterThan(index("Shift"));
    expect(index("Commit the weight")).toBeGreaterThan(index("Step log to the job summary"));
    // Inputs and the token come in as environment variables; the script names only those.
    expect(commit.env).toEqual({
      STACK: expression("inputs.stack"),
      GH_TOKEN: expression("github.token"),
    });
    expect(commit.run).toContain('file="Pulumi.$STACK.yaml"');
    expect(commit.run).toContain('git_auth -C "$tree" push origin HEAD:refs/heads/main');
    expect(commit.run).toContain('branch="shift/$STACK-$GITHUB_RUN_ID"');
    expect(commit.run).toContain(
      'gh pr create --repo "$GITHUB_REPOSITORY" --base main --head "$branch"',
    );
    // Write access on this job only; the checkout keeps the token out of .git/config.
    expect(job.permissions).toEqual({ contents: "write", "pull-requests": "write" });
    expect(load("shift.yml").permissions).toEqual({ contents: "read" });
    expect(job.steps[0]).toMatchObject({
      uses: "actions/checkout@v4",
      with: { "persist-credentials": false },
    });
    for (const file of files)
      for (const [name, other] of Object.entries(load(file).jobs)) {
        expect(load(file).permissions?.contents, file).toBe("read");
        if (file === "shift.yml" && name === "shift") continue;
        expect(other.permissions?.contents ?? "read", `${file} ${name}`).toBe("read");
      }
  });
});

/**
 * The "Commit the weight" step, run as GitHub runs it (bash -eo pipefail), in a shallow clone of
 * a local origin holding the committed Pulumi.dev.yaml, with a `gh` that records its arguments.
 */
describe("shift.yml's Commit the weight step, run against a local origin", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const committedDev = committedText("Pulumi.dev.yaml");
  const WEIGHT_LINE = 'tcp-shift:weightV2: "0"';
  const RUN_URL = "https://github.com/acme/tcp-shift/actions/runs/4242";
  const REPORT = "## tcp-shift: promoted (weight 20 now)\n\npromoted: weight 20 in force\n";

  function origin() {
    const dir = mkdtempSync(join(tmpdir(), "shift-commit-"));
    dirs.push(dir);
    const gitEnv = {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
    };
    const git = (cwd: string, ...args: string[]) => {
      const result = spawnSync("git", args, { cwd, encoding: "utf8", env: gitEnv });
      if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
      return result.stdout.trim();
    };
    const bare = join(dir, "origin.git");
    const seed = join(dir, "seed");
    git(dir, "init", "--quiet", "--bare", "-b", "main", bare);
    git(dir, "init", "--quiet", "-b", "main", seed);
    git(seed, "remote", "add", "origin", bare);
    /** A commit on main in origin, as a person would push it. */
    const push = (content: string, message: string) => {
      writeFileSync(join(seed, "Pulumi.dev.yaml"), content);
      git(seed, "add", "Pulumi.dev.yaml");
      git(
        seed,
        "-c",
        "user.name=dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "-qm",
        message,
      );
      git(seed, "push", "--quiet", "origin", "main");
      return git(seed, "rev-parse", "HEAD");
    };
    const first = push(committedDev, "stacks");
    // The runner: a shallow checkout, as actions/checkout makes it.
    const runner = join(dir, "runner");
    git(dir, "clone", "--quiet", "--depth=1", `file://${bare}`, runner);
    const temp = join(dir, "temp");
    const bin = join(dir, "bin");
    mkdirSync(temp);
    mkdirSync(bin);
    writeFileSync(
      join(bin, "gh"),
      '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$GH_ARGS"\n[ -z "$GH_FAIL" ] || { echo "GitHub Actions is not permitted to create or approve pull requests" >&2; exit 1; }\necho https://github.com/acme/tcp-shift/pull/7\n',
    );
    chmodSync(join(bin, "gh"), 0o755);
    const script = join(dir, "commit.sh");
    writeFileSync(script, shiftJob().step("Commit the weight").run ?? "");
    const summary = join(dir, "summary.md");
    const ghArgs = join(dir, "gh-args");
    return {
      first,
      runner,
      temp,
      push,
      /** A pre-receive hook that refuses main, as branch protection does. */
      protectMain() {
        const hook = join(bare, "hooks", "pre-receive");
        writeFileSync(
          hook,
          '#!/bin/sh\nwhile read -r old new ref; do [ "$ref" != refs/heads/main ] || { echo "GH006: Protected branch update failed for refs/heads/main." >&2; exit 1; }; done\n',
        );
        chmodSync(hook, 0o755);
      },
      /** What the shift leaves in the runner's stack file. */
      shiftTo(content: string) {
        writeFileSync(join(runner, "Pulumi.dev.yaml"), content);
        writeFileSync(join(temp, "shift.md"), REPORT);
      },
      run(extra: Record<string, string> = {}) {
        const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
          cwd: runner,
          encoding: "utf8",
          env: {
            ...gitEnv,
            PATH: `${bin}:${gitEnv.PATH}`,
            STACK: "dev",
            GH_TOKEN: "ghs_test",
            GH_ARGS: ghArgs,
            GITHUB_SERVER_URL: "https://github.com",
            GITHUB_REPOSITORY: "acme/tcp-shift",
            GITHUB_RUN_ID: "4242",
            GITHUB_REF: "refs/heads/main",
            GITHUB_SHA: first,
            RUNNER_TEMP: temp,
            GITHUB_STEP_SUMMARY: summary,
            ...extra,
          },
        });
        return {
          ...result,
          summary: existsSync(summary) ? readFileSync(summary, "utf8") : "",
          gh: existsSync(ghArgs) ? readFileSync(ghArgs, "utf8").trimEnd().split("\n") : undefined,
        };
      },
      /** origin's ref: its file, subject, author and parent. */
      show(ref: string) {
        return {
          file: git(bare, "show", `${ref}:Pulumi.dev.yaml`),
          log: git(bare, "log", "-1", "--format=%an <%ae>%n%s%n%P", ref),
          sha: git(bare, "rev-parse", ref),
        };
      },
      branches: () => git(bare, "for-each-ref", "--format=%(refname)", "refs/heads"),
    };
  }

  const at20 = (text: string) => text.replace(WEIGHT_LINE, 'tcp-shift:weightV2: "20"');

  it("the committed dev stack holds the weight line the step edits", () => {
    expect(committedDev.split("\n").filter((line) => line.includes(WEIGHT_LINE))).toHaveLength(1);
  });

  it("pushes main's stack file with weightV2 set, as github-actions[bot], and says so", () => {
    const repo = origin();
    repo.shiftTo(at20(committedDev));
    const result = repo.run();
    expect(result.stderr).not.toContain("fatal");
    expect(result.status).toBe(0);
    const main = repo.show("main");
    expect(main.file).toBe(at20(committedDev).trimEnd());
    expect(main.log).toBe(
      `github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>\nshift dev: weightV2 0 → 20 (run ${RUN_URL})\n${repo.first}`,
    );
    expect(result.summary).toContain("### Weight committed to main");
    expect(result.summary).toContain(`Pushed [\`${main.sha.slice(0, 7)}\`]`);
    expect(result.summary).toContain("up.yml does not run for it");
    expect(result.summary).not.toContain("main moved");
    expect(result.gh).toBeUndefined();
  });

  it("commits the weight alone: other lines of the runner's copy (access, rewrites) stay out", () => {
    const repo = origin();
    const dirty = at20(committedDev)
      .replace(/^# .*\n/m, "")
      .concat("  tcp-shift:clusterId: c0123456789abcdef\n");
    repo.shiftTo(dirty);
    expect(repo.run().status).toBe(0);
    expect(repo.show("main").file).toBe(at20(committedDev).trimEnd());
  });

  it("when main is protected, pushes shift/<stack>-<run id> and opens a pull request with the report", () => {
    const repo = origin();
    repo.protectMain();
    repo.shiftTo(at20(committedDev));
    const result = repo.run();
    expect(result.status).toBe(0);
    expect(repo.show("main").sha).toBe(repo.first);
    const branch = repo.show("shift/dev-4242");
    expect(branch.file).toBe(at20(committedDev).trimEnd());
    expect(branch.log).toContain(`shift dev: weightV2 0 → 20 (run ${RUN_URL})`);
    const body = join(repo.temp, "pull-request.md");
    expect(result.gh).toEqual([
      "pr",
      "create",
      "--repo",
      "acme/tcp-shift",
      "--base",
      "main",
      "--head",
      "shift/dev-4242",
      "--title",
      "shift dev: weightV2 0 → 20",
      "--body-file",
      body,
    ]);
    const text = readFileSync(body, "utf8");
    expect(text.startsWith(REPORT)).toBe(true);
    expect(text).toContain(
      "Until this is merged, the next `up` (any push to main) sets weightV2 back to 0.",
    );
    expect(result.summary).toContain(
      "### Weight NOT on main yet: pull request https://github.com/acme/tcp-shift/pull/7",
    );
    expect(result.summary).toContain(
      "> Until it is merged, the next up (any push to main) sets weightV2 back to 0, the committed weight, while the stack holds 20.",
    );
    expect(result.stdout).toContain(
      "::warning title=Merge https://github.com/acme/tcp-shift/pull/7::",
    );
  });

  it("fails, naming the branch to open a pull request from, when gh may not open one", () => {
    const repo = origin();
    repo.protectMain();
    repo.shiftTo(at20(committedDev));
    const result = repo.run({ GH_FAIL: "1" });
    expect(result.status).toBe(1);
    expect(repo.branches()).toBe("refs/heads/main\nrefs/heads/shift/dev-4242");
    expect(result.summary).toContain("### Weight NOT committed");
    expect(result.summary).toContain(
      "open it from https://github.com/acme/tcp-shift/compare/main...shift/dev-4242",
    );
  });

  it("commits nothing when the stack file is as checked out, or holds main's weight", () => {
    const repo = origin();
    let result = repo.run();
    expect(result.status).toBe(0);
    expect(result.summary).toContain("as checked out: nothing to commit");
    // Rolled back to where it started, the file rewritten: the weight is main's.
    repo.shiftTo(committedDev.replace(/^# .*\n/m, ""));
    result = repo.run();
    expect(result.status).toBe(0);
    expect(result.summary).toContain("weightV2 is 0 on main already: nothing to commit");
    expect(repo.show("main").sha).toBe(repo.first);
    expect(repo.branches()).toBe("refs/heads/main");
  });

  it("commits on top of main when main moved during the shift, keeping its change, and warns", () => {
    const repo = origin();
    const moved = committedDev.replace(/^# (.*)$/m, "# (edited) $1");
    const movedSha = repo.push(moved, "a comment");
    repo.shiftTo(at20(committedDev));
    const result = repo.run();
    expect(result.status).toBe(0);
    const main = repo.show("main");
    expect(main.file).toBe(at20(moved).trimEnd());
    expect(main.log.split("\n")[2]).toBe(movedSha);
    expect(result.summary).toContain(
      `main moved during the shift (to ${movedSha.slice(0, 7)}): the up run of that push waits behind this job and deploys it with weightV2 0`,
    );
  });
});
