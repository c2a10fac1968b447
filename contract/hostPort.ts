/** `host:port` strings as written in route files and CLI flags. */
import type { AddressInfo } from "node:net";
import { UserError } from "./userError";

/** A parsed `host:port`; `host` has no IPv6 brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/**
 * Parse `host:port` or `[ipv6]:port`.
 * @param what names the flag or key in the error message.
 * @throws UserError `E_ADDRESS` when the text is not a host:port with a port 0..65535.
 */
export function parseHostPort(text: string, what: string): HostPort {
  const match = HOST_PORT.exec(text);
  const port = match ? Number(match[3]) : Number.NaN;
  const host = match ? (match[1] ?? match[2]) : undefined;
  if (host === undefined || !(port >= 0 && port <= 65535))
    throw new UserError(
      "E_ADDRESS",
      `${what} must be host:port or [ipv6]:port with a port from 0 to 65535, got "${text}"`,
    );
  return { host, port };
}

/** `127.0.0.1:9000` / `[::1]:9000`: the inverse of `parseHostPort`. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A bound socket's address as `host:port`, for logs and error messages. */
export function formatAddress(address: Pick<AddressInfo, "address" | "port">): string {
  return joinHostPort(address.address, address.port);
}
