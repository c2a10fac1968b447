/**
 * Pod and container settings that meet the Kubernetes "restricted" Pod Security Standard, plus
 * resources and probes. Plain data, shared by every workload this project declares.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { ContainerResources } from "../config/settings";
import { NON_ROOT_UID, TCP_PORT_NAME } from "../constants";

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;
type ResourceRequirements = k8s.types.input.core.v1.ResourceRequirements;
type Probe = k8s.types.input.core.v1.Probe;

/** Pod-level part of "restricted": non-root with a numeric user, RuntimeDefault seccomp. */
export function restrictedPodSecurityContext() {
  return {
    runAsNonRoot: true,
    runAsUser: NON_ROOT_UID,
    runAsGroup: NON_ROOT_UID,
    fsGroup: NON_ROOT_UID,
    seccompProfile: { type: "RuntimeDefault" },
  } satisfies PodSecurityContext;
}

/** Container-level part of "restricted", plus a read-only root filesystem. */
export function restrictedContainerSecurityContext() {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: NON_ROOT_UID,
    seccompProfile: { type: "RuntimeDefault" },
  } satisfies SecurityContext;
}

/** Kubernetes `resources` from the four quantities. */
export function containerResources(resources: ContainerResources) {
  return {
    requests: { cpu: resources.cpuRequest, memory: resources.memoryRequest },
    limits: { cpu: resources.cpuLimit, memory: resources.memoryLimit },
  } satisfies ResourceRequirements;
}

/** The one TCP port of a Service or gateway: named `tcp` so Istio treats it as raw TCP. */
export function tcpServicePort(port: number, targetPort: number | string = port) {
  return { name: TCP_PORT_NAME, port, targetPort, protocol: "TCP" as const };
}

/** TCP readiness and liveness probes on `port` (tcp-echo has no HTTP endpoint). */
export function tcpProbes(port: number) {
  return {
    readinessProbe: {
      tcpSocket: { port },
      initialDelaySeconds: 1,
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      tcpSocket: { port },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
  } satisfies { readinessProbe: Probe; livenessProbe: Probe };
}

/** HTTP readiness and liveness probes against the admin endpoints of the bundled gateway. */
export function httpProbes(port: string | number, livenessPath: string, readinessPath: string) {
  return {
    readinessProbe: {
      httpGet: { path: readinessPath, port },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: livenessPath, port },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
  } satisfies { readinessProbe: Probe; livenessProbe: Probe };
}
