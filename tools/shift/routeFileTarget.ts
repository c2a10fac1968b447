/**
 * `--route-file PATH`: set the weights of two routes of a bare gateway's route file (v1 gets
 * 100 - W, v2 gets W), validate the result with the gateway's own schema, and replace the file
 * atomically (the gateway's watcher then reloads it). YAML keeps its comments; JSON is rewritten
 * with two-space indentation.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { isMap, isSeq, parseDocument } from "yaml";
import {
  type ListenerConfig,
  parseRouteFile,
  ROUTE_FILE_ERROR_CODE,
  type RouteFile,
} from "../../contract/routeFile";
import { UserError } from "../../contract/userError";
import type { Version } from "../../contract/versions";
import { USAGE_ERROR_CODE } from "../../dataplane/shared/commandFlags";
import { type WeightTarget, writeFileAtomically } from "./weightTarget";

/** Which routes of which listener are shifted. */
export interface RouteSelection {
  /** Listener name; default: the one listener that has both routes. */
  listener?: string;
  routes: Record<Version, string>;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new UserError(
      missing ? USAGE_ERROR_CODE : ROUTE_FILE_ERROR_CODE,
      missing
        ? `--route-file ${path}: no such file`
        : `Cannot read route file ${path}: ${(error as Error).message}`,
    );
  }
}

/** Indices of the listener and its two routes; throws `E_ROUTE_FILE` naming what is missing. */
function locate(
  routes: RouteFile,
  selection: RouteSelection,
  path: string,
): { listener: number; v1: number; v2: number; config: ListenerConfig } {
  const { v1, v2 } = selection.routes;
  const candidates = routes.listeners
    .map((config, index) => ({ config, index }))
    .filter(({ config }) =>
      selection.listener === undefined
        ? config.routes.some((r) => r.name === v1) && config.routes.some((r) => r.name === v2)
        : config.name === selection.listener,
    );
  const names = routes.listeners
    .map((l) => `${l.name} (${l.routes.map((r) => r.name).join(", ")})`)
    .join("; ");
  if (candidates.length !== 1)
    throw new UserError(
      ROUTE_FILE_ERROR_CODE,
      selection.listener !== undefined
        ? `${path} has no listener "${selection.listener}"; it has ${names}`
        : candidates.length === 0
          ? `${path} has no listener with routes "${v1}" and "${v2}"; it has ${names}: name them with --v1-route/--v2-route`
          : `${path} has several listeners with routes "${v1}" and "${v2}": pick one with --listener`,
    );
  const { config, index } = candidates[0] as { config: ListenerConfig; index: number };
  const v1Index = config.routes.findIndex((r) => r.name === v1);
  const v2Index = config.routes.findIndex((r) => r.name === v2);
  if (v1Index === -1 || v2Index === -1)
    throw new UserError(
      ROUTE_FILE_ERROR_CODE,
      `${path}: listener "${config.name}" has no route "${v1Index === -1 ? v1 : v2}"; its routes are ${config.routes.map((r) => r.name).join(", ")}`,
    );
  const others = config.routes.filter((r) => r.name !== v1 && r.name !== v2 && r.weight > 0);
  if (others.length > 0)
    throw new UserError(
      ROUTE_FILE_ERROR_CODE,
      `${path}: listener "${config.name}" also routes to ${others.map((r) => `${r.name} (weight ${r.weight})`).join(", ")}; weights are relative, so v2 would not get the step's share: set their weight to 0`,
    );
  return { listener: index, v1: v1Index, v2: v2Index, config };
}

/** v2's weight as a percentage of the two routes' weights (the gateway's weights are relative). */
function currentWeightOf(config: ListenerConfig, at: { v1: number; v2: number }): number {
  const w1 = config.routes[at.v1]?.weight ?? 0;
  const w2 = config.routes[at.v2]?.weight ?? 0;
  return Math.round((100 * w2) / (w1 + w2));
}

/**
 * The route file's text with the two routes at `100 - weight` and `weight`, checked against the
 * gateway's schema. YAML edits the document in place (comments kept).
 */
export function setRouteFileWeight(
  text: string,
  selection: RouteSelection,
  weight: number,
  path = "route file",
): string {
  const at = locate(parseRouteFile(text, path), selection, path);
  let next: string;
  if (text.trimStart().startsWith("{")) {
    const document = JSON.parse(text) as {
      listeners: { routes: { weight: number }[] }[];
    };
    const routes = document.listeners[at.listener]?.routes;
    (routes?.[at.v1] as { weight: number }).weight = 100 - weight;
    (routes?.[at.v2] as { weight: number }).weight = weight;
    next = `${JSON.stringify(document, null, 2)}\n`;
  } else {
    const document = parseDocument(text);
    const listeners = document.get("listeners", true);
    if (!isSeq(listeners) || !isMap(listeners.items[at.listener]))
      throw new UserError(ROUTE_FILE_ERROR_CODE, `${path}: listeners must be a list`);
    document.setIn(["listeners", at.listener, "routes", at.v1, "weight"], 100 - weight);
    document.setIn(["listeners", at.listener, "routes", at.v2, "weight"], weight);
    next = document.toString({ lineWidth: 0, flowCollectionPadding: false });
  }
  parseRouteFile(next, path);
  return next;
}

/** A route file as a `WeightTarget`; reads and checks the file at once. */
export function routeFileTarget(path: string, selection: RouteSelection): WeightTarget {
  const first = locate(parseRouteFile(readText(path), path), selection, path);
  const { v1, v2 } = selection.routes;
  const read = () => {
    const routes = parseRouteFile(readText(path), path);
    const at = locate(routes, selection, path);
    return currentWeightOf(at.config, at);
  };
  return {
    description: `route file ${basename(path)} (listener ${first.config.name}, routes ${v1} and ${v2})`,
    describeChange: (weight) =>
      `write ${basename(path)} with ${v1}=${100 - weight} ${v2}=${weight} (atomic rename)`,
    listener: first.config.name,
    async currentWeight() {
      return read();
    },
    async setWeight(weight) {
      writeFileAtomically(path, setRouteFileWeight(readText(path), selection, weight, path));
    },
  };
}
