/**
 * The only place that reads `new pulumi.Config()`: every `tcp-shift:` key, validated by
 * `parseConfig`, then the cluster-access check, then shaped by mode (`toStackSettings`). Both
 * checks fail with a `pulumi.RunError` (message only, no stack trace) before the program
 * registers any resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { UserError } from "../../contract/userError";
import { PROJECT_NAME } from "../constants";
import { describeMissingAccess, missingClusterAccess } from "./clusterAccess";
import { CONFIG_KEYS, parseConfig, projectKeys, SECRET_KEYS, type TcpShiftConfig } from "./config";
import { type StackSettings, toStackSettings } from "./settings";

/** Credentials, kept as Pulumi secrets from the config store to the providers that use them. */
export type StackSecrets = Partial<Record<(typeof SECRET_KEYS)[number], pulumi.Output<string>>>;

/** The validated config of the current stack, shaped by mode, and its credentials as secrets. */
export interface StackConfig {
  /** What to declare, one shape per mode; holds no credential. */
  settings: StackSettings;
  /** The secret keys that are set, as secret Outputs. */
  secrets: StackSecrets;
}

/**
 * Whether the value of `tcp-shift:<key>` was set as a secret. The SDK's check is internal, so
 * when it is missing every unknown key counts as secret (its value is then not echoed).
 */
function isSecretConfigKey(key: string): boolean {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (fullKey: string) => boolean })
    .isConfigSecret;
  return check ? check(`${PROJECT_NAME}:${key}`) : true;
}

/**
 * Read and validate the stack's config. Unknown `tcp-shift:` keys (typos) are reported with the
 * rest. Throws `pulumi.RunError` listing every bad key, or naming the access keys to set.
 */
export function loadStackConfig(): StackConfig {
  const store = new pulumi.Config();
  // Every `tcp-shift:` key, as the CLI stored it: known keys and typos such as `weightv2`
  // alike, which parseConfig reports. A mistyped key set as a secret is never echoed.
  const raw = projectKeys(pulumi.runtime.allConfig());
  const known = new Set<string>(CONFIG_KEYS);
  const unknownSecrets = Object.keys(raw).filter(
    (key) => !known.has(key) && isSecretConfigKey(key),
  );
  let config: TcpShiftConfig;
  try {
    config = parseConfig(raw, `stack "${pulumi.getStack()}"`, unknownSecrets);
  } catch (error) {
    if (error instanceof UserError) throw new pulumi.RunError(error.message);
    throw error;
  }
  const missing = describeMissingAccess(missingClusterAccess(config));
  if (missing) throw new pulumi.RunError(missing);
  const secrets: StackSecrets = {};
  for (const key of SECRET_KEYS) {
    // Unset credentials arrive as "" (the Pulumi.yaml default) and are left out.
    if (config[key] !== undefined) secrets[key] = store.requireSecret(key);
  }
  return { settings: toStackSettings(config), secrets };
}
