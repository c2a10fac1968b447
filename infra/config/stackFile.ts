/**
 * Reading `Pulumi.<stack>.yaml` without the Pulumi CLI: render, local mode and the stack-file
 * tests load config the same way the CLI would hand it to the program.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { UserError } from "../../contract/userError";
import { projectKeys } from "./config";

/** Error code for a stack file that cannot be read or parsed. */
export const STACK_FILE_ERROR_CODE = "E_STACK_FILE";

/** A stack file's name, `Pulumi.<stack>.yaml`; group 1 is the stack. */
export const STACK_FILE_NAME = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/;

/** The stacks that have a stack file in `dir`, sorted; none when `dir` cannot be read. */
export function stacksIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .map((name) => STACK_FILE_NAME.exec(name)?.[1])
      .filter((stack): stack is string => stack !== undefined)
      .sort();
  } catch {
    return [];
  }
}

/** Path of the stack file of `stack` in the project directory `dir`. */
export function stackFilePath(stack: string, dir = process.cwd()): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
    throw new UserError(
      STACK_FILE_ERROR_CODE,
      `Invalid stack name "${stack}": use letters, digits, '-', '_' or '.'`,
    );
  }
  return join(dir, `Pulumi.${stack}.yaml`);
}

/**
 * The `tcp-shift:` keys of a stack file's `config:` block, namespace stripped. Secure values
 * (`{secure: ...}`) are kept as they are: they cannot be decrypted here, and the caller decides.
 */
export function readStackConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error);
    throw new UserError(STACK_FILE_ERROR_CODE, `Cannot read stack file ${path}: ${reason}`);
  }
  return parseStackConfig(text, path);
}

/** Parse stack file text; `path` only names the file in errors. */
export function parseStackConfig(text: string, path: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new UserError(
      STACK_FILE_ERROR_CODE,
      `Cannot parse stack file ${path}: ${(error as Error).message}`,
    );
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new UserError(STACK_FILE_ERROR_CODE, `Stack file ${path} must be a YAML mapping`);
  }
  const config = (document as { config?: unknown }).config;
  if (config === undefined || config === null) return {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new UserError(STACK_FILE_ERROR_CODE, `Stack file ${path}: "config" must be a mapping`);
  }
  return projectKeys(config as Record<string, unknown>);
}

/** True for a value the CLI stored encrypted (`tcp-shift:kubeconfig: {secure: v1:...}`). */
export function isSecureValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}

/** Stand-in kubeconfig: a complete one (the program reads its context), reaching no cluster. */
const KUBECONFIG_STAND_IN = [
  "apiVersion: v1",
  "kind: Config",
  "clusters: [{name: encrypted, cluster: {server: https://not-decrypted.invalid}}]",
  "contexts: [{name: encrypted, context: {cluster: encrypted, user: encrypted}}]",
  "current-context: encrypted",
  "users: [{name: encrypted, user: {}}]",
  "",
].join("\n");
/** Stand-in for any other encrypted value. */
export const SECRET_STAND_IN = "[secret]";

/**
 * What render and local mode use in place of a value only the Pulumi CLI can decrypt: a value
 * the schema accepts for `key` (so cross-key rules still hold), never the secret itself.
 */
export function secureValueStandIn(key: string): string {
  return key.toLowerCase().endsWith("kubeconfig") ? KUBECONFIG_STAND_IN : SECRET_STAND_IN;
}
