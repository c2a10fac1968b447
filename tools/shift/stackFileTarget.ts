/**
 * `--stack-file PATH`: edit `tcp-shift:weightV2` in a `Pulumi.<stack>.yaml` as
 * `pulumi config set weightV2 20` would (the value a string, `"20"`), keeping every comment and
 * every other key, and replace the file atomically. `npm start` (local mode) follows the file.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { type Document, isCollection, isMap, isScalar, parseDocument } from "yaml";
import { UserError } from "../../contract/userError";
import type { VersionPrefixes } from "../../contract/versions";
import { USAGE_ERROR_CODE } from "../../dataplane/shared/commandFlags";
import { isSecureValue, STACK_FILE_ERROR_CODE } from "../../infra/config/stackFile";
import { PROJECT_NAME } from "../../infra/constants";
import { type WeightTarget, writeFileAtomically } from "./weightTarget";

/** The stack-file key of v2's weight. */
export const WEIGHT_KEY = `${PROJECT_NAME}:weightV2`;

function readDocument(path: string): Document {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new UserError(
      missing ? USAGE_ERROR_CODE : STACK_FILE_ERROR_CODE,
      missing
        ? `--stack-file ${path}: no such file (a Pulumi.<stack>.yaml, e.g. Pulumi.dev.yaml)`
        : `Cannot read stack file ${path}: ${(error as Error).message}`,
    );
  }
  const document = parseDocument(text);
  if (document.errors.length > 0)
    throw new UserError(
      STACK_FILE_ERROR_CODE,
      `Cannot parse stack file ${path}: ${document.errors[0]?.message}`,
    );
  const root = document.contents;
  if (root !== null && !isMap(root))
    throw new UserError(STACK_FILE_ERROR_CODE, `Stack file ${path} must be a YAML mapping`);
  const config = document.get("config", true);
  if (config !== undefined && config !== null && !isMap(config))
    throw new UserError(STACK_FILE_ERROR_CODE, `Stack file ${path}: "config" must be a mapping`);
  return document;
}

/** `weightV2` of a parsed stack file: the schema's default 0 when absent. */
function weightOf(document: Document, path: string): number {
  const node = document.getIn(["config", WEIGHT_KEY]);
  const value = isCollection(node) ? node.toJSON() : node;
  if (value === undefined || value === null) return 0;
  if (isSecureValue(value))
    throw new UserError(
      STACK_FILE_ERROR_CODE,
      `${path}: ${WEIGHT_KEY} is encrypted ({secure: ...}); a weight is not a secret, set it in plain text`,
    );
  const text = String(value).trim();
  const weight = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!(weight >= 0 && weight <= 100))
    throw new UserError(
      STACK_FILE_ERROR_CODE,
      `${path}: ${WEIGHT_KEY} = ${JSON.stringify(value)}: must be an integer from 0 to 100`,
    );
  return weight;
}

/**
 * The stack file's text with `weightV2` set to `weight`, as a string. An existing value keeps
 * its place, quoting and comment; a missing one is added at the end of `config:`.
 */
export function setStackFileWeight(text: string, weight: number, path = "stack file"): string {
  const document = parseDocument(text);
  if (document.errors.length > 0)
    throw new UserError(
      STACK_FILE_ERROR_CODE,
      `Cannot parse stack file ${path}: ${document.errors[0]?.message}`,
    );
  const node = document.getIn(["config", WEIGHT_KEY], true);
  if (isScalar(node)) {
    node.value = String(weight);
    // A plain 20 would read back as a number; the CLI writes strings, quoted.
    if (node.type === "PLAIN" || node.type === undefined) node.type = "QUOTE_DOUBLE";
  } else document.setIn(["config", WEIGHT_KEY], String(weight));
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** A stack file as a `WeightTarget`. */
export function stackFileTarget(path: string): WeightTarget {
  // Read once up front: a missing or broken file is a usage error before anything runs.
  weightOf(readDocument(path), path);
  return {
    description: `stack file ${basename(path)}`,
    describeChange: (weight) =>
      `set ${WEIGHT_KEY} to "${weight}" in ${basename(path)} (as pulumi config set weightV2 ${weight})`,
    async currentWeight() {
      return weightOf(readDocument(path), path);
    },
    async setWeight(weight) {
      const text = readFileSync(path, "utf8");
      writeFileAtomically(path, setStackFileWeight(text, weight, path));
    },
    prefixes() {
      const document = readDocument(path);
      const prefixes: Partial<VersionPrefixes> = {};
      for (const version of ["v1", "v2"] as const) {
        const value = document.getIn(["config", `${PROJECT_NAME}:prefix${version.toUpperCase()}`]);
        if (typeof value === "string" && /^\S{1,64}$/.test(value)) prefixes[version] = value;
      }
      return prefixes;
    },
  };
}
