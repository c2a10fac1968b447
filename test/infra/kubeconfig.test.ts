import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { UserError } from "../../contract/userError";
import {
  ambientKubeconfigFiles,
  kubeconfigFile,
  normalizeServer,
  resolveKubeconfig,
} from "../../infra/cluster/kubeconfig";

const FILES: Record<string, string> = {
  "/home/me/.kube/ca.crt": "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
  "/home/me/.kube/certs/client.crt": "CLIENT CERT",
  "/home/me/.kube/certs/client.key": "CLIENT KEY",
  "/home/me/.kube/token": "t0ken\n",
};
const readFile = (path: string) => {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
  return text;
};
const source = (text: string, origin = "test") => ({ text, baseDir: "/home/me/.kube", origin });
const b64 = (text: string) => Buffer.from(text).toString("base64");

const TWO_CONTEXTS = `
apiVersion: v1
kind: Config
current-context: ack
clusters:
  - name: ack-cluster
    cluster: {server: "https://ACK.example.com:6443/", certificate-authority: ca.crt}
  - name: other
    cluster: {server: "https://other.example.com"}
contexts:
  - name: ack
    context: {cluster: ack-cluster, user: me, namespace: team}
  - name: other
    context: {cluster: other, user: me}
users:
  - name: me
    user: {client-certificate: certs/client.crt, client-key: certs/client.key}
`;

describe("resolveKubeconfig", () => {
  it("keeps the current context only, inlines the files it names, under one name", () => {
    const resolved = resolveKubeconfig([source(TWO_CONTEXTS)], "data-plane", readFile);
    expect(resolved.server).toBe("https://ack.example.com:6443");
    expect(parse(resolved.text)).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "data-plane",
          cluster: {
            server: "https://ACK.example.com:6443/",
            "certificate-authority-data": b64(FILES["/home/me/.kube/ca.crt"] as string),
          },
        },
      ],
      users: [
        {
          name: "data-plane",
          user: {
            "client-certificate-data": b64("CLIENT CERT"),
            "client-key-data": b64("CLIENT KEY"),
          },
        },
      ],
      contexts: [{ name: "data-plane", context: { cluster: "data-plane", user: "data-plane" } }],
      "current-context": "data-plane",
    });
  });

  it("gives the same text for the same cluster and user under other names", () => {
    const renamed = TWO_CONTEXTS.replaceAll("ack-cluster", "prod")
      .replaceAll("name: me", "name: admin")
      .replaceAll("user: me", "user: admin")
      .replace("current-context: ack", "current-context: production")
      .replace("- name: ack\n", "- name: production\n");
    expect(resolveKubeconfig([source(renamed)], "x", readFile)).toEqual(
      resolveKubeconfig([source(TWO_CONTEXTS)], "x", readFile),
    );
  });

  it("merges KUBECONFIG files as kubectl does: the first current-context and definition win", () => {
    const first = "apiVersion: v1\nkind: Config\ncurrent-context: b\n";
    const second = [
      "apiVersion: v1",
      "kind: Config",
      "current-context: a",
      "clusters: [{name: c, cluster: {server: https://b.example.com}}]",
      "contexts: [{name: b, context: {cluster: c, user: u}}]",
      "users: [{name: u, user: {tokenFile: token}}]",
    ].join("\n");
    const resolved = resolveKubeconfig([source(first), source(second)], "n", readFile);
    expect(resolved.server).toBe("https://b.example.com");
    expect(parse(resolved.text).users).toEqual([{ name: "n", user: { token: "t0ken" } }]);
  });

  it("says what is wrong, naming where the kubeconfig came from", () => {
    const cases: Array<[string, string]> = [
      [
        "kind: Config\nclusters: []\n",
        "no current-context (set one with kubectl config use-context)",
      ],
      ["current-context: x\n", 'current-context "x" is not defined'],
      [
        "current-context: x\ncontexts: [{name: x, context: {cluster: nope}}]\n",
        'context "x" names no cluster with a server',
      ],
      ["- a list\n", "not a kubeconfig (YAML with clusters, contexts and users)"],
    ];
    for (const [text, reason] of cases) {
      expect(() =>
        resolveKubeconfig([source(text, "TCP_SHIFT_KUBECONFIG=/k")], "n", readFile),
      ).toThrow(new UserError("E_KUBECONFIG", `TCP_SHIFT_KUBECONFIG=/k: ${reason}`));
    }
    const missingCa = TWO_CONTEXTS.replace("ca.crt", "missing.crt");
    expect(() => resolveKubeconfig([source(missingCa, "o")], "n", readFile)).toThrow(
      /^o: cannot read the CA file \/home\/me\/\.kube\/missing\.crt: ENOENT/,
    );
  });
});

describe("kubeconfig files and the ambient kubeconfig", () => {
  it("reads a named file, or says it is missing", () => {
    expect(kubeconfigFile("/home/me/.kube/token", "o", readFile)).toEqual({
      text: "t0ken\n",
      baseDir: "/home/me/.kube",
      origin: "o",
    });
    expect(() => kubeconfigFile("/nope", "TCP_SHIFT_KUBECONFIG=/nope", readFile)).toThrow(
      "TCP_SHIFT_KUBECONFIG=/nope: no such file",
    );
  });

  it("KUBECONFIG's existing files, else ~/.kube/config, else nothing", () => {
    const exists = (path: string) => ["/a", "/c", "/home/me/.kube/config"].includes(path);
    expect(ambientKubeconfigFiles({ KUBECONFIG: "/a:/b:/c" }, "/home/me", exists)).toEqual([
      "/a",
      "/c",
    ]);
    expect(ambientKubeconfigFiles({}, "/home/me", exists)).toEqual(["/home/me/.kube/config"]);
    expect(ambientKubeconfigFiles({}, "/home/you", exists)).toEqual([]);
  });

  it("normalises API server URLs for comparison", () => {
    expect(normalizeServer("https://API.Example.com:6443/")).toBe("https://api.example.com:6443");
    expect(normalizeServer("https://asm.example.com/k8s/clusters/c1/")).toBe(
      "https://asm.example.com/k8s/clusters/c1",
    );
  });
});
