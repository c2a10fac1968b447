/**
 * Copies exactly the npm packages the compiled gateway needs into a directory: the image's
 * runtime stage. `npm ci --omit=dev` is not enough because the project's production dependencies
 * also hold the Pulumi SDK and providers (hundreds of MB the data plane never loads).
 *
 * The roots are the bare `require("...")` specifiers found in the compiled JavaScript, so a new
 * import cannot be forgotten; each package's `dependencies` (and installed optional/peer
 * dependencies) are followed from there.
 *
 *   node dist/gateway/runtimeDependencies.js <dist dir> <out node_modules dir> [node_modules dir]
 */
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";

const REQUIRE = /\brequire\(\s*["']([^"'./][^"']*)["']\s*\)/g;
const BUILTINS = new Set(builtinModules);

/** The package name of a bare specifier: `zod/v4` -> `zod`, `@scope/pkg/x` -> `@scope/pkg`. */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

/** Bare package names required by the `.js` files under `directory` (builtins excluded). */
export function requiredPackages(directory: string): string[] {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".js"))
        for (const match of readFileSync(path, "utf8").matchAll(REQUIRE)) {
          const specifier = match[1] as string;
          if (specifier.startsWith("node:") || BUILTINS.has(packageName(specifier))) continue;
          found.add(packageName(specifier));
        }
    }
  };
  walk(directory);
  return [...found].sort();
}

/**
 * The top-level directories of `nodeModules` needed by `roots`, transitively. A dependency nested
 * under its parent's own node_modules travels with the parent's directory.
 * @throws Error naming a package that is required but not installed.
 */
export function dependencyClosure(roots: string[], nodeModules: string): string[] {
  const needed = new Set<string>();
  const visit = (name: string, parentDir: string | undefined): void => {
    if (parentDir && existsSync(join(parentDir, "node_modules", name, "package.json"))) {
      visitManifest(join(parentDir, "node_modules", name));
      return;
    }
    if (needed.has(name)) return;
    const dir = join(nodeModules, name);
    if (!existsSync(join(dir, "package.json")))
      throw new Error(`package "${name}" is required but not installed in ${nodeModules}`);
    needed.add(name);
    visitManifest(dir);
  };
  const visitManifest = (dir: string): void => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    for (const name of Object.keys(manifest.dependencies ?? {})) visit(name, dir);
    // Optional and peer dependencies count only when installed (npm skips some optional ones).
    for (const name of Object.keys({
      ...manifest.optionalDependencies,
      ...manifest.peerDependencies,
    }))
      if (
        existsSync(join(dir, "node_modules", name)) ||
        existsSync(join(nodeModules, name, "package.json"))
      )
        visit(name, dir);
  };
  for (const root of roots) visit(root, undefined);
  return [...needed].sort();
}

function main(argv: string[]): void {
  const [dist, out, nodeModules = "node_modules"] = argv;
  if (!dist || !out) {
    process.stderr.write(
      "usage: runtimeDependencies <dist dir> <out node_modules dir> [node_modules dir]\n",
    );
    process.exit(2);
  }
  const roots = requiredPackages(dist);
  const packages = dependencyClosure(roots, nodeModules);
  for (const name of packages)
    cpSync(join(nodeModules, name), join(out, name), { recursive: true, dereference: true });
  process.stdout.write(`${JSON.stringify({ roots, packages })}\n`);
}

if (require.main === module) main(process.argv.slice(2));
