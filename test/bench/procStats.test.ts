import { describe, expect, it } from "vitest";
import { descendants, parseProcStat, parseStatusRssKb } from "../../bench/procStats";

// A real /proc/PID/stat line (52 fields), with a comm that contains ") " to prove the parser
// splits after the LAST parenthesis.
const STAT =
  "4242 (node (worker) x) S 4200 4242 4200 0 -1 4194560 28573 0 0 0 1234 567 0 0 20 0 11 0 " +
  "12345 1152921504 24576 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 1 0 0 " +
  "0 0 0 0 0 0 0 0 0 0 0";

describe("parseProcStat", () => {
  it("reads pid, comm, state, ppid, utime, stime and rss by proc(5) field number", () => {
    expect(parseProcStat(STAT)).toEqual({
      pid: 4242,
      comm: "node (worker) x",
      state: "S",
      ppid: 4200,
      utime: 1234,
      stime: 567,
      rssPages: 24576,
    });
  });

  it("rejects text that is not a stat line", () => {
    expect(() => parseProcStat("garbage")).toThrow(/not a \/proc\/PID\/stat line/);
  });
});

describe("parseStatusRssKb", () => {
  it("takes VmRSS in kB from /proc/PID/status", () => {
    expect(
      parseStatusRssKb("Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t   98304 kB\nThreads:\t11\n"),
    ).toBe(98304);
    expect(parseStatusRssKb("Name:\tkworker\n")).toBe(0);
  });
});

describe("descendants", () => {
  it("walks the whole tree under the root and nothing else", () => {
    const parentOf = new Map([
      [10, 1],
      [11, 10],
      [12, 10],
      [13, 12],
      [20, 1],
    ]);
    expect(descendants(10, parentOf).sort()).toEqual([10, 11, 12, 13]);
    expect(descendants(99, parentOf)).toEqual([99]);
  });
});
