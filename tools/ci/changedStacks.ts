/**
 * Which stacks a pull request needs to preview: a stack whose `Pulumi.<stack>.yaml` changed, or
 * every stack when anything else the program reads changed. Docs and workflow-only edits need none.
 *
 * `tsx tools/ci/changedStacks.ts <base-ref> [head-ref]` prints a JSON list for a workflow matrix.
 */
import { execFileSync } from "node:child_process";
import { EXIT_CODES } from "../../contract/exitCodes";
import { STACK_FILE_NAME, stacksIn } from "../../infra/config/stackFile";

/** Files that cannot change what `pulumi preview` shows. */
const NO_PREVIEW = [
  /\.md$/,
  /^\.github\//,
  /^\.ci\//,
  /^test\//,
  /^testbed\//,
  // Commands people run (render, local mode, shift, CI helpers); the program never imports them.
  /^tools\//,
  /^bench\//,
  /^LICENSE$/,
  /^\.gitignore$/,
];

/** The stacks among `stacks` that `changedFiles` (repo-relative paths) can affect. */
export function stacksToPreview(changedFiles: string[], stacks: string[]): string[] {
  const selected = new Set<string>();
  for (const file of changedFiles) {
    const stack = STACK_FILE_NAME.exec(file)?.[1];
    if (stack !== undefined) {
      if (stacks.includes(stack)) selected.add(stack);
      continue;
    }
    if (NO_PREVIEW.some((pattern) => pattern.test(file))) continue;
    return [...stacks];
  }
  return stacks.filter((stack) => selected.has(stack));
}

function main(argv: string[]): void {
  const [base, head = "HEAD"] = argv;
  if (!base) {
    process.stderr.write("usage: tsx tools/ci/changedStacks.ts <base-ref> [head-ref]\n");
    process.exit(EXIT_CODES.usage);
  }
  const diff = execFileSync("git", ["diff", "--name-only", `${base}...${head}`], {
    encoding: "utf8",
  });
  const files = diff.split("\n").filter((line) => line !== "");
  process.stdout.write(`${JSON.stringify(stacksToPreview(files, stacksIn(".")))}\n`);
}

if (require.main === module) main(process.argv.slice(2));
