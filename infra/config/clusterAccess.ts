/**
 * Which cluster-access keys a stack still needs. Access is per user and stays out of committed
 * stack files, so render reports what is missing while `pulumi preview`/`up` refuse to start.
 */

import { PROJECT_NAME } from "../constants";
import type { TcpShiftConfig } from "./config";

/** A missing piece of access: the keys that would satisfy it and the command that sets one. */
export interface MissingAccess {
  /** What cannot be reached, e.g. "ASM control plane". */
  target: string;
  /** Any one of these keys satisfies it. */
  keys: string[];
  /** The CLI command that sets it. */
  command: string;
}

/** Everything the program needs to reach its clusters that `config` does not provide. */
export function missingClusterAccess(config: TcpShiftConfig): MissingAccess[] {
  if (config.mode !== "asm") return [];
  const missing: MissingAccess[] = [];
  if (!config.clusterId) {
    missing.push({
      target: "ACK data-plane cluster (ASM deploys the ingress gateway there)",
      keys: ["clusterId"],
      command: `pulumi config set ${PROJECT_NAME}:clusterId <ACK cluster id>`,
    });
  }
  if (!config.meshKubeconfig && !config.meshId) {
    missing.push({
      target: "ASM control plane (Istio resources and IstioGateway)",
      keys: ["meshId", "meshKubeconfig"],
      command: `pulumi config set ${PROJECT_NAME}:meshId <ASM instance id>  (or: pulumi config set --secret ${PROJECT_NAME}:meshKubeconfig < asm-kubeconfig.yaml)`,
    });
  }
  return missing;
}

/** One line per missing piece: the keys that satisfy it, then the command that sets one. */
export function missingAccessLines(missing: MissingAccess[]): string[] {
  return missing.map(
    (item) =>
      `  - ${item.target}: set ${item.keys.map((k) => `${PROJECT_NAME}:${k}`).join(" or ")}\n      ${item.command}`,
  );
}

/** A message naming every missing key and how to set it, or undefined when nothing is missing. */
export function describeMissingAccess(missing: MissingAccess[]): string | undefined {
  if (missing.length === 0) return undefined;
  return `Cluster access is not configured for this stack:\n${missingAccessLines(missing).join("\n")}`;
}
