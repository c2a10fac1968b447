import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

/** The address the cloud controller gave a LoadBalancer Service (IP, else hostname). */
export function loadBalancerHost(service: k8s.core.v1.Service): pulumi.Output<string> {
  return service.status.apply((status) => {
    const ingress = status?.loadBalancer?.ingress?.[0];
    return ingress?.ip ?? ingress?.hostname ?? "";
  });
}
