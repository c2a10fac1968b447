/**
 * The testbed's stand-in for what Alibaba Cloud and the missing node components do around the
 * two local API servers. It EMULATES them; it is not ASM, ACK or a kubelet:
 *
 * - ASM (REFERENCE section 11): an `IstioGateway` in `mesh` whose `clusterIds` lists the data
 *   cluster makes, after `asmDelayMs`, the Deployment and the Service `istio-system/istio-<name>`
 *   in `data` (ports, `serviceType`, `serviceAnnotations`, `podLabels` copied); later spec changes
 *   are synced, deleting the IstioGateway deletes both. Pods are labelled `app: istio-<name>`,
 *   `istio: <name>` (`ingressgateway` gives Istio's usual `istio: ingressgateway`).
 * - Istio's gateway deployment controller (REFERENCE section 9; istio mode): a Gateway API
 *   `Gateway` of class `istio` in `data` without `spec.addresses` makes, after `asmDelayMs`, the
 *   LoadBalancer Service `<gateway>-istio` in the Gateway's namespace (ports from the listeners,
 *   `spec.infrastructure` annotations and labels copied, owned by the Gateway); later spec
 *   changes are synced, deleting the Gateway deletes it. A Gateway in `mesh` (asm mode binds to
 *   ASM's own gateway through `spec.addresses`) gets none: no Istio runs there.
 * - ACK's cloud controller: every LoadBalancer Service in `data` gets, after `ccmDelayMs`,
 *   `status.loadBalancer.ingress[0].ip` from TEST-NET-1 (192.0.2.0/24, RFC 5737); a Service
 *   annotated with a CLB id always gets the same address for that id (a reused CLB).
 * - The scheduler and the kubelet: there are none, so pods would stay Pending. This binds every
 *   pod of `data` to one fake Node and, after `podReadyDelayMs`, reports it Running and Ready with
 *   a pod IP (no container runs). The real controllers (Deployment, ReplicaSet, Endpoints) do the
 *   rest, so a Deployment's availability and a Service's endpoints are computed as in a cluster.
 *   Terminating pods are removed at once, as a kubelet does once containers stopped.
 * - A second address of the data API server (`alternateDataPort`, a TCP relay): the same cluster
 *   reached through another endpoint, as ACK's internet and intranet endpoints are.
 *
 * Run by `npm run cluster -- up` as its own process: `tsx testbed/emulator.ts <config.json>`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import {
  KubeApiError,
  KubeClient,
  type KubeEndpoint,
  type KubeObject,
  objectPath,
} from "./kubeClient";

/** What the emulator needs, written by the launcher as JSON. */
export interface EmulatorConfig {
  data: KubeEndpoint;
  mesh: KubeEndpoint;
  /** Id the data cluster answers to in an IstioGateway's `clusterIds`. */
  dataClusterId: string;
  /** Name of the one fake Node. */
  nodeName: string;
  asmDelayMs: number;
  ccmDelayMs: number;
  podReadyDelayMs: number;
  /** Port of the data API server, and the second port that relays to it (0: none). */
  dataPort: number;
  alternateDataPort: number;
  /** Written once every watch has listed and the Node exists. */
  readyFile: string;
}

/** Field manager of everything the ASM stand-in writes. */
export const ASM_EMULATOR_MANAGER = "asm-emulator";
/** Label on the objects the ASM stand-in creates in `data`. */
export const ASM_EMULATED_LABEL = "tcp-shift.testbed/emulated-by";
/** First three octets of the emulated CLB addresses (TEST-NET-1, RFC 5737). */
export const LOAD_BALANCER_NET = "192.0.2";
const CLB_ID_ANNOTATION = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id";
const ISTIO_GATEWAYS = "/apis/istio.alibabacloud.com/v1beta1/istiogateways";
/** Field manager of what the Istio gateway controller stand-in writes. */
export const ISTIO_GATEWAY_EMULATOR_MANAGER = "istio-gateway-emulator";
/** The GatewayClass Istio's gateway deployment controller serves. */
export const ISTIO_GATEWAY_CLASS = "istio";
const GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1";
const GATEWAY_API_GATEWAYS = `/apis/${GATEWAY_API_VERSION}/gateways`;

function log(level: "info" | "warn" | "error", message: string, fields: object = {}): void {
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The address of the CLB `id`, the same wherever it is asked for: the emulated alicloud provider
 * (a CLB the stack creates or reuses) and the cloud-controller stand-in (a Service bound to it).
 */
export function clbAddress(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_003;
  return `${LOAD_BALANCER_NET}.${200 + (hash % 50)}`;
}

/** The address an emulated CLB gets: the CLB's own for a bound Service, else the next free one. */
class AddressPool {
  private readonly byUid = new Map<string, string>();

  addressFor(uid: string, clbId: string | undefined): string {
    const known = this.byUid.get(uid);
    if (known) return known;
    let address: string;
    if (clbId) {
      address = clbAddress(clbId);
    } else {
      const used = new Set(this.byUid.values());
      let host = 10;
      while (used.has(`${LOAD_BALANCER_NET}.${host}`) && host < 199) host++;
      address = `${LOAD_BALANCER_NET}.${host}`;
    }
    this.byUid.set(uid, address);
    return address;
  }

  release(uid: string): void {
    this.byUid.delete(uid);
  }
}

interface IstioGatewaySpec {
  gatewayType?: string;
  clusterIds?: string[];
  ports?: Array<{ name?: string; port: number; targetPort?: number; protocol?: string }>;
  replicaCount?: number;
  serviceType?: string;
  serviceAnnotations?: Record<string, string>;
  serviceLabels?: Record<string, string>;
  externalTrafficPolicy?: string;
  podLabels?: Record<string, string>;
}

/** The Deployment and Service ASM makes in a data cluster for an IstioGateway. */
export function asmGatewayObjects(gateway: KubeObject): { deployment: object; service: object } {
  const name = `istio-${gateway.metadata.name}`;
  const namespace = gateway.metadata.namespace ?? "istio-system";
  const spec = (gateway.spec ?? {}) as IstioGatewaySpec;
  const selector = { app: name, istio: gateway.metadata.name };
  const labels = { ...selector, [ASM_EMULATED_LABEL]: ASM_EMULATOR_MANAGER };
  const serviceType = spec.serviceType ?? "LoadBalancer";
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels },
    spec: {
      replicas: spec.replicaCount ?? 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...(spec.podLabels ?? {}), ...selector } },
        spec: {
          containers: [
            {
              name: "istio-proxy",
              image: "testbed.invalid/asm/proxyv2:emulated",
              ports: (spec.ports ?? []).map((port) => ({
                containerPort: port.targetPort || port.port,
                protocol: "TCP",
              })),
            },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace,
      labels: { ...(spec.serviceLabels ?? {}), ...labels },
      annotations: { ...(spec.serviceAnnotations ?? {}) },
    },
    spec: {
      type: serviceType,
      selector,
      ports: (spec.ports ?? []).map((port) => ({
        name: port.name ?? `port-${port.port}`,
        port: port.port,
        targetPort: port.targetPort || port.port,
        // ASM's `protocol` is Istio's (HTTP2, HTTPS, TCP...); a Service port speaks TCP.
        protocol: "TCP",
      })),
      ...(serviceType === "ClusterIP" || !spec.externalTrafficPolicy
        ? {}
        : { externalTrafficPolicy: spec.externalTrafficPolicy }),
    },
  };
  return { deployment, service };
}

interface GatewayApiGatewaySpec {
  gatewayClassName?: string;
  addresses?: unknown[];
  listeners?: Array<{ name?: string; port: number; protocol?: string }>;
  infrastructure?: { annotations?: Record<string, string>; labels?: Record<string, string> };
}

/**
 * The Service Istio's gateway deployment controller makes for a Gateway API `Gateway` of class
 * `istio`: `<gateway>-istio`, LoadBalancer, the status port and one port per listener port,
 * `spec.infrastructure` annotations and labels copied, owned by the Gateway. Undefined for a
 * Gateway Istio deploys nothing for: another class, or bound to an existing gateway
 * (`spec.addresses`).
 */
export function istioGatewayService(gateway: KubeObject): object | undefined {
  const spec = (gateway.spec ?? {}) as GatewayApiGatewaySpec;
  if (spec.gatewayClassName !== ISTIO_GATEWAY_CLASS) return undefined;
  if ((spec.addresses ?? []).length > 0) return undefined;
  const { name, namespace = "default", uid } = gateway.metadata;
  const selector = { "gateway.networking.k8s.io/gateway-name": name };
  const ports = [{ name: "status-port", port: 15021, appProtocol: "tcp", protocol: "TCP" }];
  for (const [index, listener] of (spec.listeners ?? []).entries()) {
    if (ports.some((port) => port.port === listener.port)) continue;
    const protocol = (listener.protocol ?? "TCP").toLowerCase();
    ports.push({
      name: listener.name || `${protocol}-${index}`,
      port: listener.port,
      appProtocol: protocol,
      protocol: "TCP",
    });
  }
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: `${name}-${ISTIO_GATEWAY_CLASS}`,
      namespace,
      labels: {
        ...(spec.infrastructure?.labels ?? {}),
        ...selector,
        "istio.io/gateway-name": name,
        [ASM_EMULATED_LABEL]: ISTIO_GATEWAY_EMULATOR_MANAGER,
      },
      annotations: { ...(spec.infrastructure?.annotations ?? {}) },
      ...(uid
        ? {
            ownerReferences: [
              { apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "Gateway", name, uid },
            ],
          }
        : {}),
    },
    spec: { type: "LoadBalancer", selector, ports },
  };
}

/** Runs every stand-in until `stop()`. */
export class CloudEmulator {
  private readonly data: KubeClient;
  private readonly mesh: KubeClient;
  private readonly stops: Array<() => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<string>();
  private readonly addresses = new AddressPool();
  /** IstioGateways (by uid) whose first sync is due or done. */
  private readonly gatewaysSeen = new Set<string>();
  /** Gateway API Gateways (by uid) whose Service Istio's stand-in made or is about to make. */
  private readonly gatewayApiSeen = new Set<string>();
  private relay?: Server;
  private podCounter = 0;

  constructor(private readonly config: EmulatorConfig) {
    this.data = new KubeClient(config.data);
    this.mesh = new KubeClient(config.mesh);
  }

  async start(): Promise<void> {
    await this.ensureNode();
    await Promise.all([
      this.watch(this.data, "/api/v1/pods", (type, pod) => this.onPod(type, pod)),
      this.watch(this.data, "/api/v1/services", (type, svc) => this.onService(type, svc)),
      this.watch(this.mesh, ISTIO_GATEWAYS, (type, gw) => this.onIstioGateway(type, gw)),
      // data only: Istio runs in the istio-mode cluster, not on ASM's control plane.
      this.watch(this.data, GATEWAY_API_GATEWAYS, (type, gw) => this.onGatewayApiGateway(type, gw)),
    ]);
    if (this.config.alternateDataPort) await this.startRelay();
    writeFileSync(this.config.readyFile, `${process.pid}\n`);
    log("info", "emulator ready", {
      asmDelayMs: this.config.asmDelayMs,
      ccmDelayMs: this.config.ccmDelayMs,
      podReadyDelayMs: this.config.podReadyDelayMs,
    });
  }

  stop(): void {
    for (const stop of this.stops) stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.relay?.close();
  }

  /** Watch `path`; resolves once its first list was handled. */
  private watch(
    client: KubeClient,
    path: string,
    handle: (type: string, object: KubeObject) => void,
  ): Promise<void> {
    return new Promise((resolve) => {
      const stop = client.informer(path, (event) => handle(event.type, event.object), {
        onError: (error) =>
          log("warn", "watch failed; retrying", { path, error: describeError(error) }),
        onSynced: resolve,
      });
      this.stops.push(stop);
    });
  }

  private later(delayMs: number, key: string, task: () => Promise<void>): void {
    if (this.pending.has(key)) return;
    this.pending.add(key);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task()
        .catch((error) => log("warn", "task failed", { key, error: describeError(error) }))
        .finally(() => this.pending.delete(key));
    }, delayMs);
    this.timers.add(timer);
  }

  // -- the fake node, scheduler and kubelet -------------------------------------------------

  private async ensureNode(): Promise<void> {
    const name = this.config.nodeName;
    const path = `/api/v1/nodes/${name}`;
    if (!(await this.data.find(path))) {
      await this.data.create("/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          labels: { "kubernetes.io/hostname": name, [ASM_EMULATED_LABEL]: "kubelet-emulator" },
        },
      });
    }
    const now = new Date().toISOString();
    const capacity = { cpu: "64", memory: "256Gi", pods: "500" };
    await this.data.mergePatch(`${path}/status`, {
      status: {
        capacity,
        allocatable: capacity,
        addresses: [
          { type: "InternalIP", address: "10.0.0.10" },
          { type: "Hostname", address: name },
        ],
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "emulated by the tcp-shift testbed (no kubelet runs)",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        nodeInfo: {
          kubeletVersion: "v0.0.0-emulated",
          containerRuntimeVersion: "none://emulated",
          operatingSystem: "linux",
          architecture: "amd64",
          kernelVersion: "",
          osImage: "tcp-shift testbed",
          kubeProxyVersion: "",
          machineID: "",
          systemUUID: "",
          bootID: "",
        },
      },
    });
  }

  private onPod(type: string, pod: KubeObject): void {
    if (type === "DELETED") return;
    const { namespace = "default", name, uid = name } = pod.metadata;
    const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
    const spec = pod.spec as {
      nodeName?: string;
      containers?: Array<{ name: string; image?: string }>;
    };
    const status = (pod.status ?? {}) as {
      phase?: string;
      conditions?: Array<{ type: string; status: string }>;
    };
    if (pod.metadata.deletionTimestamp) {
      // A kubelet stops the containers, then removes the pod for good.
      this.later(0, `delete ${uid}`, async () => {
        await this.data.delete(path, { gracePeriodSeconds: 0 });
      });
      return;
    }
    if (!spec.nodeName) {
      this.later(0, `bind ${uid}`, async () => {
        try {
          await this.data.create(`${path}/binding`, {
            apiVersion: "v1",
            kind: "Binding",
            metadata: { name, namespace },
            target: { apiVersion: "v1", kind: "Node", name: this.config.nodeName },
          });
        } catch (error) {
          // Already bound (409) or gone (404): nothing to do.
          if (!(error instanceof KubeApiError) || ![404, 409].includes(error.status)) throw error;
        }
      });
      return;
    }
    if (spec.nodeName !== this.config.nodeName) return;
    const ready = status.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    if (status.phase === "Running" && ready) return;
    this.later(this.config.podReadyDelayMs, `run ${uid}`, async () => {
      const current = await this.data.find(path);
      if (!current || current.metadata.uid !== uid || current.metadata.deletionTimestamp) return;
      const now = new Date().toISOString();
      this.podCounter = (this.podCounter % 60000) + 1;
      const podIp = `10.244.${Math.floor(this.podCounter / 250)}.${(this.podCounter % 250) + 2}`;
      const condition = (conditionType: string) => ({
        type: conditionType,
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: now,
      });
      await this.data.mergePatch(`${path}/status`, {
        status: {
          phase: "Running",
          hostIP: "10.0.0.10",
          hostIPs: [{ ip: "10.0.0.10" }],
          podIP: podIp,
          podIPs: [{ ip: podIp }],
          startTime: now,
          conditions: [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            condition("PodScheduled"),
          ],
          containerStatuses: (spec.containers ?? []).map((container) => ({
            name: container.name,
            image: container.image ?? "",
            imageID: "",
            containerID: `emulated://${uid}/${container.name}`,
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          })),
        },
      });
    });
  }

  // -- ACK's cloud controller ---------------------------------------------------------------

  private onService(type: string, service: KubeObject): void {
    const { namespace = "default", name, uid = name } = service.metadata;
    if (type === "DELETED") {
      this.addresses.release(uid);
      return;
    }
    const spec = service.spec as { type?: string };
    const status = service.status as { loadBalancer?: { ingress?: unknown[] } } | undefined;
    if (spec.type !== "LoadBalancer") return;
    if ((status?.loadBalancer?.ingress ?? []).length > 0) return;
    this.later(this.config.ccmDelayMs, `clb ${uid}`, async () => {
      const path = `/api/v1/namespaces/${namespace}/services/${name}`;
      const current = await this.data.find(path);
      if (!current || current.metadata.uid !== uid) return;
      if ((current.spec as { type?: string }).type !== "LoadBalancer") return;
      const ip = this.addresses.addressFor(uid, current.metadata.annotations?.[CLB_ID_ANNOTATION]);
      await this.data.mergePatch(`${path}/status`, {
        status: { loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } },
      });
      log("info", "CLB address assigned", { service: `${namespace}/${name}`, ip });
    });
  }

  // -- ASM ----------------------------------------------------------------------------------

  private onIstioGateway(type: string, gateway: KubeObject): void {
    const { name, namespace = "istio-system", uid = name } = gateway.metadata;
    const spec = (gateway.spec ?? {}) as IstioGatewaySpec;
    const deployed = (spec.clusterIds ?? []).includes(this.config.dataClusterId);
    if (type === "DELETED" || !deployed) {
      const seen = this.gatewaysSeen.has(uid);
      this.gatewaysSeen.delete(uid);
      if (type === "DELETED" || seen) {
        this.later(500, `asm-delete ${uid}`, () => this.deleteGatewayObjects(name, namespace));
      }
      if (!deployed && type !== "DELETED") {
        log("info", "IstioGateway does not list the data cluster; ASM deploys nothing", {
          gateway: `${namespace}/${name}`,
          clusterIds: spec.clusterIds ?? [],
          dataClusterId: this.config.dataClusterId,
        });
      }
      return;
    }
    // The first deployment takes ASM a while; later changes are synced quickly.
    const first = !this.gatewaysSeen.has(uid);
    this.gatewaysSeen.add(uid);
    const delay = first ? this.config.asmDelayMs : 500;
    this.later(delay, `asm-sync ${uid}`, async () => {
      const path = objectPath("istio.alibabacloud.com/v1beta1", "istiogateways", namespace, name);
      const current = await this.mesh.find(path);
      if (!current || current.metadata.uid !== uid) return;
      await this.syncGatewayObjects(current);
    });
  }

  private async syncGatewayObjects(gateway: KubeObject): Promise<void> {
    const { deployment, service } = asmGatewayObjects(gateway);
    const namespace = gateway.metadata.namespace ?? "istio-system";
    const name = `istio-${gateway.metadata.name}`;
    await this.data.apply(
      objectPath("apps/v1", "deployments", namespace, name),
      deployment,
      ASM_EMULATOR_MANAGER,
    );
    await this.data.apply(
      objectPath("v1", "services", namespace, name),
      service,
      ASM_EMULATOR_MANAGER,
    );
    log("info", "ASM gateway deployed to the data cluster", {
      gateway: `${namespace}/${gateway.metadata.name}`,
      service: `${namespace}/${name}`,
    });
  }

  private async deleteGatewayObjects(gatewayName: string, namespace: string): Promise<void> {
    const name = `istio-${gatewayName}`;
    // Another IstioGateway of that name may have been created meanwhile: keep its objects.
    const again = await this.mesh.find(
      objectPath("istio.alibabacloud.com/v1beta1", "istiogateways", namespace, gatewayName),
    );
    const spec = (again?.spec ?? {}) as IstioGatewaySpec;
    if (again && (spec.clusterIds ?? []).includes(this.config.dataClusterId)) return;
    await this.data.delete(objectPath("v1", "services", namespace, name));
    await this.data.delete(objectPath("apps/v1", "deployments", namespace, name));
    log("info", "ASM gateway removed from the data cluster", { service: `${namespace}/${name}` });
  }

  // -- Istio's gateway deployment controller ------------------------------------------------

  private onGatewayApiGateway(type: string, gateway: KubeObject): void {
    const { name, namespace = "default", uid = name } = gateway.metadata;
    const service = type === "DELETED" ? undefined : istioGatewayService(gateway);
    const servicePath = objectPath("v1", "services", namespace, `${name}-${ISTIO_GATEWAY_CLASS}`);
    if (!service) {
      // The garbage collector would remove it through the owner reference; do not wait for it.
      if (this.gatewayApiSeen.delete(uid)) {
        this.later(500, `istio-gateway-delete ${uid}`, async () => {
          const current = await this.data.find(servicePath);
          const owners = (current?.metadata as { ownerReferences?: Array<{ uid: string }> })
            ?.ownerReferences;
          if (owners?.some((owner) => owner.uid === uid)) {
            await this.data.delete(servicePath);
            log("info", "Istio gateway Service removed", { service: `${namespace}/${name}` });
          }
        });
      }
      return;
    }
    // The first deployment takes a while (the gateway's pods start first); later changes are quick.
    const first = !this.gatewayApiSeen.has(uid);
    this.gatewayApiSeen.add(uid);
    this.later(first ? this.config.asmDelayMs : 500, `istio-gateway-sync ${uid}`, async () => {
      const path = objectPath(GATEWAY_API_VERSION, "gateways", namespace, name);
      const current = await this.data.find(path);
      if (!current || current.metadata.uid !== uid) return;
      const wanted = istioGatewayService(current);
      if (!wanted) return;
      await this.data.apply(servicePath, wanted, ISTIO_GATEWAY_EMULATOR_MANAGER);
      log("info", "Istio gateway Service deployed", {
        gateway: `${namespace}/${name}`,
        service: `${namespace}/${name}-${ISTIO_GATEWAY_CLASS}`,
      });
    });
  }

  // -- a second endpoint of the data API server ---------------------------------------------

  private startRelay(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: this.config.dataPort });
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close);
      upstream.on("error", close);
      client.on("close", close);
      upstream.on("close", close);
    });
    this.relay = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: this.config.alternateDataPort }, () => resolve());
    });
  }
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) {
    process.stderr.write("usage: tsx testbed/emulator.ts <config.json>\n");
    process.exitCode = 2;
    return;
  }
  const config = JSON.parse(readFileSync(configPath, "utf8")) as EmulatorConfig;
  const emulator = new CloudEmulator(config);
  const shutdown = () => {
    emulator.stop();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  await emulator.start();
}

if (require.main === module) {
  main().catch((error) => {
    log("error", "emulator failed", { error: describeError(error) });
    process.exit(1);
  });
}
