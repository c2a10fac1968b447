import { describe, expect, it } from "vitest";
import {
  ProxyHeaderBuffer,
  parseProxyHeader,
  proxyV2Header,
} from "../../../dataplane/gateway/proxyProtocol";

const v1 = (line: string) => Buffer.from(line, "latin1");

describe("PROXY protocol v1", () => {
  it("reads TCP4 and TCP6 source addresses and the header's length", () => {
    const header = "PROXY TCP4 203.0.113.7 10.0.0.1 51234 31400\r\n";
    expect(parseProxyHeader(v1(`${header}hello\n`))).toEqual({
      kind: "header",
      version: 1,
      length: header.length,
      source: { address: "203.0.113.7", port: 51234 },
    });
    expect(parseProxyHeader(v1("PROXY TCP6 2001:db8::7 2001:db8::1 443 31400\r\n"))).toMatchObject({
      source: { address: "2001:db8::7", port: 443 },
    });
  });

  it("UNKNOWN: a header without an address (the connection's own peer is used)", () => {
    expect(parseProxyHeader(v1("PROXY UNKNOWN\r\n"))).toEqual({
      kind: "header",
      version: 1,
      length: 15,
      source: undefined,
    });
  });

  it("is incomplete until the CRLF, invalid as soon as a byte rules it out", () => {
    expect(parseProxyHeader(v1("PRO"))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(v1("PROXY TCP4 1.2.3.4 5.6"))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(v1("GET / HTTP/1.1\r\n"))).toMatchObject({
      kind: "invalid",
      reason: "no PROXY protocol header",
    });
    expect(parseProxyHeader(v1("PROXZ"))).toMatchObject({ kind: "invalid" });
    expect(parseProxyHeader(v1("PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"))).toMatchObject({
      kind: "invalid",
    });
    expect(parseProxyHeader(v1("PROXY TCP4 ::1 ::1 80 80\r\n"))).toMatchObject({
      kind: "invalid",
      reason: "v1 header has an address that is not TCP4",
    });
    expect(parseProxyHeader(v1("PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n"))).toMatchObject({
      kind: "invalid",
    });
    expect(parseProxyHeader(v1(`PROXY TCP4 ${"1".repeat(120)}`))).toMatchObject({
      kind: "invalid",
      reason: "v1 header without CRLF in 107 bytes",
    });
  });
});

describe("PROXY protocol v2", () => {
  it("reads IPv4 and IPv6 sources, skips TLVs, and LOCAL has no source", () => {
    const ipv4 = proxyV2Header(
      { address: "198.51.100.9", port: 40000 },
      { address: "10.0.0.1", port: 31400 },
    );
    expect(parseProxyHeader(Buffer.concat([ipv4, Buffer.from("data")]))).toEqual({
      kind: "header",
      version: 2,
      length: 28,
      source: { address: "198.51.100.9", port: 40000 },
    });
    const ipv6 = proxyV2Header({ address: "2001:db8::42", port: 1 }, { address: "::1", port: 2 });
    expect(parseProxyHeader(ipv6)).toEqual({
      kind: "header",
      version: 2,
      length: 52,
      source: { address: "2001:db8::42", port: 1 },
    });
    const local = proxyV2Header(undefined, undefined);
    expect(parseProxyHeader(local)).toEqual({
      kind: "header",
      version: 2,
      length: 16,
      source: undefined,
    });
    // A TLV after the addresses (e.g. a CLB's connection id) is part of the header, skipped.
    const withTlv = Buffer.concat([ipv4, Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb])]);
    withTlv.writeUInt16BE(12 + 5, 14);
    expect(parseProxyHeader(withTlv)).toMatchObject({ length: 33, source: { port: 40000 } });
  });

  it("is incomplete until its declared length, invalid for a bad version or a length over 4 KiB", () => {
    const header = proxyV2Header(
      { address: "198.51.100.9", port: 1 },
      { address: "10.0.0.1", port: 2 },
    );
    for (let cut = 1; cut < header.length; cut++)
      expect(parseProxyHeader(header.subarray(0, cut))).toEqual({ kind: "incomplete" });
    const badVersion = Buffer.from(header);
    badVersion[12] = 0x31;
    expect(parseProxyHeader(badVersion)).toMatchObject({ kind: "invalid" });
    const huge = Buffer.from(header);
    huge.writeUInt16BE(8000, 14);
    expect(parseProxyHeader(huge)).toMatchObject({
      kind: "invalid",
      reason: "v2 header of 8016 bytes (at most 4096)",
    });
  });

  it("collects a header split across reads and returns the bytes after it", () => {
    const header = proxyV2Header(
      { address: "198.51.100.9", port: 1 },
      { address: "10.0.0.1", port: 2 },
    );
    const all = Buffer.concat([header, Buffer.from("hello\n")]);
    const buffer = new ProxyHeaderBuffer();
    for (let i = 0; i < all.length - 1; i++) {
      const parse = buffer.push(all.subarray(i, i + 1));
      if (i < header.length - 1) expect(parse.kind).toBe("incomplete");
      else {
        expect(parse.kind).toBe("header");
        break;
      }
    }
    const full = new ProxyHeaderBuffer();
    const parse = full.push(all);
    expect(parse.kind).toBe("header");
    expect(full.rest(header.length)?.toString()).toBe("hello\n");
  });
});
