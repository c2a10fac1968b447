/**
 * Builds the real tools of the real-engine test tier from Go modules, into a
 * cache outside the work tree, and tells where they are.
 *
 * Tools (each is one cache entry; a tool may hold several binaries):
 * - `pulumi`: the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3, same version as
 *   @pulumi/pulumi in node_modules) plus our own Node.js language host
 *   (testbed/go/pulumi-language-nodejs: upstream's module is refused by the
 *   proxy) and a dynamic-provider shim, all in one directory because the CLI
 *   looks for its language host next to its own (resolved) executable.
 * - `pulumi-resource-kubernetes`: the Kubernetes provider built from the newest
 *   source the proxy serves, stamped as the version @pulumi/kubernetes asks for,
 *   and installed into a Pulumi home of ours (see {@link pulumiHome}).
 * - `kubernetes`: kube-apiserver, kube-controller-manager, kubectl.
 * - `etcd`: etcd 3.6 (current apiservers do not support Debian's etcd 3.4).
 *
 * Each tool has a small wrapper Go module under testbed/go/<name> (go.mod and
 * go.sum are committed; builds use -mod=readonly so they never change). The
 * cache directory of a tool is `<name>-<version>-<hash>` where the hash covers
 * the wrapper files and the build recipe (stamps, tags), so editing either
 * rebuilds. A build happens in a scratch directory next to the cache entry and
 * is renamed into place only when complete: an interrupted or failed build
 * never looks installed.
 *
 * Usage: `npx tsx testbed/toolchain.ts build [--only name,...] [--json]`
 *        `npx tsx testbed/toolchain.ts where [--only name,...]` (always JSON)
 *
 * Cache: `$TCP_SHIFT_TOOLS_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/tcp-shift/tools`.
 * Go's module and build caches stay where `go env` puts them; point GOMODCACHE,
 * GOCACHE and TCP_SHIFT_TOOLS_DIR at empty directories to measure a cold build.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, hostname } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";

/** The repository root (this file lives in `<root>/testbed`). */
const REPO_ROOT = resolve(__dirname, "..");
/** Our wrapper Go modules. */
const GO_DIR = join(__dirname, "go");

/** Names of the cache entries {@link ensureTools} can build. */
export const TOOL_NAMES = ["pulumi", "pulumi-resource-kubernetes", "kubernetes", "etcd"] as const;
/** A cache entry (one build). */
export type ToolName = (typeof TOOL_NAMES)[number];

/** Every executable the tools provide. */
export const BINARY_NAMES = [
  "pulumi",
  "pulumi-language-nodejs",
  "pulumi-resource-pulumi-nodejs",
  "pulumi-resource-kubernetes",
  "kube-apiserver",
  "kube-controller-manager",
  "kubectl",
  "etcd",
] as const;
/** An executable provided by one of the tools. */
export type BinaryName = (typeof BINARY_NAMES)[number];

/** Absolute paths of built executables, by name. */
export type ToolPaths = Partial<Record<BinaryName, string>>;

/** How progress is reported on stderr: one line per step. */
export type ProgressFormat = "text" | "json" | "none";

/** Options of {@link ensureTools}. */
export interface EnsureOptions {
  /** Tools (or binary names, mapped to their tool) to ensure; default all. */
  only?: readonly string[];
  /** Progress lines on stderr; default "text". */
  progress?: ProgressFormat;
  /** Pulumi home to install the Kubernetes provider into; default {@link pulumiHome}(). */
  pulumiHome?: string;
}

/** What a finished build records next to its binaries (manifest.json). */
export interface ToolManifest {
  tool: ToolName;
  /** Version in the directory name (the stamped version). */
  version: string;
  /** Cache key: `<tool>-<version>-<hash>`. */
  key: string;
  /** Go modules the binaries are built from, as module@version. */
  sources: string[];
  /** `-X` stamps passed to the linker. */
  stamps: Record<string, string>;
  tags: string[];
  /** `go env GOVERSION` of the build. */
  goVersion: string;
  /** Seconds for the module download step and for the whole build. */
  downloadSeconds: number;
  buildSeconds: number;
  /** ISO date of the build. */
  builtAt: string;
  /** Per binary: size in bytes and sha256. */
  binaries: Record<string, { bytes: number; sha256: string }>;
  /** Anything a reader of the manifest should know (e.g. source vs stamp). */
  notes: string[];
}

/** A build failure, naming the tool, what it was built from and go's last output lines. */
export class ToolBuildError extends Error {
  constructor(
    readonly tool: string,
    readonly source: string,
    message: string,
    readonly outputTail: string,
  ) {
    super(
      `${tool} (from ${source}): ${message}` +
        (outputTail ? `\n--- last lines of go's output ---\n${outputTail}` : ""),
    );
    this.name = "ToolBuildError";
  }
}

/** The tools cache directory: `$TCP_SHIFT_TOOLS_DIR` or `${XDG_CACHE_HOME:-~/.cache}/tcp-shift/tools`. */
export function toolsDir(): string {
  const explicit = process.env.TCP_SHIFT_TOOLS_DIR;
  if (explicit) return resolve(explicit);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "tcp-shift", "tools");
}

/**
 * The Pulumi home (PULUMI_HOME) into which {@link ensureTools} installs the
 * Kubernetes provider, inside the tools cache. Tests that want their own home
 * call {@link installKubernetesPlugin} with it.
 */
export function pulumiHome(): string {
  return join(toolsDir(), "pulumi-home");
}

// ---------------------------------------------------------------------------
// Tool recipes

/** What a tool will be built from and how; everything here is part of the cache key. */
interface Plan {
  version: string;
  /** Module@version of each source module (the first is the main one). */
  sources: string[];
  stamps: Record<string, string>;
  tags: string[];
  notes: string[];
}

/** Context given to a recipe's build step. */
interface BuildContext {
  /** Scratch directory that becomes the cache entry. */
  outDir: string;
  /** Scratch directory for anything else (deleted afterwards). */
  workDir: string;
  plan: Plan;
  reporter: Reporter;
  tool: ToolName;
  logFile: string;
}

interface Recipe {
  /** Wrapper module directories (under testbed/go) whose files are keyed and downloaded. */
  wrappers: readonly string[];
  binaries: readonly BinaryName[];
  /** Tools that must exist before this one is built or installed. */
  needs: readonly ToolName[];
  plan(): Plan;
  build(ctx: BuildContext): Promise<void>;
}

/** The version of an npm package in the repository's node_modules. */
function npmPackage(name: string): { version: string; pulumi?: { version?: string } } {
  const file = join(REPO_ROOT, "node_modules", name, "package.json");
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run npm ci in ${REPO_ROOT} first`);
  }
  return JSON.parse(readFileSync(file, "utf8")) as {
    version: string;
    pulumi?: { version?: string };
  };
}

/** The version a wrapper go.mod requires a module at (read as text: no go needed for `where`). */
function goModRequire(wrapper: string, module: string): string {
  const text = readFileSync(join(GO_DIR, wrapper, "go.mod"), "utf8");
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(text);
  if (!match?.[1]) throw new Error(`testbed/go/${wrapper}/go.mod does not require ${module}`);
  return match[1];
}

const PULUMI_PKG = "github.com/pulumi/pulumi/pkg/v3";
const PULUMI_SDK = "github.com/pulumi/pulumi/sdk/v3";
const K8S_PROVIDER = "github.com/pulumi/pulumi-kubernetes/provider/v4";
const K8S_PROVIDER_SDK = "github.com/pulumi/pulumi-kubernetes/sdk/v4";
const KUBERNETES = "k8s.io/kubernetes";
const ETCD_SERVER = "go.etcd.io/etcd/server/v3";

/** The Pulumi CLI, its language host and the dynamic provider shim. */
const pulumiRecipe: Recipe = {
  wrappers: ["pulumi", "pulumi-language-nodejs"],
  binaries: ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"],
  needs: [],
  plan() {
    const version = `v${npmPackage("@pulumi/pulumi").version}`;
    for (const [wrapper, module] of [
      ["pulumi", PULUMI_PKG],
      ["pulumi", PULUMI_SDK],
      ["pulumi-language-nodejs", PULUMI_SDK],
    ] as const) {
      const required = goModRequire(wrapper, module);
      if (required !== version) {
        throw new Error(
          `testbed/go/${wrapper}/go.mod requires ${module} ${required} but node_modules has ` +
            `@pulumi/pulumi ${version}: in testbed/go/${wrapper} run ` +
            `\`GOFLAGS=-mod=mod go get ${module}@${version} && go mod tidy\` (keep them equal)`,
        );
      }
    }
    return {
      version,
      sources: [`${PULUMI_PKG}@${version}`, `${PULUMI_SDK}@${version}`],
      stamps: { "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version": version },
      // As upstream's release builds (pure Go user lookup, no x/net/trace in gRPC).
      tags: ["osusergo", "grpcnotrace"],
      notes: [
        "pulumi-language-nodejs is our own (testbed/go/pulumi-language-nodejs): upstream's module " +
          "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 is refused by the proxy",
      ],
    };
  },
  async build(ctx) {
    await goBuild(ctx, "pulumi", `${PULUMI_PKG}/cmd/pulumi`, join(ctx.outDir, "pulumi"));
    await goBuild(ctx, "pulumi-language-nodejs", ".", join(ctx.outDir, "pulumi-language-nodejs"));
    // The CLI runs this bundled plugin for pulumi.dynamic resources; upstream
    // ships an equivalent script next to `pulumi`. It resolves the dynamic
    // provider from the program directory (the CLI starts plugins there).
    const shim = join(ctx.outDir, "pulumi-resource-pulumi-nodejs");
    writeFileSync(
      shim,
      [
        "#!/bin/sh",
        "# Pulumi dynamic-provider plugin: run @pulumi/pulumi's dynamic provider under node.",
        `script=$(node -p "require.resolve('@pulumi/pulumi/cmd/dynamic-provider')") || exit 1`,
        'exec node "$script" "$@"',
        "",
      ].join("\n"),
    );
    chmodSync(shim, 0o755);
  },
};

/** Upstream tags of the untagged provider module's pseudo-versions, for the manifest. */
const PROVIDER_TAGS: Record<string, string> = {
  "v4.0.0-20260115033456-f47bc2d6f199": "v4.25.0",
};

/** The Kubernetes provider, stamped as the version the npm SDK asks for. */
const kubernetesProviderRecipe: Recipe = {
  wrappers: ["pulumi-resource-kubernetes"],
  binaries: ["pulumi-resource-kubernetes"],
  needs: ["pulumi"],
  plan() {
    const sdk = npmPackage("@pulumi/kubernetes");
    const version = sdk.pulumi?.version ?? sdk.version;
    const source = goModRequire("pulumi-resource-kubernetes", K8S_PROVIDER);
    const sdkModule = goModRequire("pulumi-resource-kubernetes", K8S_PROVIDER_SDK);
    return {
      version,
      sources: [`${K8S_PROVIDER}@${source}`, `${K8S_PROVIDER_SDK}@${sdkModule}`],
      stamps: { "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version": version },
      tags: [],
      notes: [
        `built from ${K8S_PROVIDER}@${source}` +
          (PROVIDER_TAGS[source] ? ` (= tag ${PROVIDER_TAGS[source]})` : "") +
          ` and stamped ${version}, the version @pulumi/kubernetes ${sdk.version} asks for ` +
          "(newer provider sources are refused by the proxy); features added after the source " +
          "version are missing",
      ],
    };
  },
  async build(ctx) {
    // Upstream's main embeds files generated from schema.json and
    // terraform-mapping.json; generate them in a scratch copy of our module.
    const src = join(ctx.workDir, "src");
    mkdirSync(src, { recursive: true });
    for (const file of ["go.mod", "go.sum", "main.go"]) {
      copyFileSync(join(GO_DIR, "pulumi-resource-kubernetes", file), join(src, file));
    }
    const step = ctx.reporter.start(ctx.tool, "generate", { files: "schema-embed.json" });
    const moduleDir = (await goJson(ctx, src, ["list", "-m", "-json", K8S_PROVIDER])).Dir;
    if (typeof moduleDir !== "string") {
      throw new ToolBuildError(ctx.tool, ctx.plan.sources[0] ?? "", "no module directory", "");
    }
    const cmdDir = join(moduleDir, "cmd", "pulumi-resource-kubernetes");
    // As upstream's generate.go: the schema with "version" set, compacted;
    // the terraform mapping compacted.
    const schema = JSON.parse(readFileSync(join(cmdDir, "schema.json"), "utf8")) as Record<
      string,
      unknown
    >;
    schema.version = ctx.plan.version;
    writeFileSync(join(src, "schema-embed.json"), JSON.stringify(schema));
    const mapping: unknown = JSON.parse(
      readFileSync(join(cmdDir, "terraform-mapping.json"), "utf8"),
    );
    writeFileSync(join(src, "terraform-mapping-embed.json"), JSON.stringify(mapping));
    step.done();
    await goBuildIn(
      ctx,
      src,
      "pulumi-resource-kubernetes",
      ".",
      join(ctx.outDir, "pulumi-resource-kubernetes"),
    );
  },
};

/** kube-apiserver, kube-controller-manager and kubectl. */
const kubernetesRecipe: Recipe = {
  wrappers: ["kubernetes"],
  binaries: ["kube-apiserver", "kube-controller-manager", "kubectl"],
  needs: [],
  plan() {
    const version = goModRequire("kubernetes", KUBERNETES);
    const [major, minor] = version.replace(/^v/, "").split(".");
    const stamps: Record<string, string> = {};
    // As hack/lib/version.sh: the same values into both version packages.
    // gitCommit is left unset: the module zip does not say which commit it is.
    for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
      stamps[`${pkg}.gitVersion`] = version;
      stamps[`${pkg}.gitMajor`] = major ?? "";
      stamps[`${pkg}.gitMinor`] = minor ?? "";
      stamps[`${pkg}.gitTreeState`] = "clean";
    }
    const staging = goModRequire("kubernetes", "k8s.io/api");
    return {
      version,
      sources: [`${KUBERNETES}@${version}`, `k8s.io/* staging modules@${staging}`],
      stamps,
      // As hack/lib/golang.sh for release builds.
      tags: ["selinux", "notest", "grpcnotrace"],
      notes: [
        "buildDate is the release time of the k8s.io/kubernetes module (reproducible builds); " +
          "gitCommit is not stamped (a module zip does not name its commit)",
      ],
    };
  },
  async build(ctx) {
    // The proxy's timestamp of the release, like SOURCE_DATE_EPOCH upstream:
    // the same sources give the same bytes.
    const info = await goJson(ctx, join(GO_DIR, "kubernetes"), ["list", "-m", "-json", KUBERNETES]);
    const buildDate = typeof info.Time === "string" ? info.Time : "1970-01-01T00:00:00Z";
    for (const cmd of kubernetesRecipe.binaries) {
      await goBuild(ctx, "kubernetes", `${KUBERNETES}/cmd/${cmd}`, join(ctx.outDir, cmd), {
        "k8s.io/component-base/version.buildDate": buildDate,
        "k8s.io/client-go/pkg/version.buildDate": buildDate,
      });
    }
  },
};

/** etcd 3.6 through etcdmain.Main, so its flags are the real ones. */
const etcdRecipe: Recipe = {
  wrappers: ["etcd"],
  binaries: ["etcd"],
  needs: [],
  plan() {
    const version = goModRequire("etcd", ETCD_SERVER);
    return {
      version,
      sources: [`${ETCD_SERVER}@${version}`],
      // The version itself is a constant of go.etcd.io/etcd/api/v3/version;
      // GitSHA is unknown from a module zip, so say where it came from.
      stamps: { "go.etcd.io/etcd/api/v3/version.GitSHA": `module-${version}` },
      tags: [],
      notes: [],
    };
  },
  async build(ctx) {
    await goBuild(ctx, "etcd", ".", join(ctx.outDir, "etcd"));
  },
};

const RECIPES: Record<ToolName, Recipe> = {
  pulumi: pulumiRecipe,
  "pulumi-resource-kubernetes": kubernetesProviderRecipe,
  kubernetes: kubernetesRecipe,
  etcd: etcdRecipe,
};

/** Which tool provides each binary. */
function toolOf(binary: BinaryName): ToolName {
  for (const tool of TOOL_NAMES) {
    if ((RECIPES[tool].binaries as readonly string[]).includes(binary)) return tool;
  }
  throw new Error(`no tool provides ${binary}`);
}

// ---------------------------------------------------------------------------
// Cache keys and lookups

/**
 * Bump when a build step changes in a way the plan does not show (for example
 * the dynamic-provider shim or the schema generation), so every tool rebuilds.
 */
const RECIPE_REVISION = 1;

/** Hash of the wrapper modules' files (go.mod, go.sum, *.go) and the plan. */
function keyOf(tool: ToolName, plan: Plan): string {
  const hash = createHash("sha256");
  for (const wrapper of RECIPES[tool].wrappers) {
    const dir = join(GO_DIR, wrapper);
    const files = readdirSync(dir)
      .filter(
        (f) => f === "go.mod" || f === "go.sum" || (f.endsWith(".go") && !f.endsWith("_test.go")),
      )
      .sort();
    for (const file of files) {
      hash.update(`${wrapper}/${file}\0`);
      hash.update(readFileSync(join(dir, file)));
      hash.update("\0");
    }
  }
  // The recipe's own code is keyed through its outputs (version, sources,
  // stamps, tags) and RECIPE_REVISION.
  hash.update(JSON.stringify({ ...plan, notes: undefined, recipe: RECIPE_REVISION }));
  return `${tool}-${plan.version}-${hash.digest("hex").slice(0, 10)}`;
}

interface Entry {
  tool: ToolName;
  plan: Plan;
  key: string;
  dir: string;
}

function entryOf(tool: ToolName): Entry {
  const plan = RECIPES[tool].plan();
  const key = keyOf(tool, plan);
  return { tool, plan, key, dir: join(toolsDir(), key) };
}

/** True when the entry's directory holds a manifest and every binary. */
function isBuilt(entry: Entry): boolean {
  if (!existsSync(join(entry.dir, "manifest.json"))) return false;
  return RECIPES[entry.tool].binaries.every((b) => existsSync(join(entry.dir, b)));
}

/**
 * Paths of the tools already built for the current wrapper files and
 * node_modules versions (nothing is built or downloaded). Missing tools are
 * absent from the result.
 */
export function toolPaths(): ToolPaths {
  const paths: ToolPaths = {};
  for (const tool of TOOL_NAMES) {
    const entry = entryOf(tool);
    if (!isBuilt(entry)) continue;
    for (const b of RECIPES[tool].binaries) paths[b] = join(entry.dir, b);
  }
  return paths;
}

/** The manifest of a built tool, or undefined. */
export function toolManifest(tool: ToolName): ToolManifest | undefined {
  const entry = entryOf(tool);
  if (!isBuilt(entry)) return undefined;
  return JSON.parse(readFileSync(join(entry.dir, "manifest.json"), "utf8")) as ToolManifest;
}

/**
 * Variables that keep the built `pulumi` from downloading anything: no update check, no plugin
 * acquisition, no ambient plugins from PATH, no registry lookups. With PULUMI_HOME set to
 * {@link pulumiHome}() the CLI finds the installed providers there.
 */
export const NO_DOWNLOAD_ENV = {
  PULUMI_SKIP_UPDATE_CHECK: "true",
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
  PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
} as const;

// ---------------------------------------------------------------------------
// Progress

interface Step {
  done(extra?: Record<string, unknown>): void;
}

/** One line per step on stderr, as text or JSON. */
class Reporter {
  constructor(private readonly format: ProgressFormat) {}

  line(fields: Record<string, unknown>): void {
    if (this.format === "none") return;
    if (this.format === "json") {
      process.stderr.write(`${JSON.stringify(fields)}\n`);
      return;
    }
    const { tool, step, status, seconds, ...rest } = fields;
    const details = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    const time = typeof seconds === "number" ? ` (${seconds.toFixed(1)} s)` : "";
    process.stderr.write(
      `[toolchain] ${tool} ${step} ${status}${time}${details ? ` ${details}` : ""}\n`,
    );
  }

  /** Reports the start of a step and returns its completion callback. */
  start(tool: string, step: string, fields: Record<string, unknown> = {}): Step {
    const t0 = performance.now();
    return {
      done: (extra = {}) =>
        this.line({
          tool,
          step,
          status: "ok",
          seconds: round1((performance.now() - t0) / 1000),
          ...fields,
          ...extra,
        }),
    };
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

// ---------------------------------------------------------------------------
// Running go

let goEnvCache: Record<string, string> | undefined;

/**
 * `go env` values the builds need, plus `childGOFLAGS`: the user's GOFLAGS
 * (an env var overrides `go env -w` settings, so they must be carried over)
 * followed by ours.
 */
function goEnv(): Record<string, string> {
  if (goEnvCache) return goEnvCache;
  const r = spawnSync("go", ["env", "-json", "GOFLAGS", "GOVERSION", "GOMODCACHE", "GOCACHE"], {
    encoding: "utf8",
    env: { ...process.env, GOTOOLCHAIN: "local" },
  });
  if (r.error || r.status !== 0) {
    throw new Error(`cannot run go (needed to build the tools): ${r.error?.message ?? r.stderr}`);
  }
  const values = JSON.parse(r.stdout) as Record<string, string>;
  const goflags = [values.GOFLAGS ?? "", "-mod=readonly", "-trimpath", "-buildvcs=false"]
    .join(" ")
    .trim();
  goEnvCache = {
    ...values,
    childGOFLAGS: goflags,
  };
  return goEnvCache;
}

function goProcessEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Never download another toolchain: the go line of a wrapper must fit the installed Go.
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
    GOFLAGS: goEnv().childGOFLAGS,
  };
}

/** Runs go, appending its output to logFile; resolves with the exit code and output tail. */
function runGo(
  args: string[],
  cwd: string,
  logFile: string,
): Promise<{ code: number; stdout: string; tail: string }> {
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(logFile, { flags: "a" });
    log.write(`\n$ (cd ${cwd} && go ${args.join(" ")})\n`);
    const child = spawn("go", args, {
      cwd,
      env: goProcessEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let tail = "";
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-8000);
    };
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      keep(chunk);
      log.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      keep(chunk);
      log.write(chunk);
    });
    child.on("error", (err) => {
      log.end();
      reject(err);
    });
    child.on("close", (code, signal) => {
      log.end(() =>
        resolvePromise({
          code: code ?? (signal ? 128 : 1),
          stdout,
          tail: tail.trimEnd().split("\n").slice(-25).join("\n"),
        }),
      );
    });
  });
}

async function goJson(
  ctx: BuildContext,
  cwd: string,
  args: string[],
): Promise<Record<string, unknown>> {
  const r = await runGo(args, cwd, ctx.logFile);
  if (r.code !== 0) {
    throw new ToolBuildError(
      ctx.tool,
      ctx.plan.sources[0] ?? "",
      `go ${args.join(" ")} failed`,
      r.tail,
    );
  }
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Parses the concatenated JSON objects `go ... -json` prints. */
function parseJsonStream(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "}") {
      depth--;
      if (depth === 0 && start >= 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

/** Module paths (with replacements applied) a wrapper requires directly. */
function directModules(wrapper: string): string[] {
  const r = spawnSync("go", ["mod", "edit", "-json"], {
    cwd: join(GO_DIR, wrapper),
    encoding: "utf8",
    env: goProcessEnv(),
  });
  if (r.status !== 0) throw new Error(`go mod edit -json in testbed/go/${wrapper}: ${r.stderr}`);
  const mod = JSON.parse(r.stdout) as {
    Require?: { Path: string; Version: string; Indirect?: boolean }[];
    Replace?: { Old: { Path: string }; New: { Path: string; Version?: string } }[];
  };
  const replaced = new Map((mod.Replace ?? []).map((r) => [r.Old.Path, r.New]));
  const out = new Set<string>();
  for (const req of mod.Require ?? []) {
    if (req.Indirect) continue;
    const to = replaced.get(req.Path);
    out.add(to?.Version ? `${to.Path}@${to.Version}` : `${req.Path}@${req.Version}`);
  }
  // Replacement targets are what is downloaded (k8s.io/* staging modules).
  for (const to of replaced.values()) if (to.Version) out.add(`${to.Path}@${to.Version}`);
  return [...out].sort();
}

/** Checks with `go list -m -json -e` that the proxy serves every direct module. */
async function probeModules(ctx: BuildContext): Promise<void> {
  for (const wrapper of RECIPES[ctx.tool].wrappers) {
    const modules = directModules(wrapper);
    const step = ctx.reporter.start(ctx.tool, "probe", { wrapper, modules: modules.length });
    const r = await runGo(
      ["list", "-m", "-json", "-e", ...modules],
      join(GO_DIR, wrapper),
      ctx.logFile,
    );
    const refused = parseJsonStream(r.stdout)
      .filter((m) => m.Error)
      .map((m) => `${m.Path}@${m.Version}: ${(m.Error as { Err?: string }).Err ?? "error"}`);
    if (refused.length > 0 || r.code !== 0) {
      throw new ToolBuildError(
        ctx.tool,
        ctx.plan.sources.join(", "),
        `the module proxy refuses ${refused.length || "some"} module(s) of testbed/go/${wrapper}`,
        refused.join("\n") || r.tail,
      );
    }
    step.done();
  }
}

/** Downloads every module a wrapper needs (timed apart from compiling). */
async function downloadModules(ctx: BuildContext): Promise<number> {
  const t0 = performance.now();
  for (const wrapper of RECIPES[ctx.tool].wrappers) {
    const step = ctx.reporter.start(ctx.tool, "download", { wrapper });
    const r = await runGo(["mod", "download", "-json"], join(GO_DIR, wrapper), ctx.logFile);
    const failed = parseJsonStream(r.stdout)
      .filter((m) => m.Error)
      .map((m) => `${m.Path}@${m.Version}: ${String(m.Error)}`);
    if (failed.length > 0 || r.code !== 0) {
      throw new ToolBuildError(
        ctx.tool,
        ctx.plan.sources.join(", "),
        `downloading the modules of testbed/go/${wrapper} failed`,
        failed.join("\n") || r.tail,
      );
    }
    step.done({ modules: parseJsonStream(r.stdout).length });
  }
  return (performance.now() - t0) / 1000;
}

/** Builds one package of a wrapper module (in testbed/go/<wrapper>). */
function goBuild(
  ctx: BuildContext,
  wrapper: string,
  pkg: string,
  output: string,
  extraStamps: Record<string, string> = {},
): Promise<void> {
  return goBuildIn(ctx, join(GO_DIR, wrapper), basename(output), pkg, output, extraStamps);
}

async function goBuildIn(
  ctx: BuildContext,
  cwd: string,
  label: string,
  pkg: string,
  output: string,
  extraStamps: Record<string, string> = {},
): Promise<void> {
  const stamps = { ...ctx.plan.stamps, ...extraStamps };
  const ldflags = ["-s", "-w", ...Object.entries(stamps).map(([k, v]) => `-X=${k}=${v}`)].join(" ");
  const args = ["build", "-ldflags", ldflags, "-o", output];
  if (ctx.plan.tags.length > 0) args.push("-tags", ctx.plan.tags.join(","));
  args.push(pkg);
  const step = ctx.reporter.start(ctx.tool, "build", { binary: label });
  const r = await runGo(args, cwd, ctx.logFile);
  if (r.code !== 0) {
    throw new ToolBuildError(
      ctx.tool,
      ctx.plan.sources.join(", "),
      `go build ${pkg} failed (exit ${r.code}; full log ${ctx.logFile})`,
      r.tail,
    );
  }
  step.done({ bytes: statSync(output).size });
}

// ---------------------------------------------------------------------------
// Locking (several test workers may ask for the same tool at once)

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes `<dir>.lock` (a directory holding the owner's pid); waits while a live process holds it. */
async function withLock<T>(
  lockDir: string,
  reporter: Reporter,
  tool: string,
  fn: () => Promise<T>,
): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "owner"), `${process.pid} ${hostname()}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = "";
      try {
        owner = readFileSync(join(lockDir, "owner"), "utf8");
      } catch {
        // The owner is between mkdir and writing its pid; wait.
      }
      const [pid, host] = owner.trim().split(" ");
      if (owner && host === hostname() && !pidAlive(Number(pid))) {
        rmSync(lockDir, { recursive: true, force: true }); // its owner died
        continue;
      }
      if (!announced) {
        reporter.line({
          tool,
          step: "wait",
          status: "running",
          lock: lockDir,
          owner: owner.trim(),
        });
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Building

function sha256File(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

async function buildEntry(entry: Entry, reporter: Reporter): Promise<void> {
  const root = toolsDir();
  mkdirSync(join(root, "logs"), { recursive: true });
  await withLock(`${entry.dir}.lock`, reporter, entry.tool, async () => {
    if (isBuilt(entry)) return; // another process built it meanwhile
    // Holding the lock, any scratch dir of this key is a leftover of a killed build.
    for (const name of readdirSync(root)) {
      if (name.startsWith(`.build-${entry.key}-`))
        rmSync(join(root, name), { recursive: true, force: true });
    }
    const scratch = join(root, `.build-${entry.key}-${process.pid}`);
    const outDir = join(scratch, "out");
    const workDir = join(scratch, "work");
    mkdirSync(outDir, { recursive: true });
    mkdirSync(workDir, { recursive: true });
    const logFile = join(root, "logs", `${entry.key}.log`);
    writeFileSync(logFile, `build of ${entry.key} started ${new Date().toISOString()}\n`);
    const ctx: BuildContext = {
      outDir,
      workDir,
      plan: entry.plan,
      reporter,
      tool: entry.tool,
      logFile,
    };
    const t0 = performance.now();
    try {
      reporter.line({
        tool: entry.tool,
        step: "plan",
        status: "ok",
        key: entry.key,
        sources: entry.plan.sources,
      });
      await probeModules(ctx);
      const downloadSeconds = await downloadModules(ctx);
      await RECIPES[entry.tool].build(ctx);
      const binaries: ToolManifest["binaries"] = {};
      for (const b of RECIPES[entry.tool].binaries) {
        const file = join(outDir, b);
        binaries[b] = { bytes: statSync(file).size, sha256: sha256File(file) };
      }
      const manifest: ToolManifest = {
        tool: entry.tool,
        version: entry.plan.version,
        key: entry.key,
        sources: entry.plan.sources,
        stamps: entry.plan.stamps,
        tags: entry.plan.tags,
        goVersion: goEnv().GOVERSION ?? "",
        downloadSeconds: round1(downloadSeconds),
        buildSeconds: round1((performance.now() - t0) / 1000),
        builtAt: new Date().toISOString(),
        binaries,
        notes: entry.plan.notes,
      };
      writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
      rmSync(entry.dir, { recursive: true, force: true }); // an incomplete leftover, if any
      renameSync(outDir, entry.dir);
      reporter.line({
        tool: entry.tool,
        step: "done",
        status: "ok",
        seconds: manifest.buildSeconds,
        dir: entry.dir,
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}

/**
 * Installs the built Kubernetes provider into a Pulumi home as the version
 * @pulumi/kubernetes asks for (`pulumi plugin install resource kubernetes
 * <version> --file <binary>`), unless that exact build is already installed.
 * With PULUMI_HOME set to that home and automatic plugin acquisition off, the
 * CLI then finds the provider without downloading anything.
 */
export async function installKubernetesPlugin(
  home: string = pulumiHome(),
  progress: ProgressFormat = "text",
): Promise<string> {
  const reporter = new Reporter(progress);
  const paths = toolPaths();
  const manifest = toolManifest("pulumi-resource-kubernetes");
  if (!paths.pulumi || !paths["pulumi-resource-kubernetes"] || !manifest) {
    throw new Error("installKubernetesPlugin: build pulumi and pulumi-resource-kubernetes first");
  }
  const version = manifest.version;
  const installed = join(
    home,
    "plugins",
    `resource-kubernetes-v${version}`,
    "pulumi-resource-kubernetes",
  );
  const marker = join(home, `tcp-shift-resource-kubernetes-v${version}.json`);
  const wanted = manifest.binaries["pulumi-resource-kubernetes"]?.sha256;
  if (existsSync(installed) && existsSync(marker)) {
    const recorded = JSON.parse(readFileSync(marker, "utf8")) as { sha256?: string };
    if (recorded.sha256 === wanted) {
      reporter.line({
        tool: "pulumi-resource-kubernetes",
        step: "install",
        status: "cached",
        path: installed,
      });
      return installed;
    }
  }
  mkdirSync(home, { recursive: true });
  const step = reporter.start("pulumi-resource-kubernetes", "install", { home });
  const r = spawnSync(
    paths.pulumi,
    [
      "plugin",
      "install",
      "resource",
      "kubernetes",
      version,
      "--file",
      paths["pulumi-resource-kubernetes"],
      "--reinstall",
    ],
    {
      encoding: "utf8",
      env: { ...process.env, PULUMI_HOME: home, ...NO_DOWNLOAD_ENV },
    },
  );
  if (r.status !== 0 || !existsSync(installed)) {
    throw new ToolBuildError(
      "pulumi-resource-kubernetes",
      manifest.sources[0] ?? "",
      `pulumi plugin install resource kubernetes ${version} failed`,
      `${r.stdout}${r.stderr}`.trim().split("\n").slice(-25).join("\n"),
    );
  }
  writeFileSync(marker, `${JSON.stringify({ sha256: wanted, key: manifest.key }, null, 2)}\n`);
  step.done({ path: installed });
  return installed;
}

/** A bad command line or tool name: the command exits 2 with the message and no stack. */
class ToolchainUsageError extends Error {}

/** Expands tool or binary names into tools plus the tools they need, in build order. */
function selectTools(only: readonly string[] | undefined): ToolName[] {
  const wanted = new Set<ToolName>();
  const add = (tool: ToolName) => {
    for (const dep of RECIPES[tool].needs) add(dep);
    wanted.add(tool);
  };
  for (const name of only ?? TOOL_NAMES) {
    if ((TOOL_NAMES as readonly string[]).includes(name)) add(name as ToolName);
    else if ((BINARY_NAMES as readonly string[]).includes(name)) add(toolOf(name as BinaryName));
    else
      throw new ToolchainUsageError(
        `unknown tool ${name} (known: ${[...new Set([...TOOL_NAMES, ...BINARY_NAMES])].join(", ")})`,
      );
  }
  return TOOL_NAMES.filter((t) => wanted.has(t));
}

/**
 * Builds whatever of the selected tools is missing (each tool once per cache
 * key; concurrent callers wait for each other), installs the Kubernetes
 * provider into the Pulumi home, and returns the paths of the tools' binaries.
 * Throws {@link ToolBuildError} naming the tool and module on failure; nothing
 * of a failed build stays in the cache.
 */
export async function ensureTools(options: EnsureOptions = {}): Promise<ToolPaths> {
  const reporter = new Reporter(options.progress ?? "text");
  const tools = selectTools(options.only);
  for (const tool of tools) {
    const entry = entryOf(tool);
    if (isBuilt(entry)) {
      reporter.line({ tool, step: "cached", status: "ok", dir: entry.dir });
      continue;
    }
    await buildEntry(entry, reporter);
  }
  if (tools.includes("pulumi-resource-kubernetes")) {
    await installKubernetesPlugin(options.pulumiHome ?? pulumiHome(), options.progress ?? "text");
  }
  const all = toolPaths();
  const paths: ToolPaths = {};
  for (const tool of tools) {
    for (const b of RECIPES[tool].binaries) {
      const p = all[b];
      if (p) paths[b] = p;
    }
  }
  return paths;
}

// ---------------------------------------------------------------------------
// Command line

function printPaths(paths: ToolPaths, json: boolean, extra: Record<string, string>): void {
  const all = { ...paths, ...extra };
  if (json) {
    process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(all).map((k) => k.length));
  for (const [name, path] of Object.entries(all))
    process.stdout.write(`${name.padEnd(width)}  ${path}\n`);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      only: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command || !["build", "where"].includes(command)) {
    if (!values.help) {
      process.stderr.write(
        command ? `unknown command ${command}\n\n` : "a command is required\n\n",
      );
    }
    process.stderr.write(
      [
        "usage: npx tsx testbed/toolchain.ts build [--only name,...] [--json]",
        "       npx tsx testbed/toolchain.ts where [--only name,...]",
        `tools: ${TOOL_NAMES.join(", ")} (or binary names: ${BINARY_NAMES.join(", ")})`,
        `cache: ${toolsDir()} (TCP_SHIFT_TOOLS_DIR)`,
        "",
      ].join("\n"),
    );
    return values.help ? 0 : 2;
  }
  const only = values.only
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);

  if (command === "where") {
    const tools = selectTools(only);
    const paths = toolPaths();
    const found: ToolPaths = {};
    const missing: string[] = [];
    for (const tool of tools) {
      for (const b of RECIPES[tool].binaries) {
        const p = paths[b];
        if (p) found[b] = p;
        else missing.push(b);
      }
    }
    const extra: Record<string, string> = {};
    if (tools.includes("pulumi-resource-kubernetes")) extra["pulumi-home"] = pulumiHome();
    // `where` always prints JSON (it is meant for scripts); --json is accepted for symmetry.
    printPaths(found, true, extra);
    if (missing.length > 0) {
      process.stderr.write(
        `missing (run: npx tsx testbed/toolchain.ts build): ${missing.join(", ")}\n`,
      );
      return 1;
    }
    return 0;
  }

  const t0 = performance.now();
  const paths = await ensureTools({ only, progress: values.json ? "json" : "text" });
  const extra: Record<string, string> = {};
  if (paths["pulumi-resource-kubernetes"]) extra["pulumi-home"] = pulumiHome();
  printPaths(paths, values.json, extra);
  new Reporter(values.json ? "json" : "text").line({
    tool: "all",
    step: "total",
    status: "ok",
    seconds: round1((performance.now() - t0) / 1000),
  });
  return 0;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const usage =
        err instanceof ToolchainUsageError ||
        (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
      if (argv.includes("--json")) {
        const tool = err instanceof ToolBuildError ? err.tool : "all";
        process.stderr.write(
          `${JSON.stringify({ tool, step: "failed", status: "error", message })}\n`,
        );
      } else {
        process.stderr.write(`toolchain: ${message}\n`);
      }
      process.exitCode = usage ? 2 : 1;
    },
  );
}
