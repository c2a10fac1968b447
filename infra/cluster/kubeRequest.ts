/**
 * The one read the program makes of a cluster itself: GET a Service through a kubeconfig (its
 * active context: CA or insecure-skip-tls-verify, client certificate, bearer token, basic auth,
 * or an exec credential plugin as ACK's RAM authenticator uses). Everything else goes through the
 * Kubernetes provider.
 */
import { execFile } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import type { ServiceReading } from "./programHost";

interface ActiveContext {
  cluster: {
    server: string;
    "certificate-authority-data"?: string;
    "insecure-skip-tls-verify"?: boolean;
    "tls-server-name"?: string;
  };
  user: {
    token?: string;
    "client-certificate-data"?: string;
    "client-key-data"?: string;
    username?: string;
    password?: string;
    exec?: {
      command: string;
      args?: string[];
      env?: Array<{ name: string; value: string }>;
    };
  };
}

/** The current context's cluster and user of kubeconfig text. */
function activeContext(kubeconfig: string): ActiveContext {
  const document = parseYaml(kubeconfig) as {
    clusters?: Array<{ name: string; cluster: ActiveContext["cluster"] }>;
    users?: Array<{ name: string; user: ActiveContext["user"] }>;
    contexts?: Array<{ name: string; context: { cluster: string; user?: string } }>;
    "current-context"?: string;
  };
  const contextName = document["current-context"] ?? document.contexts?.[0]?.name;
  const context = document.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = document.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  if (!cluster?.server) throw new Error("the kubeconfig has no current cluster");
  const user = document.users?.find((u) => u.name === context?.user)?.user ?? {};
  return { cluster, user };
}

const execFileAsync = promisify(execFile);

/**
 * What an exec credential plugin returns (client.authentication.k8s.io ExecCredential). Run
 * without blocking: the wait for ASM's Service reads every few seconds during `up`, while the
 * engine still talks to the program.
 */
async function execCredential(exec: NonNullable<ActiveContext["user"]["exec"]>) {
  const { stdout } = await execFileAsync(exec.command, exec.args ?? [], {
    encoding: "utf8",
    env: {
      ...process.env,
      ...Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])),
    },
    timeout: 60_000,
  });
  const status = (
    JSON.parse(stdout) as {
      status?: { token?: string; clientCertificateData?: string; clientKeyData?: string };
    }
  ).status;
  return status ?? {};
}

const decode = (base64: string | undefined) =>
  base64 ? Buffer.from(base64, "base64").toString("utf8") : undefined;

/** GET `path` of the kubeconfig's cluster; resolves with the status and parsed body. */
export async function kubeGet(
  kubeconfig: string,
  path: string,
  timeoutMs = 15_000,
): Promise<{ status: number; body: unknown }> {
  const { cluster, user } = activeContext(kubeconfig);
  // Keep a path prefix of the server URL (a proxy may serve the API below one).
  const base = new URL(cluster.server);
  const url = new URL(`${base.pathname.replace(/\/+$/, "")}${path}`, base);
  const headers: Record<string, string> = { accept: "application/json" };
  const options: RequestOptions = { method: "GET", headers, timeout: timeoutMs };
  const credential = user.exec ? await execCredential(user.exec) : {};
  const token = credential.token ?? user.token;
  if (token) headers.authorization = `Bearer ${token}`;
  else if (user.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  }
  const cert = credential.clientCertificateData ?? decode(user["client-certificate-data"]);
  const key = credential.clientKeyData ?? decode(user["client-key-data"]);
  if (cert && key) Object.assign(options, { cert, key });
  const ca = decode(cluster["certificate-authority-data"]);
  if (ca) options.ca = ca;
  if (cluster["insecure-skip-tls-verify"]) options.rejectUnauthorized = false;
  if (cluster["tls-server-name"]) options.servername = cluster["tls-server-name"];
  const send = url.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Reads a Service through the kubeconfig: missing, or present with its load balancer address. */
export async function readServiceOverHttps(
  kubeconfig: string,
  namespace: string,
  name: string,
): Promise<ServiceReading> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`;
  const { status, body } = await kubeGet(kubeconfig, path);
  if (status === 404) return { found: false };
  if (status !== 200) {
    const message = (body as { message?: string } | undefined)?.message ?? String(body);
    throw new Error(`GET ${path}: ${status} ${message}`);
  }
  const ingress = (
    body as { status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } } }
  ).status?.loadBalancer?.ingress?.[0];
  const address = ingress?.ip ?? ingress?.hostname;
  return address ? { found: true, address } : { found: true };
}
