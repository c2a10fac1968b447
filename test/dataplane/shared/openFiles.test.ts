import { describe, expect, it } from "vitest";
import {
  descriptorsNeeded,
  isOutOfDescriptors,
  openFilesLimit,
  parseOpenFilesLimit,
} from "../../../dataplane/shared/openFiles";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 1048576              files
Max locked memory         8388608              8388608              bytes
`;

describe("open files", () => {
  it("reads the soft limit from /proc/<pid>/limits", () => {
    expect(parseOpenFilesLimit(LIMITS)).toBe(1024);
    expect(parseOpenFilesLimit(LIMITS.replace("1024     ", "unlimited"))).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(parseOpenFilesLimit("nothing here")).toBeUndefined();
    // This process (Linux): a positive number.
    expect(openFilesLimit()).toBeGreaterThan(0);
  });

  it("needs two descriptors per connection plus a reserve", () => {
    expect(descriptorsNeeded([10_000])).toBe(20_065);
    expect(descriptorsNeeded([10, 20])).toBe(64 + 21 + 41);
  });

  it("knows EMFILE and ENFILE from other errors", () => {
    expect(isOutOfDescriptors(Object.assign(new Error("x"), { code: "EMFILE" }))).toBe(true);
    expect(isOutOfDescriptors(Object.assign(new Error("x"), { code: "ENFILE" }))).toBe(true);
    expect(isOutOfDescriptors(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(isOutOfDescriptors(undefined)).toBe(false);
  });
});
