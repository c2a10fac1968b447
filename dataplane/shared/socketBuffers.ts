/**
 * How much a TCP socket's kernel buffers can hold: a bound on what a peer may already have sent
 * that this process has not read yet.
 */
import { readFileSync } from "node:fs";

/** Linux's default largest receive buffer (`net.ipv4.tcp_rmem` max): 6 MiB. */
export const DEFAULT_TCP_RECEIVE_BUFFER_MAX_BYTES = 6 * 1024 * 1024;

/**
 * The largest receive buffer from the text of `/proc/sys/net/ipv4/tcp_rmem` (`min default max`
 * in bytes); undefined when it does not have that form.
 */
export function parseTcpReceiveBufferMax(tcpRmem: string): number | undefined {
  const fields = tcpRmem.trim().split(/\s+/);
  if (fields.length !== 3) return undefined;
  const max = Number(fields[2]);
  return Number.isSafeInteger(max) && max > 0 ? max : undefined;
}

/**
 * The most bytes the kernel queues on one TCP socket for this process to read: the
 * autotuning limit `net.ipv4.tcp_rmem` max (a socket that sets no SO_RCVBUF stays within it),
 * or Linux's default 6 MiB where it cannot be read.
 */
export function tcpReceiveBufferMaxBytes(): number {
  try {
    return (
      parseTcpReceiveBufferMax(readFileSync("/proc/sys/net/ipv4/tcp_rmem", "utf8")) ??
      DEFAULT_TCP_RECEIVE_BUFFER_MAX_BYTES
    );
  } catch {
    return DEFAULT_TCP_RECEIVE_BUFFER_MAX_BYTES;
  }
}
