/**
 * The committed versions of repository files. Checks that guard what goes into the repository
 * (stack files without cluster access, for instance) read these, not the working tree: a user who
 * follows the README (`pulumi config set`, a local-mode edit of weightV2) changes the working
 * tree, and that must never turn `npm test` red. Without git (an unpacked archive) the working
 * tree is all there is.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..");

function git(args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: "pipe" });
  } catch {
    return undefined;
  }
}

/** Committed files at the repository root whose names match `pattern`. */
export function committedRootFiles(pattern: RegExp): string[] {
  const tracked = git(["ls-files", "--cached", "--", "."]);
  const names = tracked === undefined ? readdirSync(ROOT) : tracked.split("\n");
  return names.filter((name) => !name.includes("/") && pattern.test(name)).sort();
}

/** The text of `file` as last staged or committed (the index), else the working tree's. */
export function committedText(file: string): string {
  return git(["show", `:${file}`]) ?? readFileSync(join(ROOT, file), "utf8");
}
