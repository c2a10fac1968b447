import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRouteFile, ROUTE_FILE_MAX_BYTES } from "../../contract/routeFile";

describe("dataplane/gateway/routes.example.yaml", () => {
  it("is a valid route file: 80/20 on the tutorial's port", () => {
    const path = join(__dirname, "../../dataplane/gateway/routes.example.yaml");
    const routes = parseRouteFile(readFileSync(path, "utf8"), path);
    expect(routes.listeners).toHaveLength(1);
    const [listener] = routes.listeners;
    expect(listener?.listen).toBe("127.0.0.1:31400");
    expect(listener?.routes.map((route) => [route.name, route.weight])).toEqual([
      ["v1", 80],
      ["v2", 20],
    ]);
  });
});

describe("route file addresses", () => {
  const file = (endpoint: string, listen = "127.0.0.1:0") =>
    `listeners:\n  - name: t\n    listen: "${listen}"\n    routes:\n      - { name: v1, weight: 1, endpoints: ["${endpoint}"] }\n`;

  it("accepts host:port and [ipv6]:port, and port 0 only for listen", () => {
    expect(() =>
      parseRouteFile(file("tcp-echo-v1.default.svc.cluster.local:9000"), "r.yaml"),
    ).not.toThrow();
    expect(() => parseRouteFile(file("[::1]:9000", "[::1]:0"), "r.yaml")).not.toThrow();
  });

  it("names the field, the file and what is allowed", () => {
    expect(() => parseRouteFile(file("127.0.0.1:0"), "r.yaml")).toThrow(
      "Invalid route file r.yaml:\n  - listeners.0.routes.0.endpoints.0: endpoint must be host:port or [ipv6]:port with a port from 1 to 65535, e.g. 127.0.0.1:9000",
    );
    expect(() => parseRouteFile(file("127.0.0.1:9000", "localhost"), "r.yaml")).toThrow(
      "listeners.0.listen: listen must be host:port or [ipv6]:port with a port from 0 to 65535",
    );
  });
});

describe("route file formats", () => {
  const document = {
    listeners: [
      {
        name: "t",
        listen: "127.0.0.1:0",
        routes: [{ name: "v1", weight: 1, endpoints: ["127.0.0.1:9000"] }],
      },
    ],
  };

  it("reads JSON and YAML to the same routes", () => {
    const fromJson = parseRouteFile(`  ${JSON.stringify(document, null, 2)}\n`, "r.json");
    const fromYaml = parseRouteFile(
      'listeners:\n  - name: t\n    listen: "127.0.0.1:0"\n    routes:\n      - { name: v1, weight: 1, endpoints: ["127.0.0.1:9000"] }\n',
      "r.yaml",
    );
    expect(fromJson).toEqual(fromYaml);
    expect(fromJson.listeners[0]?.maxConnections).toBe(10_000);
  });

  it("names the file when it does not parse, as JSON or as YAML", () => {
    expect(() => parseRouteFile('{"listeners": [', "r.json")).toThrow(
      /^Cannot parse route file r\.json: /,
    );
    expect(() => parseRouteFile("listeners: [\n  - a: b\n", "r.yaml")).toThrow(
      /^Cannot parse route file r\.yaml: /,
    );
  });
});

describe("route file size", () => {
  const listener = (endpoints: string[]) =>
    JSON.stringify({
      listeners: [
        {
          name: "t",
          listen: "127.0.0.1:0",
          routes: [{ name: "v1", weight: 1, endpoints }],
        },
      ],
    });

  it("refuses a file over 1 MiB before parsing it, saying the limit", () => {
    const text = `${listener(["127.0.0.1:9000"])}${" ".repeat(ROUTE_FILE_MAX_BYTES)}`;
    expect(() => parseRouteFile(text, "r.json")).toThrow(
      `Route file r.json is ${Buffer.byteLength(text)} bytes; the limit is 1048576 bytes (1 MiB)`,
    );
  });

  it("refuses 131,000 invalid endpoints with one clear line, not a stack overflow", () => {
    const text = listener(Array.from({ length: 131_000 }, () => "bad"));
    expect(() => parseRouteFile(text, "r.json")).toThrow(
      "Invalid route file r.json: 131000 endpoints; a route file has at most 10000 in all",
    );
  });

  it("lists the first 20 problems and says how many more there are", () => {
    const text = listener(Array.from({ length: 50 }, () => "bad"));
    let message = "";
    try {
      parseRouteFile(text, "r.json");
    } catch (error) {
      message = (error as Error).message;
    }
    const lines = message.split("\n");
    expect(lines[0]).toBe("Invalid route file r.json:");
    expect(lines).toHaveLength(1 + 20 + 1);
    expect(lines[1]).toMatch(
      /^ {2}- listeners\.0\.routes\.0\.endpoints\.0: endpoint must be host:port/,
    );
    expect(lines[21]).toBe("  - and 30 more");
  });
});
