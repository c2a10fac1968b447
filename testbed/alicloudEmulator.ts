/**
 * An EMULATED `alicloud` resource provider plugin for the testbed: the real `pulumi` engine talks
 * to it as it would to pulumi-alicloud, but no Alibaba Cloud API is called. It covers exactly what
 * tcp-shift uses:
 *
 * - `slb.ApplicationLoadBalancer` (a CLB: id `lb-testbed…`, `address` from TEST-NET-1 derived from
 *   the id, the same address the cloud-controller stand-in gives a Service bound to that id);
 *   a CLB with `deleteProtection: "on"` refuses deletion, as Alibaba Cloud does;
 * - `slb.Acl` and `slb.AclEntryAttachment` (an access-control list and its entries);
 * - `slb.getApplicationLoadBalancers` (a reused CLB's address), `cs.getClusterCredential` and
 *   `servicemesh.getServiceMeshes` (the kubeconfigs of the local `data` and `mesh` clusters, for
 *   stacks that name their clusters by id only).
 *
 * Installed into the testbed's Pulumi home as `resource-alicloud-v<version of @pulumi/alicloud>`
 * by {@link installAlicloudEmulator}; it finds the control planes through `TCP_SHIFT_TESTBED_STATE`
 * (their state directory).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  ClusterError,
  type ControlPlaneState,
  LOCAL_CLUSTER_IDS,
  localKubeconfig,
  readState,
  TESTBED_STATE_ENV,
} from "./controlPlanes";
import { clbAddress } from "./emulator";
import { NO_DOWNLOAD_ENV } from "./toolchain";

const REPO_ROOT = resolve(__dirname, "..");

const ALB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer";
const ACL = "alicloud:slb/acl:Acl";
const ACL_ENTRY = "alicloud:slb/aclEntryAttachment:AclEntryAttachment";

/** The version of @pulumi/alicloud in node_modules: the plugin version the SDK asks for. */
export function alicloudSdkVersion(): string {
  const file = join(REPO_ROOT, "node_modules", "@pulumi", "alicloud", "package.json");
  const pkg = JSON.parse(readFileSync(file, "utf8")) as {
    version: string;
    pulumi?: { version?: string };
  };
  return pkg.pulumi?.version ?? pkg.version;
}

type Inputs = Record<string, unknown>;

function typeOf(urn: string): string {
  return urn.split("::")[2]?.split("$").pop() ?? "";
}

function newId(prefix: string): string {
  return `${prefix}-testbed${randomBytes(6).toString("hex")}`;
}

/** Outputs the emulated cloud computes (never inputs). */
const COMPUTED = ["address", "status"];

/** Properties whose change re-creates the resource (as in pulumi-alicloud). */
const REPLACE_ON: Record<string, string[]> = {
  [ALB]: ["addressType", "vswitchId", "paymentType"],
  [ACL]: ["ipVersion"],
  [ACL_ENTRY]: ["aclId", "entry"],
};

function state(): ControlPlaneState {
  const dir = process.env[TESTBED_STATE_ENV];
  if (!dir)
    throw new Error(
      `${TESTBED_STATE_ENV} is not set: the emulated alicloud provider cannot find the local clusters`,
    );
  const found = readState(dir);
  if (!found) throw new Error(`no local control planes in ${dir} (npm run cluster -- up)`);
  return found;
}

const emulatedAlicloud: pulumi.provider.Provider = {
  version: alicloudSdkVersion(),

  async check(_urn, _olds, news) {
    return { inputs: news };
  },

  async diff(_id, urn, olds: Inputs, news: Inputs) {
    // `olds` are the last outputs: the inputs plus what the cloud computed.
    const changed = Object.keys({ ...olds, ...news }).filter(
      (key) =>
        !key.startsWith("__") &&
        !COMPUTED.includes(key) &&
        JSON.stringify(olds[key]) !== JSON.stringify(news[key]),
    );
    const replaces = changed.filter((key) => (REPLACE_ON[typeOf(urn)] ?? []).includes(key));
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(urn, inputs: Inputs) {
    switch (typeOf(urn)) {
      case ALB: {
        const id = newId("lb");
        return { id, outs: { ...inputs, address: clbAddress(id), status: "active" } };
      }
      case ACL:
        return { id: newId("acl"), outs: { ...inputs } };
      case ACL_ENTRY:
        return { id: `${inputs.aclId}:${inputs.entry}`, outs: { ...inputs } };
      default:
        throw new Error(`the emulated alicloud provider does not implement ${typeOf(urn)}`);
    }
  },

  async read(id, _urn, props) {
    return { id, props };
  },

  async update(id, urn, _olds, news: Inputs) {
    return {
      outs: typeOf(urn) === ALB ? { ...news, address: clbAddress(id), status: "active" } : news,
    };
  },

  async delete(id, urn, props: Inputs) {
    if (typeOf(urn) === ALB && props.deleteProtection === "on") {
      throw new Error(
        `OperationDenied.DeleteProtection: the CLB ${id} has delete protection on; turn it off (tcp-shift:clbDeleteProtection false, pulumi up) before deleting it`,
      );
    }
  },

  async invoke(token, inputs: Inputs) {
    switch (token) {
      case "alicloud:slb/getApplicationLoadBalancers:getApplicationLoadBalancers": {
        const ids = (inputs.ids as string[] | undefined) ?? [];
        const balancers = ids.map((id) => ({ id, address: clbAddress(id) }));
        return { outputs: { ...inputs, id: ids.join(","), ids, balancers } };
      }
      case "alicloud:cs/getClusterCredential:getClusterCredential": {
        const clusterId = String(inputs.clusterId);
        if (clusterId !== LOCAL_CLUSTER_IDS.data) {
          throw new Error(
            `ErrorClusterNotFound: cluster ${clusterId} not found (the testbed has ${LOCAL_CLUSTER_IDS.data})`,
          );
        }
        return {
          outputs: { ...inputs, id: clusterId, kubeConfig: localKubeconfig(state(), "data") },
        };
      }
      case "alicloud:servicemesh/getServiceMeshes:getServiceMeshes": {
        const ids = (inputs.ids as string[] | undefined) ?? [];
        const meshes = ids
          .filter((id) => id === LOCAL_CLUSTER_IDS.mesh)
          .map((id) => ({ id, kubeConfig: localKubeconfig(state(), "mesh") }));
        return { outputs: { ...inputs, id: ids.join(","), ids, names: ids, meshes } };
      }
      default:
        throw new Error(`the emulated alicloud provider does not implement ${token}`);
    }
  },
};

/**
 * Installs the emulated provider into `pulumiHome` as the alicloud plugin version the SDK asks for
 * (a launcher script that runs this file under tsx). Idempotent; returns the plugin directory.
 */
export function installAlicloudEmulator(pulumiCli: string, pulumiHome: string): string {
  const version = alicloudSdkVersion();
  const source = join(pulumiHome, ".tcp-shift-alicloud-emulator");
  rmSync(source, { recursive: true, force: true });
  mkdirSync(source, { recursive: true });
  const launcher = join(source, "pulumi-resource-alicloud");
  writeFileSync(
    launcher,
    [
      "#!/bin/sh",
      "# EMULATED alicloud provider of the tcp-shift testbed (testbed/alicloudEmulator.ts).",
      `cd ${JSON.stringify(REPO_ROOT)} || exit 1`,
      `exec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(join(__dirname, "alicloudEmulator.ts"))} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(launcher, 0o755);
  const r = spawnSync(
    pulumiCli,
    ["plugin", "install", "resource", "alicloud", version, "--file", source, "--reinstall"],
    {
      encoding: "utf8",
      env: { ...process.env, PULUMI_HOME: pulumiHome, ...NO_DOWNLOAD_ENV },
    },
  );
  if (r.status !== 0) {
    throw new ClusterError(
      `installing the emulated alicloud provider failed: ${r.error?.message ?? (r.stderr || r.stdout)}`,
    );
  }
  return join(pulumiHome, "plugins", `resource-alicloud-v${version}`);
}

if (require.main === module) {
  // Started by the engine: serve the provider protocol.
  void pulumi.provider.main(emulatedAlicloud, process.argv.slice(2));
}
