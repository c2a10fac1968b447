/**
 * The Kubernetes providers: in asm mode one for the ACK data plane and one for the ASM control
 * plane (REFERENCE section 3); in istio and standalone mode one cluster serves both roles. Every
 * kubeconfig is a Pulumi secret, whether it came from config or from the Alibaba Cloud API (whose
 * outputs are not marked secret).
 */
import * as alicloud from "@pulumi/alicloud";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { DataPlaneAccess, MeshAccess } from "../config/settings";
import type { StackConfig, StackSecrets } from "../config/stackConfig";
import { DATA_PLANE_PROVIDER_NAME, MESH_PROVIDER_NAME } from "../constants";

/** Where each kind of object goes. */
export interface ClusterProviders {
  /** Deployments, Services, ConfigMaps: the ACK cluster. */
  dataPlane: k8s.Provider;
  /** Istio objects and ASM's IstioGateway: the ASM control plane (the same cluster outside asm). */
  mesh: k8s.Provider;
}

/** Kubeconfig of the data plane: from config, from `clusterId`, or the ambient one (undefined). */
function dataPlaneKubeconfig(access: DataPlaneAccess, secrets: StackSecrets) {
  switch (access.source) {
    case "kubeconfig":
      return secrets.kubeconfig ? pulumi.secret(secrets.kubeconfig) : undefined;
    case "clusterId": {
      const credential = alicloud.cs.getClusterCredentialOutput({ clusterId: access.clusterId });
      return pulumi.secret(credential.kubeConfig);
    }
    case "ambient":
      return undefined;
  }
}

/** Kubeconfig of the ASM control plane: from config or from `meshId`. */
function meshKubeconfig(access: MeshAccess, secrets: StackSecrets): pulumi.Output<string> {
  if (access.source === "kubeconfig" && secrets.meshKubeconfig)
    return pulumi.secret(secrets.meshKubeconfig);
  if (access.source !== "meshId")
    throw new pulumi.RunError("asm mode needs tcp-shift:meshId or tcp-shift:meshKubeconfig");
  const meshId = access.meshId;
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
export function createClusterProviders({ settings, secrets }: StackConfig): ClusterProviders {
  const dataPlane = new k8s.Provider(DATA_PLANE_PROVIDER_NAME, {
    kubeconfig: dataPlaneKubeconfig(settings.access.dataPlane, secrets),
    // The standalone route ConfigMap must be updated in place (the gateway reloads it), not
    // replaced: a replace deletes the ConfigMap with a fixed name before recreating it.
    enableConfigMapMutable: true,
  });
  if (settings.mode !== "asm") return { dataPlane, mesh: dataPlane };
  const mesh = new k8s.Provider(MESH_PROVIDER_NAME, {
    kubeconfig: meshKubeconfig(settings.access.mesh, secrets),
  });
  return { dataPlane, mesh };
}
