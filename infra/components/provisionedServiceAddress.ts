/**
 * The address of a LoadBalancer Service that a controller creates for an object the program
 * declares: ASM's `istio-system/istio-<app>-ingressgateway` for the IstioGateway (asm mode), and
 * Istio's `<app>-gateway-<class>` for a Gateway API `Gateway` (istio mode). The program does not
 * own that Service, and `Service.get` cannot wait for it (it ignores `dependsOn`,
 * pulumi/pulumi#16395): a fresh stack's preview would fail and the first `up` would race the
 * controller. So the program reads it itself, once the declared object exists.
 */
import * as pulumi from "@pulumi/pulumi";
import { UserError } from "../../contract/userError";
import { readServiceOverHttps } from "../cluster/kubeRequest";
import { programHost } from "../cluster/programHost";
import { awaitServiceAddress, DEFAULT_SERVICE_WAIT_SECONDS } from "../cluster/serviceAddress";
import { SERVICE_WAIT_ENV } from "../config/clusterAccess";

/** Arguments of {@link provisionedServiceAddress}. */
export interface ProvisionedServiceAddressArgs {
  /**
   * The declared object the controller creates the Service for. Reads start once it exists (its
   * id is unknown in a fresh stack's preview, and so is the address); progress is logged on it.
   */
  owner: pulumi.CustomResource;
  namespace: string;
  name: string;
  /** Kubeconfig (secret) of the cluster the Service appears in. */
  kubeconfig: pulumi.Output<string> | undefined;
  /** The RunError when `kubeconfig` is undefined: what reads what, and what to set. */
  missingKubeconfig: string;
  /** Where the Service appears, e.g. `ACK cluster c123`. */
  cluster: string;
  /** What creates it, e.g. `ASM (IstioGateway istio-system/tcp-echo-ingressgateway)`. */
  creator: string;
  /** What to check when it does not come in time (the wait's bound is added). */
  checks: string[];
  /** How long `up` waits for the Service and its address. */
  waitSeconds: number;
}

/**
 * The Service's load balancer address. `up` waits for the Service and its address (bounded, with
 * progress lines; the timeout is a RunError that says what to check). A preview reads once and
 * leaves the address unknown while it is not there. Read through `programHost().readService`
 * (render and the mock tests stand in for the cluster, without a kubeconfig), else over HTTPS.
 */
export function provisionedServiceAddress(
  args: ProvisionedServiceAddressArgs,
): pulumi.Output<string> {
  const host = programHost();
  const read = host.readService ?? readServiceOverHttps;
  // A replaced reader answers for the cluster itself: a render needs no credentials.
  const kubeconfig = args.kubeconfig ?? (host.readService ? pulumi.output("") : undefined);
  if (!kubeconfig) throw new pulumi.RunError(args.missingKubeconfig);
  const service = `${args.namespace}/${args.name}`;
  const address = pulumi.all([args.owner.id, kubeconfig]).apply(async ([, text]) => {
    const readOnce = () => read(text, args.namespace, args.name);
    if (pulumi.runtime.isDryRun()) {
      const reading = await readOnce().catch(() => ({ found: false as const }));
      return reading.found && reading.address ? reading.address : (pulumi.unknown as string);
    }
    try {
      return await awaitServiceAddress({
        read: readOnce,
        service,
        cluster: args.cluster,
        creator: args.creator,
        checks: [
          ...args.checks,
          `a slower region: raise ${SERVICE_WAIT_ENV} (default ${DEFAULT_SERVICE_WAIT_SECONDS})`,
        ],
        timeoutSeconds: args.waitSeconds,
        log: (message) => pulumi.log.info(message, args.owner),
      });
    } catch (error) {
      if (error instanceof UserError) throw new pulumi.RunError(error.message);
      throw error;
    }
  });
  // Read with the (secret) kubeconfig, but an address is no secret.
  return pulumi.unsecret(address);
}
