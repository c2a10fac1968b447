/** `pulumi preview` warns about an internet-facing CLB that any address can reach. */
import { describe, expect, it } from "vitest";
import { openClbWarning } from "../../infra/components/exposureWarnings";
import { parseConfig } from "../../infra/config/config";
import { toStackSettings } from "../../infra/config/settings";
import { ASM_ACCESS, lastWarnings, runWith, useProgramMocks } from "./programHarness";

useProgramMocks();

const clbOf = (raw: Record<string, string>) =>
  toStackSettings(parseConfig({ mode: "istio", ...raw })).clb;

describe("openClbWarning", () => {
  it("an internet-facing CLB without allowedCidrs: names the key and how to set it", () => {
    expect(openClbWarning(clbOf({}), 31400)).toBe(
      "The internet-facing CLB accepts connections to port 31400 from any address: tcp-shift:allowedCidrs is empty. To restrict it, set tcp-shift:allowedCidrs to your clients' ranges (pulumi config set --path 'allowedCidrs[0]' 203.0.113.0/24), or use clbAddressType: intranet.",
    );
    expect(openClbWarning(clbOf({ clb: "controller" }), 31401)).toBe(
      "The internet-facing CLB accepts connections to port 31401 from any address: tcp-shift:allowedCidrs is empty. To restrict it, use clb create or reuse with tcp-shift:allowedCidrs (a CLB the cloud controller creates cannot carry this stack's access list), or use clbAddressType: intranet.",
    );
  });

  it("nothing for a whitelisted or an intranet CLB", () => {
    expect(openClbWarning(clbOf({ allowedCidrs: '["203.0.113.0/24"]' }), 31400)).toBeUndefined();
    expect(
      openClbWarning(clbOf({ clbAddressType: "intranet", clbVswitchId: "vsw-abc" }), 31400),
    ).toBeUndefined();
  });
});

describe("the program", () => {
  it.each([
    ["asm", { ...ASM_ACCESS }],
    ["istio", { mode: "istio" }],
    ["standalone", { mode: "standalone", gatewayImage: "example.com/gw:1" }],
  ])("%s mode warns once through pulumi.log.warn", async (_mode, config) => {
    await runWith(config);
    expect(lastWarnings()).toEqual([openClbWarning(clbOf({}), 31400)]);
  });

  it("and not when allowedCidrs restricts the CLB", async () => {
    await runWith({ ...ASM_ACCESS, allowedCidrs: '["198.51.100.0/24"]' });
    expect(lastWarnings()).toEqual([]);
  });
});
