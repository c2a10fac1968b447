/**
 * How the ingress gets its CLB, as plain data: the annotations on the LoadBalancer Service (or on
 * ASM's IstioGateway `serviceAnnotations`) and the arguments of a CLB this stack creates.
 */
import type { ClbSettings } from "../config/settings";
import { CLB_ANNOTATIONS, PROJECT_NAME } from "../constants";

/** The CLB's settings. */
export type ClbConfig = ClbSettings;

/** Ids the annotations point at: plain strings in tests and render, Outputs in the program. */
export interface ClbRefs<T> {
  /** The CLB to bind to (created by this stack or reused); unset with `clb: controller`. */
  loadBalancerId?: T;
  /** The access-control list of `allowedCidrs`; unset when the list is empty. */
  aclId?: T;
}

/**
 * Service annotations for the ACK cloud controller. With a CLB from this stack or `clbId`: bind
 * to it by `id` and let the controller manage its listeners (`force-override-listeners`), plus the
 * whitelist ACL. With `clb: controller`: how the controller should create one.
 */
export function clbAnnotations<T = string>(
  config: ClbConfig,
  refs: ClbRefs<T>,
): Record<string, string | T> {
  if (config.clb === "controller") {
    return {
      [CLB_ANNOTATIONS.addressType]: config.clbAddressType,
      ...(config.clbAddressType === "internet"
        ? { [CLB_ANNOTATIONS.chargeType]: config.clbInternetChargeType }
        : {}),
      [CLB_ANNOTATIONS.instanceChargeType]: config.clbInstanceChargeType,
      ...(config.clbSpec ? { [CLB_ANNOTATIONS.spec]: config.clbSpec } : {}),
      ...(config.clbBandwidth !== undefined
        ? { [CLB_ANNOTATIONS.bandwidth]: String(config.clbBandwidth) }
        : {}),
      ...(config.clbAddressType === "intranet" && config.clbVswitchId
        ? { [CLB_ANNOTATIONS.vswitchId]: config.clbVswitchId }
        : {}),
    };
  }
  if (refs.loadBalancerId === undefined) {
    throw new Error(`clb ${config.clb} needs the id of the CLB to annotate`);
  }
  return {
    [CLB_ANNOTATIONS.id]: refs.loadBalancerId,
    [CLB_ANNOTATIONS.forceOverrideListeners]: "true",
    ...(refs.aclId !== undefined
      ? {
          [CLB_ANNOTATIONS.aclStatus]: "on",
          [CLB_ANNOTATIONS.aclId]: refs.aclId,
          [CLB_ANNOTATIONS.aclType]: "white",
        }
      : {}),
  };
}

/** Inputs of the `alicloud.slb.ApplicationLoadBalancer` that `clb: create` declares. */
export function clbResourceArgs(config: ClbConfig, loadBalancerName: string) {
  const internet = config.clbAddressType === "internet";
  return {
    loadBalancerName,
    addressType: config.clbAddressType,
    paymentType: "PayAsYouGo",
    instanceChargeType: config.clbInstanceChargeType,
    ...(config.clbSpec ? { loadBalancerSpec: config.clbSpec } : {}),
    ...(internet
      ? {
          internetChargeType:
            config.clbInternetChargeType === "paybybandwidth" ? "PayByBandwidth" : "PayByTraffic",
        }
      : {}),
    ...(config.clbBandwidth !== undefined ? { bandwidth: config.clbBandwidth } : {}),
    ...(!internet && config.clbVswitchId ? { vswitchId: config.clbVswitchId } : {}),
    deleteProtection: config.clbDeleteProtection ? "on" : "off",
    tags: { "managed-by": "pulumi", project: PROJECT_NAME },
  };
}

/** A stable resource-name role for one whitelisted CIDR: `acl-203-0-113-0-24`. */
export function aclEntryRole(cidr: string): string {
  return `acl-${cidr.replace(/[./]/g, "-")}`;
}
