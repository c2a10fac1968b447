import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import type { ClbSettings } from "../config/settings";
import { PROJECT_NAME } from "../constants";
import { aclEntryRole, clbAnnotations, clbResourceArgs } from "../manifests/clbSettings";

/** Arguments of {@link Clb}. */
export interface ClbArgs {
  /** Where the CLB comes from and how it is billed; `allowedCidrs` for the whitelist. */
  config: ClbSettings;
  /**
   * Name of a CLB or ACL this stack creates (unique per account and region).
   * @default "tcp-shift-<stack>"
   */
  cloudName?: string;
  /** The Alibaba Cloud provider; the default provider (`alicloud:region`) when unset. */
  provider?: alicloud.Provider;
}

/**
 * The CLB in front of the ingress. `clb: create` declares an ApplicationLoadBalancer; `reuse`
 * binds to `clbId` and looks its address up; `controller` leaves it to the ACK cloud controller
 * (no Alibaba Cloud resource here). With `allowedCidrs`, an access-control list with one entry per
 * CIDR. `annotations` go on the LoadBalancer Service (or ASM's `serviceAnnotations`).
 */
export class Clb extends pulumi.ComponentResource {
  /**
   * Annotations for the ingress Service, one Output per key where the value comes from a
   * resource: in a preview, ids not created yet are unknown and every other key stays known.
   */
  readonly annotations: Record<string, pulumi.Input<string>>;
  /** The CLB's address; undefined with `clb: controller` (read it from the Service instead). */
  readonly address?: pulumi.Output<string>;

  constructor(name: string, args: ClbArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:cloud:Clb", name, {}, opts);
    const { config } = args;
    const cloudName = args.cloudName ?? `${PROJECT_NAME}-${pulumi.getStack()}`;
    const childOpts = { parent: this, provider: args.provider };

    let loadBalancerId: pulumi.Output<string> | undefined;
    if (config.clb === "create") {
      const loadBalancer = new alicloud.slb.ApplicationLoadBalancer(
        `${name}-load-balancer`,
        clbResourceArgs(config, cloudName),
        childOpts,
      );
      loadBalancerId = loadBalancer.id;
      this.address = loadBalancer.address;
    } else if (config.clb === "reuse" && config.clbId) {
      const clbId = config.clbId;
      loadBalancerId = pulumi.output(clbId);
      this.address = alicloud.slb
        .getApplicationLoadBalancersOutput(
          { ids: [clbId] },
          { parent: this, provider: args.provider },
        )
        .apply(({ balancers }) => {
          const address = balancers[0]?.address;
          if (!address) {
            throw new pulumi.RunError(
              `CLB ${clbId} (tcp-shift:clbId) was not found in this region`,
            );
          }
          return address;
        });
    }

    let aclId: pulumi.Output<string> | undefined;
    if (config.allowedCidrs.length > 0) {
      const acl = new alicloud.slb.Acl(
        `${name}-acl`,
        { name: `${cloudName}-allowed`, ipVersion: "ipv4" },
        childOpts,
      );
      for (const cidr of config.allowedCidrs) {
        new alicloud.slb.AclEntryAttachment(
          `${name}-${aclEntryRole(cidr)}`,
          { aclId: acl.id, entry: cidr, comment: `${PROJECT_NAME} allowedCidrs` },
          childOpts,
        );
      }
      aclId = acl.id;
    }

    this.annotations = clbAnnotations<pulumi.Output<string>>(config, {
      loadBalancerId,
      aclId,
    });
    this.registerOutputs({ annotations: this.annotations, address: this.address });
  }
}
