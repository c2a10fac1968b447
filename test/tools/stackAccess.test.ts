import { describe, expect, it } from "vitest";
import { accessCommands } from "../../tools/ci/stackAccess";

describe("accessCommands", () => {
  it("sets ids in plain text and kubeconfigs as secrets, values on standard input", () => {
    const kubeconfig = "apiVersion: v1\nkind: Config\n";
    expect(
      accessCommands(
        "prod",
        JSON.stringify({ clusterId: "c0123456789ab", meshKubeconfig: kubeconfig }),
      ),
    ).toEqual([
      { args: ["config", "set", "--stack", "prod", "tcp-shift:clusterId"], input: "c0123456789ab" },
      {
        args: ["config", "set", "--secret", "--stack", "prod", "tcp-shift:meshKubeconfig"],
        input: kubeconfig,
      },
    ]);
  });

  it("rejects keys that are not access keys, naming the key and the allowed ones", () => {
    expect(() => accessCommands("dev", '{"weightV2":"20"}')).toThrow(
      'ACCESS_JSON key "weightV2" is not allowed; use clusterId, kubeconfig, meshId, meshKubeconfig',
    );
  });

  it("rejects text that is not a JSON object", () => {
    expect(() => accessCommands("dev", "c0123")).toThrow("ACCESS_JSON must be a JSON object");
    expect(() => accessCommands("dev", "[]")).toThrow("ACCESS_JSON must be a JSON object");
    expect(() => accessCommands("dev", '{"meshId": ""}')).toThrow(
      'ACCESS_JSON key "meshId" must be a non-empty string',
    );
  });
});
