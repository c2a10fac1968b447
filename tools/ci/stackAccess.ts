/**
 * CI only: give a GitHub Actions job its cluster access from one repository secret, the way a
 * person gives it to their shell: through the environment (`infra/config/clusterAccess.ts`).
 *
 * `STACK=prod ACCESS_JSON='{"clusterId":"c…","meshKubeconfig":"apiVersion: v1…"}' tsx tools/ci/stackAccess.ts`
 * appends to `$GITHUB_ENV`, for the job's later steps: the ids as `TCP_SHIFT_CLUSTER_ID` /
 * `TCP_SHIFT_MESH_ID`, and the kubeconfigs, written to files under `$RUNNER_TEMP` (mode 0600,
 * never printed), as the paths `TCP_SHIFT_KUBECONFIG` / `TCP_SHIFT_MESH_KUBECONFIG`. It runs no
 * `pulumi` command: the runner's `Pulumi.<stack>.yaml` stays as committed, so after a shift it
 * differs from main's by the weight alone.
 */
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT_CODES } from "../../contract/exitCodes";
import { UserError } from "../../contract/userError";
import { ACCESS_ENV } from "../../infra/config/clusterAccess";

/** A key a stack's access secret may hold: one per environment variable it becomes. */
type AccessKey = keyof typeof ACCESS_ENV;

/** Access keys whose value is a kubeconfig: written to a file, the variable holds its path. */
const KUBECONFIG_FILES = {
  kubeconfig: "kubeconfig.yaml",
  meshKubeconfig: "mesh-kubeconfig.yaml",
} as const;

/** Directory under `$RUNNER_TEMP` that holds the kubeconfig files. */
const ACCESS_DIR = "tcp-shift-access";

/** What one access secret gives a job. */
export interface AccessEnvironment {
  /** Variables for the job's later steps, by name: the ids, and the kubeconfig files' paths. */
  variables: Record<string, string>;
  /** Kubeconfig files to write (mode 0600) before any variable names them. */
  files: { path: string; content: string }[];
}

const NOT_AN_OBJECT = 'ACCESS_JSON must be a JSON object such as {"clusterId": "c…"}';

const isKubeconfigKey = (key: string): key is keyof typeof KUBECONFIG_FILES =>
  Object.hasOwn(KUBECONFIG_FILES, key);

/**
 * The environment that gives a job the access in `accessJson`, kubeconfig files under `dir`.
 * Throws a `UserError` naming the key for anything but non-empty strings under the keys of `ACCESS_ENV`.
 */
export function accessEnvironment(accessJson: string, dir: string): AccessEnvironment {
  if (accessJson.trim() === "")
    throw new UserError(
      "E_ACCESS",
      "ACCESS_JSON is empty: the stack's access secret is not set in this job's GitHub environment",
    );
  let access: unknown;
  try {
    access = JSON.parse(accessJson);
  } catch {
    throw new UserError("E_ACCESS", NOT_AN_OBJECT);
  }
  if (typeof access !== "object" || access === null || Array.isArray(access))
    throw new UserError("E_ACCESS", NOT_AN_OBJECT);
  const result: AccessEnvironment = { variables: {}, files: [] };
  for (const [key, value] of Object.entries(access)) {
    if (!Object.hasOwn(ACCESS_ENV, key))
      throw new UserError(
        "E_ACCESS",
        `ACCESS_JSON key "${key}" is not allowed; use ${Object.keys(ACCESS_ENV).join(", ")}`,
      );
    if (typeof value !== "string" || value === "")
      throw new UserError("E_ACCESS", `ACCESS_JSON key "${key}" must be a non-empty string`);
    const variable = ACCESS_ENV[key as AccessKey];
    if (isKubeconfigKey(key)) {
      const path = join(dir, KUBECONFIG_FILES[key]);
      result.files.push({ path, content: value });
      result.variables[variable] = path;
    } else {
      // One `NAME=value` line of $GITHUB_ENV: a line break would start another variable.
      if (/[\r\n]/.test(value))
        throw new UserError("E_ACCESS", `ACCESS_JSON key "${key}" must be one line`);
      result.variables[variable] = value;
    }
  }
  return result;
}

/** `$GITHUB_ENV`'s `NAME=value` lines for `variables`; refuses a value that is not one line. */
export function githubEnvLines(variables: Record<string, string>): string {
  return Object.entries(variables)
    .map(([name, value]) => {
      if (/[\r\n]/.test(value)) throw new Error(`${name}: a $GITHUB_ENV value must be one line`);
      return `${name}=${value}\n`;
    })
    .join("");
}

function main(): void {
  const stack = process.env.STACK;
  if (!stack) throw new UserError("E_ACCESS", "STACK must name the stack, e.g. STACK=prod");
  const runnerTemp = process.env.RUNNER_TEMP;
  const githubEnv = process.env.GITHUB_ENV;
  if (!runnerTemp || !githubEnv)
    throw new UserError(
      "E_ACCESS",
      "RUNNER_TEMP and GITHUB_ENV are unset: this runs in a GitHub Actions step (elsewhere, export the TCP_SHIFT_* variables: see the README)",
    );
  const dir = join(runnerTemp, ACCESS_DIR);
  const access = accessEnvironment(process.env.ACCESS_JSON ?? "", dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const file of access.files) {
    // A fresh file ("wx"): created 0600, never a link or an older file with wider permissions.
    rmSync(file.path, { force: true });
    writeFileSync(file.path, file.content, { mode: 0o600, flag: "wx" });
  }
  // The ids come from a secret: the runner masks them in every later line of the log.
  for (const key of ["clusterId", "meshId"] as const) {
    const id = access.variables[ACCESS_ENV[key]];
    if (id !== undefined) process.stdout.write(`::add-mask::${id}\n`);
  }
  appendFileSync(githubEnv, githubEnvLines(access.variables));
  const names = Object.keys(access.variables);
  process.stdout.write(
    `stack ${stack}: ${names.length > 0 ? names.join(", ") : "no access variables"} set for the job's later steps\n`,
  );
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_CODES.failure);
  }
}
