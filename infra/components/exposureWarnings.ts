/**
 * Warnings `pulumi preview` and `pulumi up` print about how exposed the stack is, without
 * stopping it: an internet-facing CLB that any address can reach.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClbSettings } from "../config/settings";

/** The warning for an internet-facing CLB without an access list; undefined when there is none. */
export function openClbWarning(clb: ClbSettings, ingressPort: number): string | undefined {
  if (clb.clbAddressType !== "internet" || clb.allowedCidrs.length > 0) return undefined;
  const fix =
    clb.clb === "controller"
      ? "use clb create or reuse with tcp-shift:allowedCidrs (a CLB the cloud controller creates cannot carry this stack's access list)"
      : "set tcp-shift:allowedCidrs to your clients' ranges (pulumi config set --path 'allowedCidrs[0]' 203.0.113.0/24)";
  return `The internet-facing CLB accepts connections to port ${ingressPort} from any address: tcp-shift:allowedCidrs is empty. To restrict it, ${fix}, or use clbAddressType: intranet.`;
}

/** Print the stack's exposure warnings through the engine (`pulumi.log.warn`). */
export function warnAboutExposure(clb: ClbSettings, ingressPort: number): void {
  const warning = openClbWarning(clb, ingressPort);
  if (warning) void pulumi.log.warn(warning);
}
