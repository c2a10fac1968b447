import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { accessEnvironment, githubEnvLines } from "../../tools/ci/stackAccess";

const ROOT = join(__dirname, "..", "..");
const kubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user: {token: s3cr3t}\n";

describe("accessEnvironment", () => {
  it("puts ids into variables and kubeconfigs into files whose paths the variables hold", () => {
    expect(
      accessEnvironment(
        JSON.stringify({
          clusterId: "c0123456789ab",
          meshId: "c0fedcba98765",
          kubeconfig,
          meshKubeconfig: "mesh: yes\n",
        }),
        "/runner/_temp/tcp-shift-access",
      ),
    ).toEqual({
      variables: {
        TCP_SHIFT_CLUSTER_ID: "c0123456789ab",
        TCP_SHIFT_MESH_ID: "c0fedcba98765",
        TCP_SHIFT_KUBECONFIG: "/runner/_temp/tcp-shift-access/kubeconfig.yaml",
        TCP_SHIFT_MESH_KUBECONFIG: "/runner/_temp/tcp-shift-access/mesh-kubeconfig.yaml",
      },
      files: [
        { path: "/runner/_temp/tcp-shift-access/kubeconfig.yaml", content: kubeconfig },
        { path: "/runner/_temp/tcp-shift-access/mesh-kubeconfig.yaml", content: "mesh: yes\n" },
      ],
    });
  });

  it("gives nothing for an empty object", () => {
    expect(accessEnvironment("{}", "/tmp")).toEqual({ variables: {}, files: [] });
  });

  it("rejects keys that are not access keys, naming the key and the allowed ones", () => {
    expect(() => accessEnvironment('{"weightV2":"20"}', "/tmp")).toThrow(
      'ACCESS_JSON key "weightV2" is not allowed; use clusterId, kubeconfig, meshId, meshKubeconfig',
    );
  });

  it("rejects text that is not a JSON object, and values that are not non-empty strings", () => {
    expect(() => accessEnvironment("c0123", "/tmp")).toThrow(
      'ACCESS_JSON must be a JSON object such as {"clusterId": "c…"}',
    );
    expect(() => accessEnvironment("[]", "/tmp")).toThrow("ACCESS_JSON must be a JSON object");
    expect(() => accessEnvironment("null", "/tmp")).toThrow("ACCESS_JSON must be a JSON object");
    expect(() => accessEnvironment('{"meshId": ""}', "/tmp")).toThrow(
      'ACCESS_JSON key "meshId" must be a non-empty string',
    );
    expect(() => accessEnvironment('{"clusterId": 12}', "/tmp")).toThrow(
      'ACCESS_JSON key "clusterId" must be a non-empty string',
    );
  });

  it("says so when the secret is missing (GitHub gives an unset secret as an empty string)", () => {
    expect(() => accessEnvironment("", "/tmp")).toThrow(
      "ACCESS_JSON is empty: the stack's access secret is not set in this job's GitHub environment",
    );
  });

  it("refuses an id with a line break, which would add a variable of its own to $GITHUB_ENV", () => {
    expect(() =>
      accessEnvironment(JSON.stringify({ clusterId: "c01\nNODE_OPTIONS=--require=/x" }), "/tmp"),
    ).toThrow('ACCESS_JSON key "clusterId" must be one line');
  });
});

describe("githubEnvLines", () => {
  it("writes one NAME=value line per variable", () => {
    expect(githubEnvLines({ TCP_SHIFT_CLUSTER_ID: "c01", TCP_SHIFT_KUBECONFIG: "/t/k.yaml" })).toBe(
      "TCP_SHIFT_CLUSTER_ID=c01\nTCP_SHIFT_KUBECONFIG=/t/k.yaml\n",
    );
  });

  it("refuses a value that is not one line", () => {
    expect(() => githubEnvLines({ A: "x\ny" })).toThrow("A: a $GITHUB_ENV value must be one line");
  });
});

describe("tools/ci/stackAccess.ts in a job", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A runner: a checkout with the committed dev stack file, RUNNER_TEMP, GITHUB_ENV, and a `pulumi` that records any call. */
  function runner() {
    const dir = mkdtempSync(join(tmpdir(), "stack-access-"));
    dirs.push(dir);
    const checkout = join(dir, "checkout");
    const temp = join(dir, "temp");
    const bin = join(dir, "bin");
    for (const path of [checkout, temp, bin]) mkdirSync(path);
    copyFileSync(join(ROOT, "Pulumi.dev.yaml"), join(checkout, "Pulumi.dev.yaml"));
    const pulumiCalls = join(dir, "pulumi-calls");
    writeFileSync(join(bin, "pulumi"), `#!/bin/sh\necho "$@" >> "${pulumiCalls}"\n`);
    chmodSync(join(bin, "pulumi"), 0o755);
    const githubEnv = join(dir, "github-env");
    const run = (accessJson: string) =>
      spawnSync(
        join(ROOT, "node_modules", ".bin", "tsx"),
        [join(ROOT, "tools/ci/stackAccess.ts")],
        {
          cwd: checkout,
          encoding: "utf8",
          env: {
            PATH: `${bin}:${process.env.PATH}`,
            HOME: dir,
            STACK: "dev",
            ACCESS_JSON: accessJson,
            RUNNER_TEMP: temp,
            GITHUB_ENV: githubEnv,
          },
        },
      );
    return { checkout, temp, githubEnv, pulumiCalls, run };
  }

  it("appends the variables to $GITHUB_ENV, writes kubeconfigs 0600, prints no kubeconfig and runs no pulumi", () => {
    const job = runner();
    const before = readFileSync(join(job.checkout, "Pulumi.dev.yaml"), "utf8");
    const result = job.run(
      JSON.stringify({ clusterId: "c0123456789ab", meshKubeconfig: kubeconfig }),
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const meshFile = join(job.temp, "tcp-shift-access", "mesh-kubeconfig.yaml");
    expect(readFileSync(job.githubEnv, "utf8")).toBe(
      `TCP_SHIFT_CLUSTER_ID=c0123456789ab\nTCP_SHIFT_MESH_KUBECONFIG=${meshFile}\n`,
    );
    expect(readFileSync(meshFile, "utf8")).toBe(kubeconfig);
    expect(statSync(meshFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(job.temp, "tcp-shift-access")).mode & 0o077).toBe(0);
    expect(result.stdout).toBe(
      "::add-mask::c0123456789ab\nstack dev: TCP_SHIFT_CLUSTER_ID, TCP_SHIFT_MESH_KUBECONFIG set for the job's later steps\n",
    );
    expect(existsSync(job.pulumiCalls)).toBe(false);
    // The checkout's stack file is as committed, and nothing was added beside it.
    expect(readFileSync(join(job.checkout, "Pulumi.dev.yaml"), "utf8")).toBe(before);
    expect(readdirSync(job.checkout)).toEqual(["Pulumi.dev.yaml"]);
  });

  it("replaces an older kubeconfig file with a fresh 0600 one", () => {
    const job = runner();
    const file = join(job.temp, "tcp-shift-access", "kubeconfig.yaml");
    mkdirSync(join(job.temp, "tcp-shift-access"));
    writeFileSync(file, "old", { mode: 0o644 });
    expect(job.run(JSON.stringify({ kubeconfig })).status).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(kubeconfig);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("fails with the message alone and writes nothing for a bad secret", () => {
    const job = runner();
    const result = job.run('{"weightV2":"20"}');
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'ACCESS_JSON key "weightV2" is not allowed; use clusterId, kubeconfig, meshId, meshKubeconfig\n',
    );
    expect(existsSync(job.githubEnv)).toBe(false);
    expect(readdirSync(job.temp)).toEqual([]);
  });
});
