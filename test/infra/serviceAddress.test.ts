import { describe, expect, it } from "vitest";
import type { ServiceReading } from "../../infra/cluster/programHost";
import { awaitServiceAddress, type ServiceWaitOptions } from "../../infra/cluster/serviceAddress";

/** A wait on a fake clock: `readings` are returned in turn (the last one repeats). */
async function waitWith(
  readings: Array<ServiceReading | Error>,
  options: Partial<ServiceWaitOptions> = {},
) {
  let clock = 0;
  const log: string[] = [];
  let reads = 0;
  const promise = awaitServiceAddress({
    read: async () => {
      const reading = readings[Math.min(reads++, readings.length - 1)] as ServiceReading | Error;
      if (reading instanceof Error) throw reading;
      return reading;
    },
    service: "istio-system/istio-app-ingressgateway",
    cluster: "ACK cluster c1",
    creator: "ASM (IstioGateway istio-system/app-ingressgateway)",
    checks: ["the clusterIds", "the events"],
    timeoutSeconds: 60,
    log: (line) => log.push(`${clock / 1000}s ${line}`),
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
    ...options,
  });
  const address = await promise.then(
    (value) => value,
    (error: unknown) => error as Error,
  );
  return { address, log, reads, seconds: clock / 1000 };
}

describe("awaitServiceAddress", () => {
  it("returns at once, silently, when the Service already has its address", async () => {
    const { address, log, reads } = await waitWith([{ found: true, address: "192.0.2.10" }]);
    expect(address).toBe("192.0.2.10");
    expect(log).toEqual([]);
    expect(reads).toBe(1);
  });

  it("waits for ASM to create the Service, then for its address, reporting progress", async () => {
    const readings: ServiceReading[] = [
      ...Array.from({ length: 10 }, () => ({ found: false }) as const),
      ...Array.from({ length: 5 }, () => ({ found: true }) as const),
      { found: true, address: "192.0.2.11" },
    ];
    const { address, log, seconds } = await waitWith(readings);
    expect(address).toBe("192.0.2.11");
    expect(seconds).toBe(30);
    expect(log).toEqual([
      "0s waiting for ASM (IstioGateway istio-system/app-ingressgateway) to create Service istio-system/istio-app-ingressgateway in ACK cluster c1 (0 s of 60 s)",
      "16s waiting for ASM (IstioGateway istio-system/app-ingressgateway) to create Service istio-system/istio-app-ingressgateway in ACK cluster c1 (16 s of 60 s)",
      "30s istio-system/istio-app-ingressgateway has address 192.0.2.11 (after 30 s)",
    ]);
  });

  it("retries read errors and names the last one", async () => {
    const { address } = await waitWith([
      new Error("connect ECONNREFUSED"),
      { found: true, address: "h" },
    ]);
    expect(address).toBe("h");
    const failed = await waitWith([new Error("403 Forbidden")], { timeoutSeconds: 4 });
    expect((failed.address as Error).message).toContain("Last error reading it: 403 Forbidden");
  });

  it("stops after the bound with what it waited for and what to check", async () => {
    const missing = await waitWith([{ found: false }], { timeoutSeconds: 10 });
    expect(missing.seconds).toBe(10);
    expect((missing.address as Error).message).toBe(
      [
        "Service istio-system/istio-app-ingressgateway did not appear in ACK cluster c1 within 10 s (ASM (IstioGateway istio-system/app-ingressgateway) should create it).",
        "Check:",
        "  - the clusterIds",
        "  - the events",
        "Then run pulumi up again: what was created stays, the wait resumes.",
      ].join("\n"),
    );
    const noAddress = await waitWith([{ found: true }], { timeoutSeconds: 10 });
    expect((noAddress.address as Error).message).toMatch(
      /^Service istio-system\/istio-app-ingressgateway in ACK cluster c1 got no load balancer address within 10 s/,
    );
  });
});
