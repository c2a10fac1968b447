import { describe, expect, it } from "vitest";
import { type Endpoint, EndpointPool } from "../../../dataplane/gateway/endpointPool";

const targets = (pool: EndpointPool, n: number) =>
  Array.from({ length: n }, () => pool.next().target);

describe("endpoint pool", () => {
  it("round robins over the endpoints", () => {
    const pool = new EndpointPool(["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    expect(targets(pool, 6)).toEqual([
      "10.0.0.1:1",
      "10.0.0.2:1",
      "10.0.0.3:1",
      "10.0.0.1:1",
      "10.0.0.2:1",
      "10.0.0.3:1",
    ]);
  });

  it("skips a failing endpoint until it is healthy again", () => {
    const pool = new EndpointPool(["10.0.0.1:1", "10.0.0.2:1"]);
    const first = pool.endpoints[0] as Endpoint;
    pool.markFailed(first);
    expect(targets(pool, 3)).toEqual(["10.0.0.2:1", "10.0.0.2:1", "10.0.0.2:1"]);
    pool.markHealthy(first);
    expect(new Set(targets(pool, 2))).toEqual(new Set(["10.0.0.1:1", "10.0.0.2:1"]));
  });

  it("tries a failing endpoint again once its cooldown is over", () => {
    const pool = new EndpointPool(["10.0.0.1:1", "10.0.0.2:1"]);
    const first = pool.endpoints[0] as Endpoint;
    pool.markFailed(first);
    first.failedUntil = Date.now() - 1;
    expect(targets(pool, 2)).toEqual(["10.0.0.1:1", "10.0.0.2:1"]);
    expect(first.failing).toBe(false);
  });

  it("still hands out endpoints when all are failing (the attempt itself decides)", () => {
    const pool = new EndpointPool(["10.0.0.1:1", "10.0.0.2:1"]);
    for (const endpoint of pool.endpoints) pool.markFailed(endpoint);
    expect(targets(pool, 2)).toEqual(["10.0.0.1:1", "10.0.0.2:1"]);
  });

  it("resolves hostnames once, IPv4 first, and keeps IPs and [IPv6] as they are", async () => {
    const pool = new EndpointPool(["localhost:9000", "127.0.0.1:9001", "[::1]:9002"]);
    expect(await pool.resolve()).toEqual([]);
    expect(pool.endpoints.map((e) => [e.address, e.port])).toEqual([
      ["127.0.0.1", 9000],
      ["127.0.0.1", 9001],
      ["::1", 9002],
    ]);
  });

  it("keeps an unresolvable hostname (resolved per connect later) and reports it", async () => {
    const pool = new EndpointPool(["no-such-host.invalid:9000"]);
    const failures = await pool.resolve();
    expect(failures.map((f) => f.endpoint.target)).toEqual(["no-such-host.invalid:9000"]);
    expect(pool.endpoints[0]?.address).toBe("no-such-host.invalid");
  });
});
