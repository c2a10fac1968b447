import { describe, expect, it } from "vitest";
import {
  busyShare,
  descendants,
  listeningInodes,
  parseMachineCpu,
  parseProcStat,
  parseStatusRssKb,
} from "../../bench/procStats";

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

describe("machine CPU", () => {
  it("counts everything but idle and iowait as busy, from the aggregate cpu line", () => {
    const text = "cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\nintr 12345\n";
    expect(parseMachineCpu(text)).toEqual({ total: 990, busy: 170 });
    expect(busyShare({ total: 990, busy: 170 }, { total: 1190, busy: 320 })).toBe(0.75);
    expect(() => parseMachineCpu("intr 1\n")).toThrow(/no cpu line/);
  });
});

describe("listeningInodes", () => {
  it("takes the inodes of LISTEN (0A) sockets on the port from /proc/net/tcp", () => {
    const text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
      "   0: 0100007F:5DC1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0\n" +
      "   1: 0100007F:5DC1 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1\n" +
      "   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0\n";
    expect([...listeningInodes(text, 0x5dc1)]).toEqual(["111"]);
    expect([...listeningInodes(text, 8080)]).toEqual(["333"]);
    expect([...listeningInodes(text, 9)]).toEqual([]);
  });
});
