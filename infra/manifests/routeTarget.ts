/**
 * Where the mesh's route (a VirtualService or a TCPRoute) sends the ingress port: the app's two
 * versions by weight (the mesh splits), or one fixed Service, the bundled gateway's (the gateway
 * splits, and the route never changes on a shift).
 */

/** The mesh route's destination. */
export type RouteTarget =
  /** The app's versions, weighted by `weightV2`: the mesh's Envoy picks one per connection. */
  | { kind: "versions"; weightV2: number }
  /** One Service in the app's namespace, whatever the weights (`splitter: gateway`). */
  | { kind: "service"; name: string; port: number };

/**
 * A custom resource's type token contains its apiVersion, so switching the version of one would
 * replace the object; aliases to the other versions make the switch an in-place update instead.
 */
export function apiVersionAliases(
  current: string,
  versions: readonly string[],
  kind: string,
): Array<{ type: string }> {
  return versions
    .filter((version) => version !== current)
    .map((version) => ({ type: `kubernetes:${version}:${kind}` }));
}
