/**
 * Cluster access: where it comes from and what a stack still needs. Access is per user and never
 * belongs in a committed stack file, so its place is the environment of whoever runs `pulumi`:
 *
 * - `TCP_SHIFT_KUBECONFIG`: path of the ACK (data-plane) kubeconfig; without it, an ACK cluster
 *   named by `TCP_SHIFT_CLUSTER_ID` is reached with a credential from the Alibaba Cloud API, and
 *   otherwise the ambient kubeconfig (`KUBECONFIG` or ~/.kube/config) is used, as kubectl would.
 * - `TCP_SHIFT_MESH_KUBECONFIG`: path of the ASM control plane's kubeconfig; or
 *   `TCP_SHIFT_MESH_ID`, the ASM instance, whose kubeconfig comes from the Alibaba Cloud API.
 * - `TCP_SHIFT_CLUSTER_ID`, `TCP_SHIFT_MESH_ID` also name the clusters: ASM deploys the ingress
 *   gateway to that ACK cluster, and the ids are the providers' identities (`clusterIdentifier`).
 *
 * The `tcp-shift:` config keys of the same names still work and take precedence (CI sets them in
 * its runner from a repository secret; Pulumi ESC environments set them through `pulumiConfig`).
 * Render reports what is missing; `pulumi preview`/`up` refuse to start without it.
 */

import { PROJECT_NAME } from "../constants";
import type { TcpShiftConfig } from "./config";

/** Environment variables of per-user cluster access, by the config key they stand for. */
export const ACCESS_ENV = {
  clusterId: "TCP_SHIFT_CLUSTER_ID",
  kubeconfig: "TCP_SHIFT_KUBECONFIG",
  meshId: "TCP_SHIFT_MESH_ID",
  meshKubeconfig: "TCP_SHIFT_MESH_KUBECONFIG",
} as const;

/** How long `up` waits for the Service ASM creates for the ingress gateway, in seconds. */
export const SERVICE_WAIT_ENV = "TCP_SHIFT_SERVICE_WAIT_SECONDS";

/** A missing piece of access: the settings that would satisfy it and how to set one. */
export interface MissingAccess {
  /** What cannot be reached, e.g. "ASM control plane". */
  target: string;
  /** Environment variables, any one of which satisfies it. */
  env: string[];
  /** Config keys that satisfy it too (CI, Pulumi ESC). */
  keys: string[];
  /** The shell command that sets one. */
  command: string;
}

/** Everything the program needs to reach its clusters that `config` (with the environment's access merged in) does not provide. */
export function missingClusterAccess(config: TcpShiftConfig): MissingAccess[] {
  if (config.mode !== "asm") return [];
  const missing: MissingAccess[] = [];
  if (!config.clusterId) {
    missing.push({
      target: "ACK data-plane cluster (ASM deploys the ingress gateway there)",
      env: [ACCESS_ENV.clusterId],
      keys: ["clusterId"],
      command: `export ${ACCESS_ENV.clusterId}=<ACK cluster id>`,
    });
  }
  if (!config.meshKubeconfig && !config.meshId) {
    missing.push({
      target: "ASM control plane (Istio resources and IstioGateway)",
      env: [ACCESS_ENV.meshKubeconfig, ACCESS_ENV.meshId],
      keys: ["meshKubeconfig", "meshId"],
      command: `export ${ACCESS_ENV.meshKubeconfig}=<path of the ASM kubeconfig>  (or: export ${ACCESS_ENV.meshId}=<ASM instance id>)`,
    });
  }
  return missing;
}

/** One line per missing piece: the variables (and keys) that satisfy it, then the command. */
export function missingAccessLines(missing: MissingAccess[]): string[] {
  return missing.map(
    (item) =>
      `  - ${item.target}: set ${item.env.join(" or ")} (or the config key ${item.keys.map((k) => `${PROJECT_NAME}:${k}`).join(" / ")})\n      ${item.command}`,
  );
}

/** A message naming every missing setting and how to set it, or undefined when nothing is missing. */
export function describeMissingAccess(missing: MissingAccess[]): string | undefined {
  if (missing.length === 0) return undefined;
  return `Cluster access is not configured for this stack:\n${missingAccessLines(missing).join("\n")}`;
}
