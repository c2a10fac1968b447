import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRouteFile } from "../../gateway/routeFile";

describe("gateway/routes.example.yaml", () => {
  it("is a valid route file: 80/20 on the tutorial's port", () => {
    const path = join(__dirname, "../../gateway/routes.example.yaml");
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
