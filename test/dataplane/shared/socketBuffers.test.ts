import { describe, expect, it } from "vitest";
import {
  DEFAULT_TCP_RECEIVE_BUFFER_MAX_BYTES,
  parseTcpReceiveBufferMax,
  tcpReceiveBufferMaxBytes,
} from "../../../dataplane/shared/socketBuffers";

describe("TCP receive buffer limit", () => {
  it("reads the max of net.ipv4.tcp_rmem (min default max)", () => {
    expect(parseTcpReceiveBufferMax("4096\t131072\t6291456\n")).toBe(6291456);
    expect(parseTcpReceiveBufferMax("4096 87380 33554432")).toBe(33554432);
  });

  it("gives undefined for text of another form", () => {
    for (const text of ["", "4096 131072", "4096 131072 x", "4096 131072 0", "1 2 3 4"])
      expect(parseTcpReceiveBufferMax(text)).toBeUndefined();
  });

  it("is this machine's limit, or Linux's default where it cannot be read", () => {
    const bytes = tcpReceiveBufferMaxBytes();
    expect(Number.isSafeInteger(bytes) && bytes > 0).toBe(true);
    expect(DEFAULT_TCP_RECEIVE_BUFFER_MAX_BYTES).toBe(6 * 1024 * 1024);
  });
});
