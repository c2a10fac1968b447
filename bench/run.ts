/**
 * `npm run bench` — the gateway against HAProxy, nginx stream and direct-to-backend (issue 5).
 *
 *   npm run bench                      full run: 5 rounds, gateway and HAProxy alternate
 *   npm run bench -- --quick           about half a minute, for development
 *   npm run -s bench -- --json         one JSON object on stdout (progress on stderr)
 *   npm run bench -- --shift-check     issue 11: open streams across 20 weight changes (gateway,
 *                                      HAProxy -sf, nginx reload) and the splitter hop's cost
 *   npm run bench -- --drain-check     the gateway's drain of a weight-0 route (300 streams,
 *                                      drainAfterSeconds 2, drainRate 50) and balance: sticky
 *                                      (2,000 client addresses across weight changes)
 *   options: --rounds N  --peers gateway,haproxy,nginx,direct  --backend c|node
 *            --profile / --no-profile  --no-build  --idle-connections N
 *            --data-path handles|sockets (the gateway's; default: its own default)
 *
 * Everything stays on loopback (127.0.0.0/8; addresses in addressPlan.ts), every phase is
 * bounded in time, and every process the run starts is stopped at the end, on errors and on
 * Ctrl-C. Results: bench/results/*.json.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EXIT_CODES } from "../contract/exitCodes";
import { DATA_PATHS, type DataPath, isDataPath } from "../dataplane/gateway/gatewayConnection";
import {
  BACKEND_HOSTS,
  pairConnectionsPerSecond,
  readPortSpace,
  SOURCE_HOSTS,
} from "./addressPlan";
import { installCleanup, killAllChildren, onExit } from "./children";
import { type CpuProfile, inclusiveTimes, type SelfTime, selfTimes } from "./cpuProfile";
import {
  DRAIN_PLAN,
  type DrainObservation,
  drainFigures,
  drainFindings,
  drainProblems,
  type EchoReport,
  figureTable,
  parseEchoReport,
  QUICK_DRAIN_PLAN,
  runDrainScenario,
  summarizeDrain,
} from "./drainCheck";
import { checkHalfClose, type HalfCloseResult } from "./halfClose";
import { HOP_PLAN, measureHopCost, QUICK_HOP_PLAN } from "./hopCost";
import { compileNativeHelpers, runLoadgen } from "./loadgen";
import {
  type Backends,
  findBinary,
  type PeerName,
  type RunningGateway,
  startBackends,
  startGateway,
  startPeer,
  unavailableReason,
} from "./peers";
import { FULL_PLAN, measurePeer, type PhasePlan, QUICK_PLAN } from "./phases";
import {
  measureReloadLatency,
  type ReloadLatency,
  type ReloadUnderLoad,
  reloadsUnderLoad,
} from "./reload";
import {
  conn50BoundsByPeer,
  formatSpread,
  headline,
  median,
  type PeerSample,
  renderTable,
  roundOrder,
  summarize,
  summaryTable,
} from "./report";
import {
  QUICK_SHIFT_PLAN,
  SHIFT_PLAN,
  type ShiftResult,
  shiftContext,
  shiftGateway,
  shiftProblems,
  shiftReloadingPeer,
} from "./shiftCheck";
import {
  QUICK_STICKY_PLAN,
  runStickyCheck,
  STICKY_PLAN,
  stickyProblems,
  stickyTable,
  summarizeSticky,
} from "./stickyCheck";

const REPO_ROOT = join(__dirname, "..");
const RESULTS_DIR = join(REPO_ROOT, "bench", "results");
const LOG_DIR = join(RESULTS_DIR, "logs");
const ALL_PEERS: readonly PeerName[] = ["gateway", "haproxy", "nginx", "direct"];

interface Options {
  quick: boolean;
  json: boolean;
  rounds: number;
  peers: PeerName[];
  backend: "c" | "node";
  profile: boolean;
  build: boolean;
  plan: PhasePlan;
  dataPath: DataPath | undefined;
  shiftCheck: boolean;
  drainCheck: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      rounds: { type: "string" },
      peers: { type: "string" },
      backend: { type: "string", default: "c" },
      profile: { type: "boolean" },
      "no-profile": { type: "boolean" },
      "no-build": { type: "boolean", default: false },
      "idle-connections": { type: "string" },
      "data-path": { type: "string" },
      "shift-check": { type: "boolean", default: false },
      "drain-check": { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick === true;
  const shiftCheck = values["shift-check"] === true;
  const drainCheck = values["drain-check"] === true;
  if (shiftCheck && drainCheck)
    throw new Error("--shift-check and --drain-check are separate runs: pick one");
  if (shiftCheck || drainCheck) {
    // The checks have their own fixed plans and peers: these options would silently do nothing
    const fullRunOnly = ["rounds", "peers", "profile", "no-profile", "idle-connections"] as const;
    const given = fullRunOnly.filter((name) => values[name] !== undefined);
    if (given.length > 0)
      throw new Error(
        `${given.map((name) => `--${name}`).join(", ")}: only for the full run, not with ` +
          `${shiftCheck ? "--shift-check" : "--drain-check"} (it takes --quick, --json, ` +
          "--backend, --data-path, --no-build)",
      );
  }
  const rounds = Number(values.rounds ?? (quick ? 1 : 5));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20)
    throw new Error("--rounds must be an integer from 1 to 20");
  const peers = (values.peers ?? ALL_PEERS.join(",")).split(",").map((p) => p.trim());
  for (const peer of peers)
    if (!ALL_PEERS.includes(peer as PeerName))
      throw new Error(`--peers: unknown peer "${peer}" (allowed: ${ALL_PEERS.join(", ")})`);
  if (values.backend !== "c" && values.backend !== "node")
    throw new Error(
      '--backend must be "c" (bench/echo.c) or "node" (dist/dataplane/echo/echoMain.js)',
    );
  const dataPath = values["data-path"];
  if (dataPath !== undefined && !isDataPath(dataPath))
    throw new Error(`--data-path must be one of ${DATA_PATHS.join(", ")}`);
  const plan = { ...(quick ? QUICK_PLAN : FULL_PLAN) };
  if (values["idle-connections"] !== undefined) {
    plan.idleConnections = Number(values["idle-connections"]);
    if (!Number.isInteger(plan.idleConnections) || plan.idleConnections < 1)
      throw new Error("--idle-connections must be a positive integer");
  }
  return {
    quick,
    json: values.json === true,
    rounds,
    peers: peers as PeerName[],
    backend: values.backend,
    profile: values["no-profile"] ? false : (values.profile ?? !quick),
    build: !values["no-build"],
    plan,
    dataPath,
    shiftCheck,
    drainCheck,
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function version(command: string, args: string[]): string | undefined {
  const binary = findBinary(command);
  if (!binary) return undefined;
  try {
    const out = execFileSync(binary, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    return out.split("\n")[0]?.trim();
  } catch (error) {
    // nginx -v prints on stderr
    return (error as { stderr?: string }).stderr?.split("\n")[0]?.trim();
  }
}

/** A temp folder for the peers' configs and pid files, removed on exit (Ctrl-C included). */
function workDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), "tcp-shift-bench-"));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The report's last lines when the run failed. */
function printProblems(out: (line?: string) => void, problems: readonly string[], where = "") {
  if (problems.length === 0) return;
  out();
  out(`FAILED: ${problems.length} problem(s)${where}`);
  for (const problem of problems) out(`  ${problem}`);
}

/** A run's start (an ISO date) as it names its files: `2025-01-02T03-04-05-678Z`. */
function fileStamp(date: string): string {
  return date.replace(/[:.]/g, "-");
}

/**
 * Save a run's results, plus `raw` when given, as bench/results/<kind>-<stamp>.json (`file`).
 * With --json, print the results (without `raw`) and the file's path as one line; otherwise
 * `out` prints the report, which starts here with a blank line, `tcp-shift <title>` and the
 * machine line.
 */
function saveResults(
  kind: string,
  result: { date: string; ok: boolean },
  options: Options,
  title: string,
  raw?: object,
): { file: string; out?: (line?: string) => void } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${kind}-${fileStamp(result.date)}.json`);
  const saved = raw === undefined ? result : { ...result, raw };
  writeFileSync(file, `${JSON.stringify(saved, null, 2)}\n`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...result, resultsFile: file })}\n`);
    return { file };
  }
  const out = (line = "") => process.stdout.write(`${line}\n`);
  const info = (result as { machine?: ReturnType<typeof machine> }).machine;
  out();
  out(`tcp-shift ${title}`);
  if (info)
    out(`machine: ${info.cores} cores, ${info.cpuModel}, kernel ${info.kernel}, node ${info.node}`);
  return { file, out };
}

/**
 * Log the machine, build the gateway (`npm run build`) when `gateway` says it runs and --no-build
 * is not given, and compile the C helpers.
 */
function prepare(info: ReturnType<typeof machine>, options: Options, gateway: boolean): void {
  log(
    `machine: ${info.cores} cores, ${info.cpuModel}, kernel ${info.kernel}, node ${info.node}, ` +
      `load ${info.loadAverageAtStart.join(" ")}`,
  );
  if (options.build && gateway) {
    log("building the gateway: npm run build");
    execFileSync("npm", ["run", "build", "--silent"], { cwd: REPO_ROOT, stdio: "inherit" });
  }
  compileNativeHelpers();
}

function machine() {
  const cpuInfo = cpus();
  let fdLimit = "?";
  try {
    fdLimit = execFileSync("/bin/sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim();
  } catch {
    // keep "?"
  }
  return {
    cores: cpuInfo.length,
    cpuModel: cpuInfo[0]?.model ?? "unknown",
    kernel: release(),
    node: process.version,
    haproxy: version("haproxy", ["-v"]),
    fdHardLimit: fdLimit,
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

function nginxVersion(): string | undefined {
  const binary = findBinary("nginx");
  if (!binary) return undefined;
  const out = execFileSync("/bin/sh", ["-c", `'${binary}' -v 2>&1`], { encoding: "utf8" });
  return out.trim();
}

/** Which peers run, and why the others do not. */
function choosePeers(wanted: readonly PeerName[]): PeerName[] {
  const peers: PeerName[] = [];
  for (const name of wanted) {
    const reason = unavailableReason(name, REPO_ROOT);
    if (reason) log(`skipping ${name}: ${reason}`);
    else peers.push(name);
  }
  return peers;
}

interface ProfileResult {
  files: string[];
  /** Top functions by self time. */
  top: SelfTime[];
  /** The gateway's own functions (dist/) by inclusive time. */
  gatewayInclusive: SelfTime[];
}

async function profileGateway(
  backends: Backends,
  plan: PhasePlan,
  dir: string,
  dataPath: DataPath | undefined,
): Promise<ProfileResult> {
  const profileDir = join(RESULTS_DIR, "profiles", new Date().toISOString().replace(/[:.]/g, "-"));
  mkdirSync(profileDir, { recursive: true });
  const gateway = await startGateway({
    backends,
    dir,
    repoRoot: REPO_ROOT,
    idleConnections: plan.idleConnections,
    nodeFlags: ["--cpu-prof", "--cpu-prof-dir", profileDir],
    dataPath,
  });
  try {
    const targets = gateway.targets;
    await runLoadgen({ mode: "conn", targets, concurrency: 50, durationSec: 3 }, "profile c=50");
    await runLoadgen({ mode: "rate", targets, rate: 3000, durationSec: 2 }, "profile rate");
    await runLoadgen(
      { mode: "bulk", targets, concurrency: 4, durationSec: 1, lineSize: 16384, window: 4 },
      "profile bulk",
    );
  } finally {
    await gateway.stop(); // SIGTERM: the gateway exits 0 and V8 writes the profile
  }
  const files = readdirSync(profileDir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(profileDir, f));
  const profiles = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as CpuProfile);
  return {
    files,
    top: selfTimes(profiles).slice(0, 25),
    gatewayInclusive: inclusiveTimes(profiles, (frame) => frame.includes("dist/")).slice(0, 15),
  };
}

/** Runs the benchmark; resolves false when any connection failed or a check did not pass. */
async function main(): Promise<boolean> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    // parseArgs' own errors (an unknown flag) and ours: a bad command line, nothing ran.
    process.stderr.write(`bench: ${(error as Error).message} (see bench/README.md)\n`);
    process.exit(EXIT_CODES.usage);
  }
  installCleanup();
  if (options.shiftCheck) return shiftCheckMain(options);
  if (options.drainCheck) return drainCheckMain(options);
  const started = Date.now();
  const info = { ...machine(), nginx: nginxVersion() };
  log(
    `fd hard limit ${info.fdHardLimit}; peers: ${info.haproxy ?? "haproxy missing"}; ` +
      `${info.nginx ?? "nginx missing"}`,
  );
  prepare(info, options, options.peers.includes("gateway"));
  const peers = choosePeers(options.peers);
  if (peers.length === 0) throw new Error("no peer can run here");

  mkdirSync(LOG_DIR, { recursive: true });
  const workDir = workDirectory();
  const backends = await startBackends(options.backend, REPO_ROOT);
  log(`backends (${options.backend}): one on ${backends.one.port}, two on ${backends.two.port}`);

  const samples: PeerSample[] = [];
  const halfClose: Record<string, HalfCloseResult> = {};
  let reloadLatency: ReloadLatency | undefined;
  let reloadLoad: ReloadUnderLoad | undefined;
  let profile: ProfileResult | undefined;
  /** The load average as each round starts: the machine is shared. */
  const roundLoad: number[][] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      roundLoad.push(loadavg().map((x) => Number(x.toFixed(2))));
      log(`round ${round + 1}/${options.rounds}, load ${roundLoad[round]?.join(" ")}`);
      for (const name of roundOrder(peers, round)) {
        const dir = mkdtempSync(join(workDir, `${name}-`));
        const peer = await startPeer(name, {
          backends,
          dir,
          repoRoot: REPO_ROOT,
          idleConnections: options.plan.idleConnections,
          logFile: join(LOG_DIR, `${name}-round-${round + 1}.log`),
          dataPath: options.dataPath,
        });
        try {
          if (!halfClose[name]) halfClose[name] = await checkHalfClose(peer.targets[0] as string);
          samples.push(await measurePeer(peer, round, backends, options.plan, log));
          if (name === "gateway" && round === 0) {
            const gateway = peer as RunningGateway;
            log("  gateway reload latency (route file replaced → first connection on new weights)");
            reloadLatency = await measureReloadLatency(gateway, options.quick ? 3 : 10);
            const reloads = options.quick ? 20 : 100;
            log(`  gateway: ${reloads} reloads under load`);
            reloadLoad = await reloadsUnderLoad(gateway, reloads, 100, 1000, 200);
          }
        } finally {
          await peer.stop();
        }
      }
    }
    if (options.profile && peers.includes("gateway")) {
      log("profiling the gateway (--cpu-prof) under the same load");
      profile = await profileGateway(
        backends,
        options.plan,
        mkdtempSync(join(workDir, "prof-")),
        options.dataPath,
      );
    }
  } finally {
    await backends.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const summary = summarize(samples);
  const conn50Bounds = conn50BoundsByPeer(samples, peers);
  const reloadMs = reloadLatency?.samplesMs.length ? median(reloadLatency.samplesMs) : undefined;
  const head = headline(summary, { reloadMs, lostConnections: reloadLoad?.lostConnections });
  const backendCpu = median(
    samples.filter((s) => s.peer === "direct").map((s) => s.backendCpuPerConnUs ?? Number.NaN),
  );
  const problems = [
    ...samples.flatMap((s) =>
      (s.problems ?? []).map((p) => `${s.peer} round ${s.round + 1}: ${p}`),
    ),
    ...Object.entries(halfClose)
      .filter(([, check]) => !check.ok)
      .map(([name, check]) => `${name}: half-close check failed: ${check.detail}`),
    ...(reloadLoad && reloadLoad.lostConnections > 0
      ? [`gateway: ${reloadLoad.lostConnections} connections lost across reloads`]
      : []),
    ...(reloadLatency && reloadLatency.probeFailures > 0
      ? [`gateway: ${reloadLatency.probeFailures} reload probes got no reply within 2 s`]
      : []),
    ...(reloadLatency && reloadLatency.timeouts > 0
      ? [`gateway: ${reloadLatency.timeouts} reloads not in force within 3 s`]
      : []),
  ];
  const result = {
    ok: problems.length === 0,
    problems,
    ...head,
    date: new Date(started).toISOString(),
    durationSec: Math.round((Date.now() - started) / 1000),
    machine: {
      ...info,
      loadAverageAtRoundStarts: roundLoad,
      loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
    },
    options: {
      quick: options.quick,
      rounds: options.rounds,
      peers,
      backend: options.backend,
      gatewayDataPath: options.dataPath ?? "default",
      plan: options.plan,
    },
    halfClose,
    reload: { latency: reloadLatency, underLoad: reloadLoad },
    backendCpuPerConnUsDirect: backendCpu,
    addressPlan: { sources: SOURCE_HOSTS, backendHosts: BACKEND_HOSTS, portSpace: readPortSpace() },
    conn50Bounds,
    summary,
    samples,
    profile,
  };
  const { file, out } = saveResults(
    "bench",
    result,
    options,
    `bench ${result.date}, ${options.rounds} round(s)${options.quick ? " (quick)" : ""}`,
  );
  if (!out) return result.ok;
  out(`peers: ${info.haproxy ?? "-"}; ${info.nginx ?? "-"}; backends: ${options.backend} echo`);
  out(`gateway data path: ${options.dataPath ?? "default (handles where this Node has them)"}`);
  out(
    `load average (1 min) at start ${info.loadAverageAtStart[0]}, at each round ` +
      `${roundLoad.map((l) => l[0]).join(", ")}, at end ${result.machine.loadAverageAtEnd[0]}`,
  );
  out("values: median (min–max) over rounds; ratios: median (min–max) of per-round ratios");
  out();
  out(summaryTable(summary, peers));
  out();
  const pairRate = Math.round(pairConnectionsPerSecond(result.addressPlan.portSpace));
  out(
    `c=50 phase, what bounds it (port space: ${pairRate.toLocaleString("en")} ` +
      `new conn/s per address pair; ${SOURCE_HOSTS.length} load generator sources, ` +
      `${BACKEND_HOSTS.length} addresses per backend):`,
  );
  for (const peer of peers) {
    const reasons = conn50Bounds[peer] ?? [];
    out(
      `  ${peer}: ${reasons.length > 0 ? `bound by ${reasons.join(" and ")}` : "no limit near (not saturated)"}`,
    );
  }
  out();
  for (const [name, check] of Object.entries(halfClose))
    out(
      `half-close ${name}: ${check.ok ? "ok" : "FAILED"} (${check.passed}/${check.attempts}; ${check.detail})`,
    );
  if (reloadLatency)
    out(
      `reload latency (gateway, file watch): median ${reloadMs?.toFixed(1) ?? "-"} ms, ` +
        `samples ${reloadLatency.samplesMs.map((x) => x.toFixed(0)).join(" ")} ms, ` +
        `${reloadLatency.timeouts} not applied within 3 s, ${reloadLatency.probeFailures} probe failures`,
    );
  if (reloadLoad)
    out(
      `reloads under load (gateway): ${reloadLoad.reloadsWritten} written, ` +
        `${reloadLoad.reloadsApplied ?? "?"} applied, lost ${reloadLoad.lostConnections} ` +
        `(short: ${reloadLoad.shortConnections.ok} ok / ${reloadLoad.shortConnections.errors} failed; ` +
        `long-lived: ${reloadLoad.longLived.stillWorking}/${reloadLoad.longLived.opened} still working), ` +
        `same process: ${reloadLoad.samePid}`,
    );
  out("HAProxy's and nginx's reload paths: npm run bench -- --shift-check.");
  if (Number.isFinite(backendCpu))
    out(
      `backend CPU per connection (direct, ${options.backend} echo): ${backendCpu.toFixed(1)} µs`,
    );
  if (profile) {
    out();
    out(`gateway CPU profile (${profile.files.length} file(s)); top self time, % of busy time:`);
    for (const entry of profile.top.filter((e) => e.frame !== "(idle)").slice(0, 15))
      out(
        `  ${entry.busyPercent.toFixed(1).padStart(5)} %  ${entry.selfMs.toFixed(0).padStart(6)} ms  ${entry.frame}`,
      );
    out("gateway code by inclusive time, % of busy time:");
    for (const entry of profile.gatewayInclusive.slice(0, 10))
      out(
        `  ${entry.busyPercent.toFixed(1).padStart(5)} %  ${entry.selfMs.toFixed(0).padStart(6)} ms  ${entry.frame}`,
      );
  }
  out();
  out(`results: ${file}`);
  printProblems(out, problems, `; gateway logs in ${LOG_DIR}`);
  return result.ok;
}

/** `--shift-check`: issue 11's measurement (see shiftCheck.ts and hopCost.ts). */
async function shiftCheckMain(options: Options): Promise<boolean> {
  const started = Date.now();
  const info = { ...machine(), nginx: nginxVersion() };
  prepare(info, options, true);
  const available = choosePeers(["gateway", "haproxy", "nginx"]);
  if (!available.includes("gateway")) throw new Error("the shift check needs the gateway");
  const plan = options.quick ? QUICK_SHIFT_PLAN : SHIFT_PLAN;
  const hopPlan = options.quick ? QUICK_HOP_PLAN : HOP_PLAN;
  const workDir = workDirectory();
  const backends = await startBackends(options.backend, REPO_ROOT);
  const context = (label: string) => ({
    ...shiftContext(backends, mkdtempSync(join(workDir, `${label}-`)), REPO_ROOT),
    dataPath: options.dataPath,
  });
  const shifts: ShiftResult[] = [];
  let hop: Awaited<ReturnType<typeof measureHopCost>> | undefined;
  try {
    log(
      `shift: ${plan.connections} streams (${plan.lineBytes} B lines every ${plan.lineIntervalMs} ms), ` +
        `${plan.changes} weight changes ${plan.changeIntervalMs} ms apart`,
    );
    shifts.push(await shiftGateway(context("gateway"), plan));
    for (const name of ["haproxy", "nginx"] as const)
      if (available.includes(name))
        shifts.push(await shiftReloadingPeer(name, context(name), plan));
    if (available.includes("haproxy")) {
      log("hop: client → HAProxy → gateway → echo vs client → HAProxy → echo");
      hop = await measureHopCost(context, hopPlan, log);
    } else log("hop cost skipped: it needs HAProxy as the stand-in ingress proxy");
  } finally {
    await backends.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const gatewayShift = shifts.find((r) => r.peer === "gateway");
  const problems = [
    ...(gatewayShift ? shiftProblems(gatewayShift) : []),
    ...(hop && hop.cost.errors > 0 ? [`hop: ${hop.cost.errors} failed connections`] : []),
  ];
  const peerFindings = shifts.filter((r) => r.peer !== "gateway").flatMap(shiftProblems);
  const result = {
    ok: problems.length === 0,
    problems,
    peerFindings,
    date: new Date(started).toISOString(),
    durationSec: Math.round((Date.now() - started) / 1000),
    machine: { ...info, loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))) },
    plan,
    hopPlan,
    shifts,
    hop,
  };
  const { file, out } = saveResults(
    "shift-check",
    result,
    options,
    `shift check ${result.date}${options.quick ? " (quick)" : ""}`,
  );
  if (!out) return result.ok;
  out(
    `load average (1 min) at start ${info.loadAverageAtStart[0]}, at end ` +
      `${result.machine.loadAverageAtEnd[0]}; ${result.durationSec} s`,
  );
  out(
    `${plan.connections} long-lived streams, ${plan.lineBytes} B lines every ${plan.lineIntervalMs} ms ` +
      `each way, every byte checked; ${plan.changes} weight changes ${plan.changeIntervalMs} ms apart ` +
      `(v2 50 → 100 → 50 in steps of 5)`,
  );
  out();
  out(shiftTable(shifts));
  out();
  if (hop) {
    const c = hop.cost;
    out(
      `extra hop of splitter: gateway (client → HAProxy → gateway → echo vs client → HAProxy → echo), ` +
        `${c.rounds} round(s), median (min–max) of per-round differences:`,
    );
    out(
      renderTable([
        ["figure", "via gateway − one hop"],
        ["added p50 @1000/s [µs]", formatSpread(c.addedP50At1000Us)],
        ["added p99 @1000/s [µs]", formatSpread(c.addedP99At1000Us)],
        ["added p50 @3000/s [µs]", formatSpread(c.addedP50At3000Us)],
        ["added p99 @3000/s [µs]", formatSpread(c.addedP99At3000Us)],
        ["gateway CPU per connection [µs]", formatSpread(c.gatewayCpuUs)],
        ["added proxy CPU per connection [µs]", formatSpread(c.addedCpuUs)],
        ["new conn/s at 50 concurrent, ratio", formatSpread(c.connRate50Ratio, true)],
      ]),
    );
    out(
      `one hop: p50/p99 @1000/s ${c.oneHop.p50At1000?.toFixed(0)}/${c.oneHop.p99At1000?.toFixed(0)} µs, ` +
        `${c.oneHop.connRate50?.toFixed(0)} conn/s; via gateway: ${c.viaGateway.p50At1000?.toFixed(0)}/` +
        `${c.viaGateway.p99At1000?.toFixed(0)} µs, ${c.viaGateway.connRate50?.toFixed(0)} conn/s`,
    );
    out(
      "Models one more userspace proxy on loopback; not pod-to-pod network, kube-proxy, Envoy itself.",
    );
  }
  out();
  out(`results: ${file}`);
  for (const finding of peerFindings) out(`peer: ${finding}`);
  printProblems(out, problems);
  return result.ok;
}

/** `--drain-check`: the drain of a weight-0 route and `balance: sticky` (drainCheck.ts, stickyCheck.ts). */
async function drainCheckMain(options: Options): Promise<boolean> {
  const started = Date.now();
  const info = machine();
  prepare(info, options, true);
  const missing = unavailableReason("gateway", REPO_ROOT);
  if (missing) throw new Error(`the drain check needs the gateway: ${missing}`);
  const drainPlan = options.quick ? QUICK_DRAIN_PLAN : DRAIN_PLAN;
  const stickyPlan = options.quick ? QUICK_STICKY_PLAN : STICKY_PLAN;
  const stamp = fileStamp(new Date(started).toISOString());
  mkdirSync(LOG_DIR, { recursive: true });
  const workDir = workDirectory();
  const echoReports: EchoReport[] = [];
  const backends = await startBackends(options.backend, REPO_ROOT, {
    onReport: (prefix, line) => {
      const report = parseEchoReport(line, prefix);
      if (report) echoReports.push(report);
    },
  });
  const context = (label: string) => ({
    backends,
    dir: mkdtempSync(join(workDir, `${label}-`)),
    repoRoot: REPO_ROOT,
    idleConnections: 1000,
    dataPath: options.dataPath,
    logFile: join(LOG_DIR, `drain-check-${stamp}-${label}.log`),
  });
  const observations: DrainObservation[] = [];
  let sticky: Awaited<ReturnType<typeof runStickyCheck>> | undefined;
  try {
    log(
      `drain: ${drainPlan.connections} streams on v1 (${drainPlan.lineBytes} B lines every ` +
        `${drainPlan.lineIntervalMs} ms), then v1 0 / v2 100 with drainAfterSeconds ` +
        `${drainPlan.drainAfterSeconds}, drainRate ${drainPlan.drainRate}`,
    );
    observations.push(
      await runDrainScenario({ ...context("drain"), echoReports, log }, drainPlan, "drain"),
    );
    log(`drain stopped: the same, v1 raised to 50 after ${drainPlan.raiseAfterCloses} closes`);
    observations.push(
      await runDrainScenario({ ...context("raise"), echoReports, log }, drainPlan, "raise"),
    );
    log(`sticky: ${stickyPlan.clients} client addresses, ${stickyPlan.phases.length} phases`);
    sticky = await runStickyCheck(context("sticky"), stickyPlan, log);
  } finally {
    await backends.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const drains = observations.map(summarizeDrain);
  const stickyPhases = summarizeSticky(sticky.addresses, sticky.phases);
  const problems = [...drains.flatMap(drainProblems), ...stickyProblems(stickyPhases)];
  const findings = drains.flatMap(drainFindings);
  const result = {
    ok: problems.length === 0,
    problems,
    findings,
    date: new Date(started).toISOString(),
    durationSec: Math.round((Date.now() - started) / 1000),
    machine: { ...info, loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))) },
    options: {
      quick: options.quick,
      backend: options.backend,
      gatewayDataPath: options.dataPath ?? "default",
    },
    drainPlan,
    stickyPlan,
    drain: drains,
    sticky: stickyPhases.map((p, i) => ({
      ...p,
      reloadInForceMs: sticky?.phases[i]?.reloadInForceMs,
      durationMs: sticky?.phases[i]?.durationMs,
      firstError: sticky?.phases[i]?.firstError,
    })),
  };
  const raw = {
    drain: observations,
    sticky: {
      addresses: sticky.addresses,
      // per client, in address order: 1 = v1, 2 = v2, - = failed
      phases: sticky.phases.map((p) => ({
        label: p.label,
        weights: p.weights,
        versions: p.versions.map((v) => (v === "one" ? "1" : v === "two" ? "2" : "-")).join(""),
      })),
    },
  };
  const { file, out } = saveResults(
    "drain-check",
    result,
    options,
    `drain check ${result.date}${options.quick ? " (quick)" : ""}`,
    raw,
  );
  if (!out) return result.ok;
  out(
    `load average (1 min) at start ${info.loadAverageAtStart[0]}, at end ` +
      `${result.machine.loadAverageAtEnd[0]}; ${result.durationSec} s; backends: ${options.backend} echo; ` +
      `gateway data path: ${options.dataPath ?? "default"}`,
  );
  for (const [index, summary] of drains.entries()) {
    out();
    out(
      summary.scenario === "drain"
        ? `drain: ${drainPlan.connections} streams on v1 (${drainPlan.lineBytes} B lines every ` +
            `${drainPlan.lineIntervalMs} ms, every byte checked), route file → v1 0 / v2 100 with ` +
            `drainAfterSeconds ${drainPlan.drainAfterSeconds}, drainRate ${drainPlan.drainRate}; ` +
            "each drained client reconnects"
        : `drain stopped: the same start; v1 raised to 50 (v2 50) after ${drainPlan.raiseAfterCloses} ` +
            `closes, open streams watched ${drainPlan.holdAfterRaiseSec} s, then ended by the clients`,
    );
    out(figureTable(drainFigures(summary, drainPlan)));
    const cpu = observations[index]?.clientCpuSec;
    if (cpu !== undefined) out(`(drain client CPU: ${cpu.toFixed(2)} s)`);
  }
  out();
  out(
    `sticky: ${stickyPlan.clients} client addresses (127.20.y.z), each one connection per phase; ` +
      '"hash": what the gateway\'s addressBucket gives these exact addresses',
  );
  out(stickyTable(stickyPhases));
  out();
  out(`results: ${file}; gateway logs: ${LOG_DIR}/drain-check-${stamp}-*.log`);
  for (const finding of findings) out(`finding: ${finding}`);
  printProblems(out, problems);
  return result.ok;
}

/** One row per peer of the shift check. */
function shiftTable(shifts: readonly ShiftResult[]): string {
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  return renderTable([
    [
      "peer",
      "reload path",
      "changes applied",
      "streams intact",
      "closed",
      "bytes lost",
      "MiB each way",
      "reload in force [ms]",
      "processes after",
    ],
    ...shifts.map((r) => [
      r.peer,
      r.reloadPath,
      `${r.changesApplied ?? "?"}/${r.changesWritten}`,
      `${r.completed}/${r.connections}`,
      String(r.closed),
      String(r.lostBytes),
      mib(r.verifiedBytes),
      r.reloadMs ? `${r.reloadMs.median.toFixed(0)} (max ${r.reloadMs.max.toFixed(0)})` : "–",
      `${r.processesAtEnd}${r.samePid === undefined ? "" : r.samePid ? " (same pid)" : " (restarted)"}`,
    ]),
  ]);
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: Error) => {
    killAllChildren();
    log(`bench failed: ${error.message}`);
    process.exit(1);
  },
);
