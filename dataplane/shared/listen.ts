/**
 * Bind and close a `net.Server` (or `http.Server`) the same way everywhere in the data plane:
 * the echo server, the gateway's listeners and the admin port.
 */
import type { AddressInfo, Server } from "node:net";
import { joinHostPort } from "../../contract/hostPort";
import { UserError } from "../../contract/userError";

/** Error code of an address that cannot be bound. */
export const LISTEN_ERROR_CODE = "E_LISTEN";

/** What the common bind errors mean, said for a user. */
const REASONS: Record<string, string> = {
  EADDRINUSE: "the address is already in use (another program, or another listener here)",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "no interface of this machine has that address",
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "the host name does not resolve (temporary DNS failure)",
};

/**
 * Bind `server` to `host:port` and resolve with the bound address.
 * @param what names the listener in the error, e.g. `Listener "app"` or `Admin server`.
 * @throws UserError `E_LISTEN` naming `what`, the address and the reason (EADDRINUSE, EACCES...);
 *   the server is then not listening.
 */
export async function listenOn(
  server: Server,
  host: string | undefined,
  port: number,
  what: string,
): Promise<AddressInfo> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const reason = REASONS[code];
    const address = joinHostPort(host ?? "*", port);
    throw new UserError(
      LISTEN_ERROR_CODE,
      `${what} cannot listen on ${address}: ${reason ? `${reason} (${code})` : (error as Error).message}`,
    );
  }
  return server.address() as AddressInfo;
}

/**
 * Stop accepting: the listening socket is closed at once (the address is free when this returns).
 * Connections already accepted are the caller's to drain.
 */
export function stopAccepting(server: Server): void {
  if (server.listening) server.close();
}
