/**
 * The Kubernetes providers: in asm mode one for the ACK data plane and one for the ASM control
 * plane (REFERENCE section 3); in istio and standalone mode one cluster serves both roles. Every
 * kubeconfig is a Pulumi secret, whether it came from config, a file or the Alibaba Cloud API
 * (whose outputs are not marked secret). Each provider carries a `clusterIdentifier` (the ACK
 * cluster or ASM instance id, else the API server URL): a kubeconfig that changes its names, its
 * credential or its endpoint then updates the provider instead of replacing it, and with it every
 * Deployment and LoadBalancer Service.
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
  /**
   * The data plane's kubeconfig (secret), for the one read the program makes itself: the Service
   * ASM creates. Undefined when the provider falls back to its own defaults.
   */
  dataPlaneKubeconfig?: pulumi.Output<string>;
}

/** Kubeconfig of the data plane: from config or a file (already read), or from `clusterId`. */
function dataPlaneKubeconfig(
  access: DataPlaneAccess,
  secrets: StackSecrets,
): pulumi.Output<string> | undefined {
  if (access.source === "clusterId") {
    const credential = alicloud.cs.getClusterCredentialOutput({ clusterId: access.clusterId });
    return pulumi.secret(credential.kubeConfig);
  }
  // `kubeconfig` (config or TCP_SHIFT_KUBECONFIG) or the ambient file, read by loadStackConfig.
  return secrets.kubeconfig ? pulumi.secret(secrets.kubeconfig) : undefined;
}

/** Kubeconfig of the ASM control plane: from config or a file, or from `meshId`. */
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
export function createClusterProviders({
  settings,
  secrets,
  clusters,
}: StackConfig): ClusterProviders {
  const dataPlaneKubeconfigText = dataPlaneKubeconfig(settings.access.dataPlane, secrets);
  const dataPlane = new k8s.Provider(DATA_PLANE_PROVIDER_NAME, {
    kubeconfig: dataPlaneKubeconfigText,
    ...(clusters.dataPlane.identity ? { clusterIdentifier: clusters.dataPlane.identity } : {}),
    // The standalone route ConfigMap must be updated in place (the gateway reloads it), not
    // replaced: a replace deletes the ConfigMap with a fixed name before recreating it.
    enableConfigMapMutable: true,
  });
  const connection = {
    dataPlane,
    ...(dataPlaneKubeconfigText ? { dataPlaneKubeconfig: dataPlaneKubeconfigText } : {}),
  };
  if (settings.mode !== "asm") return { ...connection, mesh: dataPlane };
  const mesh = new k8s.Provider(MESH_PROVIDER_NAME, {
    kubeconfig: meshKubeconfig(settings.access.mesh, secrets),
    ...(clusters.mesh?.identity ? { clusterIdentifier: clusters.mesh.identity } : {}),
  });
  return { ...connection, mesh };
}
