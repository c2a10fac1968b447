/**
 * The address of a Service a controller creates for a declared object (ASM's for the
 * IstioGateway, Istio's for a Gateway API Gateway): read by the program itself through the
 * program host, with the data plane's kubeconfig, once the declared object exists.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { type ServiceReading, setProgramHost } from "../../infra/cluster/programHost";
import { provisionedServiceAddress } from "../../infra/components/provisionedServiceAddress";
import { useProgramMocks } from "./programHarness";

useProgramMocks();

afterEach(() => setProgramHost(undefined));

function owner(name: string): pulumi.CustomResource {
  return new k8s.apiextensions.CustomResource(name, {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name, namespace: "shop" },
  });
}

const ARGS = {
  namespace: "shop",
  name: "tcp-echo-gateway-istio",
  missingKubeconfig: "set TCP_SHIFT_KUBECONFIG",
  cluster: "the data-plane cluster",
  creator: "Istio (Gateway shop/tcp-echo-gateway, class istio)",
  checks: ["the GatewayClass"],
  waitSeconds: 1,
};

const resolved = (output: pulumi.Output<string>) =>
  new Promise<string>((resolve) => output.apply(resolve));

describe("provisionedServiceAddress", () => {
  it("reads the named Service with the kubeconfig; the address is no secret", async () => {
    const reads: string[][] = [];
    setProgramHost({
      readService: async (kubeconfig, namespace, name): Promise<ServiceReading> => {
        reads.push([kubeconfig, namespace, name]);
        return reads.length < 2 ? { found: true } : { found: true, address: "198.51.100.7" };
      },
    });
    const address = provisionedServiceAddress({
      ...ARGS,
      owner: owner("read"),
      kubeconfig: pulumi.secret("kubeconfig-text"),
    });
    expect(await resolved(address)).toBe("198.51.100.7");
    expect(await pulumi.isSecret(address)).toBe(false);
    // The first read found no address yet: the wait read again.
    expect(reads).toEqual([
      ["kubeconfig-text", "shop", "tcp-echo-gateway-istio"],
      ["kubeconfig-text", "shop", "tcp-echo-gateway-istio"],
    ]);
  });

  it("without a kubeconfig it cannot read over HTTPS: a RunError that says what to set", () => {
    setProgramHost({ env: {} });
    expect(() =>
      provisionedServiceAddress({ ...ARGS, owner: owner("nokubeconfig"), kubeconfig: undefined }),
    ).toThrow(new pulumi.RunError("set TCP_SHIFT_KUBECONFIG"));
  });
});
