/**
 * Test support for the shift tests: the bundled gateway as a real child process (gatewayMain,
 * watching its route file, /metrics on an OS port) in front of two tcp-echo servers, and
 * `shiftCli` run in-process with its output captured.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { type ShiftCliDependencies, shiftCli } from "../../../tools/shift/shiftCli";
import { portOfAddress, startProgram } from "../../dataplane/childProcess";

/** A route file with one listener `tcp-echo` on 127.0.0.1:0 and routes v1/v2. */
export function routeFileText(v1Port: number, v2Port: number, weightV2: number): string {
  return `# routes of the shift test: v1 is "one", v2 is "two"
listeners:
  - name: tcp-echo
    listen: 127.0.0.1:0
    connectTimeoutMs: 1000
    routes:
      - name: v1
        weight: ${100 - weightV2}
        endpoints: ["127.0.0.1:${v1Port}"]
      - name: v2 # the new version
        weight: ${weightV2}
        endpoints: ["127.0.0.1:${v2Port}"]
`;
}

/** A running gatewayMain: its data port, its /metrics and how to stop it. */
export interface GatewayProgram {
  port: number;
  metricsUrl: string;
  stop(): Promise<void>;
}

/** A gateway child process and its files (removed by `stop`). */
export interface GatewayUnderTest extends GatewayProgram {
  directory: string;
  routeFile: string;
}

/** Start gatewayMain on `routeFile` (admin on an OS port, no drain) and wait until it listens. */
export async function startGatewayProgram(routeFile: string): Promise<GatewayProgram> {
  const program = startProgram("gateway/gatewayMain.ts", [
    "--config",
    routeFile,
    "--admin",
    "127.0.0.1:0",
    "--drain-seconds",
    "0",
    "--log-level",
    "info",
  ]);
  const portOf = async (msg: string) =>
    portOfAddress((await program.waitForLog((line) => line.msg === msg)).address);
  try {
    const port = await portOf("listening");
    const admin = await portOf("admin listening");
    return {
      port,
      metricsUrl: `http://127.0.0.1:${admin}/metrics`,
      async stop() {
        program.child.kill("SIGTERM");
        await program.exited;
      },
    };
  } catch (error) {
    program.child.kill("SIGKILL");
    throw error;
  }
}

/** Start gatewayMain on a new route file (weight v2 0) in a fresh temporary directory. */
export async function startGateway(v1Port: number, v2Port: number): Promise<GatewayUnderTest> {
  const directory = mkdtempSync(join(tmpdir(), "shift-test-"));
  const routeFile = join(directory, "routes.yaml");
  writeFileSync(routeFile, routeFileText(v1Port, v2Port, 0));
  try {
    const gateway = await startGatewayProgram(routeFile);
    return {
      ...gateway,
      directory,
      routeFile,
      async stop() {
        await gateway.stop();
        rmSync(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}

/** What a shift run printed and returned. */
export interface ShiftRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `npm run shift -- <argv>` in this process; `onOutput` sees stdout and stderr as they come,
 * the rest goes to `shiftCli`.
 */
export async function runShift(
  argv: string[],
  options: ShiftCliDependencies & { onOutput?: (text: string) => void } = {},
): Promise<ShiftRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    options.onOutput?.(chunk.toString());
  });
  stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
    options.onOutput?.(chunk.toString());
  });
  const { onOutput: _, ...deps } = options;
  const code = await shiftCli(argv, { stdout, stderr }, deps);
  return { code, stdout: out, stderr: err };
}

/**
 * The flags every fault test shares: short windows, a fast probe, and a 0.1% false-alarm budget
 * (a healthy run on a loaded CI machine is rolled back at most once in a thousand; the faults
 * these tests inject are seen at p < 1e-7, far inside it).
 */
export const FAST = [
  "--false-alarm",
  "0.1",
  "--interval",
  "1s",
  "--baseline",
  "1s",
  "--rate",
  "400",
  "--concurrency",
  "16",
  "--timeout",
  "3s",
  "--apply-timeout",
  "10s",
];
