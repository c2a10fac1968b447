import { describe, expect, it } from "vitest";
import { LogLimiter } from "../../../dataplane/shared/logLimiter";
import { captureLogger } from "../netHelpers";

describe("rate-limited log lines", () => {
  it("writes the first line of a kind, counts the rest, and sums them up at the end of the interval", async () => {
    const { logger, lines } = captureLogger();
    const limiter = new LogLimiter(logger, 200);
    for (let i = 0; i < 1234; i++) limiter.log("warn", "dead", "backend down", { attempt: i });
    limiter.log("error", "other", "something else");
    expect(lines).toEqual([
      { level: "warn", msg: "backend down", attempt: 0 },
      { level: "error", msg: "something else" },
    ]);
    await expect.poll(() => lines.length, { timeout: 2_000 }).toBe(3);
    expect(lines[2]).toEqual({
      level: "warn",
      msg: "backend down (and 1233 more in the last 0.2 s)",
      attempt: 1233,
      repeated: 1233,
    });
    // A kind that went quiet logs its next line at once again.
    await new Promise((resolve) => setTimeout(resolve, 450));
    limiter.log("warn", "dead", "backend down", { attempt: 9999 });
    expect(lines.at(-1)).toEqual({ level: "warn", msg: "backend down", attempt: 9999 });
    limiter.flush();
  });
});
