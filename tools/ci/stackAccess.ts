/**
 * CI only: give a stack its cluster access from one repository secret, without committing it.
 *
 * `STACK=prod ACCESS_JSON='{"clusterId":"c…","meshId":"c…"}' tsx tools/ci/stackAccess.ts`
 * logs in to `PULUMI_BACKEND_URL` (Pulumi Cloud when unset), selects the stack and runs
 * `pulumi config set` for each key; kubeconfigs are set with `--secret`.
 */
import { execFileSync } from "node:child_process";
import { EXIT_CODES } from "../../contract/exitCodes";
import { UserError } from "../../contract/userError";
import { SECRET_KEYS } from "../../infra/config/config";
import { PROJECT_NAME } from "../../infra/constants";

/** The keys a stack's access secret may hold. */
export const ACCESS_KEYS = ["clusterId", "kubeconfig", "meshId", "meshKubeconfig"] as const;

/** One `pulumi config set`: its arguments, and the value, given on standard input. */
export interface AccessCommand {
  args: string[];
  input: string;
}

/**
 * The `pulumi config set` commands that put the access in `accessJson` on `stack`. Values go on
 * standard input (multi-line kubeconfigs work, and no value shows in a process list).
 */
export function accessCommands(stack: string, accessJson: string): AccessCommand[] {
  let access: unknown;
  try {
    access = JSON.parse(accessJson);
  } catch {
    throw new UserError(
      "E_ACCESS",
      'ACCESS_JSON must be a JSON object such as {"clusterId": "c…"}',
    );
  }
  if (typeof access !== "object" || access === null || Array.isArray(access)) {
    throw new UserError(
      "E_ACCESS",
      'ACCESS_JSON must be a JSON object such as {"clusterId": "c…"}',
    );
  }
  const commands: AccessCommand[] = [];
  for (const [key, value] of Object.entries(access)) {
    if (!(ACCESS_KEYS as readonly string[]).includes(key)) {
      throw new UserError(
        "E_ACCESS",
        `ACCESS_JSON key "${key}" is not allowed; use ${ACCESS_KEYS.join(", ")}`,
      );
    }
    if (typeof value !== "string" || value === "") {
      throw new UserError("E_ACCESS", `ACCESS_JSON key "${key}" must be a non-empty string`);
    }
    const secret = (SECRET_KEYS as readonly string[]).includes(key);
    commands.push({
      args: [
        "config",
        "set",
        ...(secret ? ["--secret"] : []),
        "--stack",
        stack,
        `${PROJECT_NAME}:${key}`,
      ],
      input: value,
    });
  }
  return commands;
}

function main(): void {
  const stack = process.env.STACK;
  if (!stack) throw new UserError("E_ACCESS", "STACK must name the stack, e.g. STACK=prod");
  const commands = accessCommands(stack, process.env.ACCESS_JSON ?? "{}");
  const backend = process.env.PULUMI_BACKEND_URL;
  execFileSync("pulumi", backend ? ["login", backend] : ["login"], { stdio: "inherit" });
  execFileSync("pulumi", ["stack", "select", stack], { stdio: "inherit" });
  for (const { args, input } of commands) {
    execFileSync("pulumi", args, { input, stdio: ["pipe", "ignore", "inherit"] });
  }
  process.stdout.write(`set ${commands.length} access key(s) on stack ${stack}\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_CODES.failure);
  }
}
