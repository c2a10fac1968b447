import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseRouteFile } from "../../../contract/routeFile";
import { UserError } from "../../../contract/userError";
import { routeFileTarget, setRouteFileWeight } from "../../../tools/shift/routeFileTarget";
import { setStackFileWeight, stackFileTarget } from "../../../tools/shift/stackFileTarget";
import { routeFileText } from "./shiftHarness";

const dir = mkdtempSync(join(tmpdir(), "shift-targets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const committed = (name: string) => readFileSync(join(__dirname, "../../..", name), "utf8");

describe("stack file target", () => {
  it("changes only weightV2 in the committed stack files, as a quoted string", () => {
    for (const name of ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]) {
      const text = committed(name);
      expect(setStackFileWeight(text, 20)).toBe(
        text.replace('tcp-shift:weightV2: "0"', 'tcp-shift:weightV2: "20"'),
      );
    }
  });

  it("adds a missing weightV2 at the end of config, and a plain value becomes a quoted string", () => {
    expect(setStackFileWeight("config:\n  tcp-shift:mode: asm # the mode\n", 5)).toBe(
      'config:\n  tcp-shift:mode: asm # the mode\n  tcp-shift:weightV2: "5"\n',
    );
    expect(setStackFileWeight("config:\n  tcp-shift:weightV2: 10\n", 50)).toBe(
      'config:\n  tcp-shift:weightV2: "50"\n',
    );
  });

  it("reads, writes atomically (no temporary file left, mode kept) and reads back", async () => {
    const path = join(dir, "Pulumi.dev.yaml");
    writeFileSync(path, committed("Pulumi.dev.yaml"));
    chmodSync(path, 0o640);
    const target = stackFileTarget(path);
    expect(await target.currentWeight()).toBe(0);
    expect(target.describeChange(20)).toBe(
      'set tcp-shift:weightV2 to "20" in Pulumi.dev.yaml (as pulumi config set weightV2 20)',
    );
    await target.setWeight(20, () => {});
    expect(await target.currentWeight()).toBe(20);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("takes the reply prefixes from the stack file", () => {
    const path = join(dir, "Pulumi.prefixes.yaml");
    writeFileSync(path, 'config:\n  tcp-shift:prefixV1: hello\n  tcp-shift:prefixV2: "bye"\n');
    expect(stackFileTarget(path).prefixes?.()).toEqual({ v1: "hello", v2: "bye" });
  });

  it("refuses a missing file (usage), an encrypted or invalid weight (stack file)", async () => {
    expect(() => stackFileTarget(join(dir, "Pulumi.none.yaml"))).toThrow(
      expect.objectContaining({
        code: "E_USAGE",
        message: expect.stringContaining("no such file"),
      }),
    );
    const secret = join(dir, "Pulumi.secret.yaml");
    writeFileSync(secret, "config:\n  tcp-shift:weightV2:\n    secure: v1:abc\n");
    expect(() => stackFileTarget(secret)).toThrow("is encrypted ({secure: ...})");
    const bad = join(dir, "Pulumi.bad.yaml");
    writeFileSync(bad, 'config:\n  tcp-shift:weightV2: "150"\n');
    expect(() => stackFileTarget(bad)).toThrow(
      'tcp-shift:weightV2 = "150": must be an integer from 0 to 100',
    );
  });
});

describe("route file target", () => {
  const selection = { routes: { v1: "v1", v2: "v2" } };

  it("sets both weights in YAML, keeping comments, and the gateway's schema accepts it", () => {
    const text = routeFileText(9001, 9002, 0);
    const next = setRouteFileWeight(text, selection, 20);
    expect(next).toBe(text.replace("weight: 100", "weight: 80").replace("weight: 0", "weight: 20"));
    expect(next).toContain("# routes of the shift test");
    expect(next).toContain("- name: v2 # the new version");
  });

  it("rewrites JSON route files as JSON", () => {
    const json = JSON.stringify(parseRouteFile(routeFileText(9001, 9002, 0), "test"));
    const next = JSON.parse(setRouteFileWeight(json, selection, 100));
    expect(next.listeners[0].routes.map((r: { weight: number }) => r.weight)).toEqual([0, 100]);
  });

  it("reads the current weight as v2's share, writes atomically", async () => {
    const path = join(dir, "routes.yaml");
    writeFileSync(
      path,
      routeFileText(9001, 9002, 0)
        .replace("weight: 100", "weight: 150")
        .replace("weight: 0", "weight: 50"),
    );
    const target = routeFileTarget(path, selection);
    expect(target.listener).toBe("tcp-echo");
    expect(target.description).toBe("route file routes.yaml (listener tcp-echo, routes v1 and v2)");
    expect(await target.currentWeight()).toBe(25);
    await target.setWeight(50, () => {});
    expect(await target.currentWeight()).toBe(50);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("names what is wrong: no such routes, other weighted routes, unknown listener", () => {
    const text = routeFileText(9001, 9002, 0);
    const refuse = (input: string, message: string, chosen = selection) => {
      try {
        setRouteFileWeight(input, chosen, 10, "routes.yaml");
      } catch (error) {
        expect(error).toBeInstanceOf(UserError);
        expect((error as Error).message).toContain(message);
        return;
      }
      throw new Error("no error");
    };
    refuse(
      text,
      'routes.yaml has no listener with routes "stable" and "canary"; it has tcp-echo (v1, v2): name them with --v1-route/--v2-route',
      { routes: { v1: "stable", v2: "canary" } },
    );
    refuse(text, 'routes.yaml has no listener "edge"; it has tcp-echo (v1, v2)', {
      listener: "edge",
      routes: selection.routes,
    } as never);
    const third = text.replace(
      "      - name: v2",
      '      - name: v3\n        weight: 10\n        endpoints: ["127.0.0.1:9003"]\n      - name: v2',
    );
    refuse(third, "also routes to v3 (weight 10); weights are relative");
  });
});
