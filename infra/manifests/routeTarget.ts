/**
 * Where the mesh's route (a VirtualService or a TCPRoute) sends the ingress port: the app's two
 * versions by weight (the mesh splits), or one fixed Service, the bundled gateway's (the gateway
 * splits, and the route never changes on a shift).
 */
import type { Version } from "../constants";
import { weightedVersions } from "./weights";

/** The mesh route's destination. */
export type RouteTarget =
  /** The app's versions, weighted by `weightV2`: the mesh's Envoy picks one per connection. */
  | { kind: "versions"; weightV2: number }
  /** One Service in the app's namespace, whatever the weights (`splitter: gateway`). */
  | { kind: "service"; name: string; port: number };

/**
 * The route's destinations, as the VirtualService and the TCPRoute both write them: the one
 * Service without a weight, or the versions that receive traffic, weighted only when there are two
 * (a lone destination takes everything; the tutorial's first route omits its weight).
 */
export function routeDestinations<D extends object>(
  target: RouteTarget,
  service: (name: string, port: number) => D,
  version: (version: Version) => D,
): Array<D & { weight?: number }> {
  if (target.kind === "service") return [service(target.name, target.port)];
  const destinations = weightedVersions(target.weightV2);
  return destinations.map((destination) => ({
    ...version(destination.version),
    ...(destinations.length > 1 ? { weight: destination.weight } : {}),
  }));
}

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
