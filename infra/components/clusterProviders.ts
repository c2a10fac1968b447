/**
 * The Kubernetes providers: in asm mode one for the ACK data plane and one for the ASM control
 * plane (REFERENCE section 3); in istio and standalone mode one cluster serves both roles. Every
 * kubeconfig is a Pulumi secret, whether it came from config or from the Alibaba Cloud API (whose
 * outputs are not marked secret).
 */
import * as alicloud from "@pulumi/alicloud";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stackConfig";
import { DATA_PLANE_PROVIDER_NAME, MESH_PROVIDER_NAME } from "../constants";

/** Where each kind of object goes. */
export interface ClusterProviders {
  /** Deployments, Services, ConfigMaps: the ACK cluster. */
  dataPlane: k8s.Provider;
  /** Istio objects and ASM's IstioGateway: the ASM control plane (the same cluster outside asm). */
  mesh: k8s.Provider;
}

/** Kubeconfig of the data plane: from config, from `clusterId`, or the ambient one (undefined). */
function dataPlaneKubeconfig({ config, secrets }: StackConfig) {
  if (secrets.kubeconfig) return pulumi.secret(secrets.kubeconfig);
  if (config.clusterId) {
    const credential = alicloud.cs.getClusterCredentialOutput({ clusterId: config.clusterId });
    return pulumi.secret(credential.kubeConfig);
  }
  return undefined;
}

/** Kubeconfig of the ASM control plane: from config or from `meshId`. */
function meshKubeconfig({ config, secrets }: StackConfig): pulumi.Output<string> {
  if (secrets.meshKubeconfig) return pulumi.secret(secrets.meshKubeconfig);
  const meshId = config.meshId;
  if (!meshId) {
    // missingClusterAccess rejects this before any provider is created.
    throw new pulumi.RunError("asm mode needs tcp-shift:meshId or tcp-shift:meshKubeconfig");
  }
  const meshes = alicloud.servicemesh.getServiceMeshesOutput({
    ids: [meshId],
    enableDetails: true,
  });
  return pulumi.secret(
    meshes.apply(({ meshes: found }) => {
      const kubeconfig = found[0]?.kubeConfig;
      if (!kubeconfig) {
        throw new pulumi.RunError(
          `ASM instance ${meshId} (tcp-shift:meshId) was not found in this region or returned no kubeconfig`,
        );
      }
      return kubeconfig;
    }),
  );
}

/** Create the providers the mode needs. */
export function createClusterProviders(stack: StackConfig): ClusterProviders {
  const dataPlane = new k8s.Provider(DATA_PLANE_PROVIDER_NAME, {
    kubeconfig: dataPlaneKubeconfig(stack),
    // The standalone route ConfigMap must be updated in place (the gateway reloads it), not
    // replaced: a replace deletes the ConfigMap with a fixed name before recreating it.
    enableConfigMapMutable: true,
  });
  if (stack.config.mode !== "asm") return { dataPlane, mesh: dataPlane };
  const mesh = new k8s.Provider(MESH_PROVIDER_NAME, { kubeconfig: meshKubeconfig(stack) });
  return { dataPlane, mesh };
}
