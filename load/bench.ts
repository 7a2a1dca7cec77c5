/**
 * `npm run bench`: graygate side by side with direct, a minimal undici
 * proxy, http-proxy-3 and nginx given the same rules, in one run:
 * 1. throughput, closed loop (wrk, else autocannon), medians of interleaved rounds;
 * 2. latency at 50 % and 75 % of graygate's maximum, open loop (load/open-loop.ts);
 * 3. RSS with 1,000 concurrent keep-alive clients (fresh graygate, then the minimal proxy).
 * Prints the tables and appends them to load/RESULTS.md (BENCH_RECORD=0: not).
 * Settings: load/README.md. `--quick` (or BENCH_QUICK=1) for a short trial.
 */
import { latencyTable, measureLatency } from "./lib/latency.ts";
import { LoadGenerator } from "./lib/load.ts";
import { currentLoadAverage, inspectMachine, type Machine } from "./lib/machine.ts";
import { type MemoryRow, measureMemory, memoryTable } from "./lib/memory-run.ts";
import { type Placement, Workspace } from "./lib/processes.ts";
import { integer, machineLines, recordResults } from "./lib/report.ts";
import { benchRequest, LOADED_ROUTE_INDEX, ROUTE_COUNT } from "./lib/route-table.ts";
import { checkRouting } from "./lib/routing-check.ts";
import { compareRules, RULE_CASES } from "./lib/rules-check.ts";
import { readSettings, type Settings } from "./lib/settings.ts";
import {
  graygateRevision,
  startTarget,
  startUpstream,
  TARGET_NAMES,
  type Target,
  type TargetKey,
} from "./lib/targets.ts";
import { measureThroughput, throughputTable } from "./lib/throughput.ts";
import { targetVerdicts } from "./lib/verdicts.ts";

const log = (text = "") => process.stdout.write(`${text}\n`);

function chooseTargets(settings: Settings, machine: Machine): TargetKey[] {
  const all: TargetKey[] = ["direct", "graygate", "undici", "http-proxy-3"];
  if (machine.nginx !== undefined) all.push("nginx");
  if (settings.targets === undefined) return all;
  const wanted = settings.targets;
  const unknown = wanted.filter((key) => !(key in TARGET_NAMES));
  if (unknown.length > 0) throw new Error(`BENCH_TARGETS: unknown ${unknown.join(", ")}`);
  // Direct is the baseline of every "added" figure: always measured.
  return all.filter((key) => key === "direct" || wanted.includes(key));
}

async function main(workspace: Workspace, settings: Settings, machine: Machine): Promise<void> {
  const startedAt = new Date();
  const loadAverageBefore = machine.loadAverage;
  const request = benchRequest();
  const load = new LoadGenerator(workspace, machine, request);
  const upstream = await startUpstream(workspace, machine);
  const header = machineLines(machine, workspace.placement, upstream.kind);
  for (const line of header) log(line);

  const keys = chooseTargets(settings, machine);
  // Every proxy is started now and stays up, idle, while the others are
  // loaded: an idle server takes no CPU, and interleaved rounds need them all.
  const targets: Target[] = [];
  for (const key of keys) targets.push(await startTarget(key, workspace, machine, upstream));
  log(`- Started together, loaded one at a time: ${targets.map((t) => t.name).join("; ")}.`);

  log("\nRouting check (400 requests each, a new x-user-id per request):");
  const checks: string[] = [];
  for (const target of targets) {
    const check = await checkRouting(target, request);
    const rules =
      check.rules === undefined ? "" : `; decisions of the route: ${JSON.stringify(check.rules)}`;
    const line = `- ${target.name}: ${JSON.stringify(check.statuses)}, versions ${JSON.stringify(check.versions)}${rules}`;
    log(line);
    checks.push(line);
    if (check.problems.length > 0) throw new Error(`${target.name}: ${check.problems.join("; ")}`);
  }
  const graygateTarget = targets.find((target) => target.key === "graygate");
  const nginxTarget = targets.find((target) => target.key === "nginx");
  if (graygateTarget !== undefined && nginxTarget !== undefined) {
    const differences = await compareRules(graygateTarget, nginxTarget);
    const line =
      differences.length === 0
        ? `- nginx's rules against graygate's: the same route, rule and version on all ${RULE_CASES} crafted requests (those a hash decides aside).`
        : `- nginx's rules against graygate's: DIFFERENT on ${differences.length} of ${RULE_CASES} crafted requests: ${differences.join("; ")}.`;
    log(line);
    checks.push(line);
  }

  log(
    `\nThroughput (${load.closedLoopTool}, 1 thread, ${settings.connections} connections; ${settings.runs} rounds × ${settings.seconds} s):`,
  );
  const throughput = await measureThroughput(targets, load, settings, workspace.placement);

  log("\nLatency (open loop):");
  const latency = await measureLatency(throughput, load, settings, workspace.placement);

  log(`\nMemory (${integer(settings.memoryClients)} clients):`);
  for (const target of targets) if (target.child !== undefined) await workspace.stop(target.child);
  const memory: MemoryRow[] = [];
  for (const key of ["graygate", "undici"] as const) {
    if (!keys.includes(key)) continue;
    const row = await measureMemory(
      () => startTarget(key, workspace, machine, upstream),
      workspace,
      load,
      settings,
    );
    log(
      `  ${row.target.name}: idle ${row.idleMiB.toFixed(1)} MiB, max ${row.maxMiB.toFixed(1)} MiB`,
    );
    memory.push(row);
  }

  const graygateVersions = throughput.find((row) => row.target.key === "graygate")?.versions;
  const nginxVersions = throughput.find((row) => row.target.key === "nginx")?.versions;
  const route = `route ${LOADED_ROUTE_INDEX + 1} of ${ROUTE_COUNT}`;
  const block = [
    `### Run ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC${settings.quick ? " (quick mode)" : ""}`,
    "",
    ...header,
    `- Load average (1, 5, 15 min) at the start: ${loadAverageBefore}; at the end: ${currentLoadAverage()}.`,
    `- graygate: ${graygateRevision()}.`,
    `- Request: \`GET ${request.path}\`, Host \`${request.host}\` (${route}), a new \`x-user-id\` per request.`,
    "",
    "Routing check:",
    "",
    ...checks,
    "",
    `**Throughput**, closed loop: ${load.closedLoopTool}, 1 thread, ${settings.connections} connections; ${settings.warmupSeconds} s warm-up per target, then ${settings.runs} interleaved rounds × ${settings.seconds} s; medians (p50/p99 are the saturated clients' latencies).`,
    "",
    throughputTable(throughput),
    "",
    `Versions in the access logs' tails: graygate ${JSON.stringify(graygateVersions ?? {})}, nginx ${JSON.stringify(nginxVersions ?? {})}.`,
    "",
    `**Latency** at fixed rates (${settings.latencyLoads.map((l) => `${l * 100} %`).join(", ")} of graygate's median req/s), open loop (\`load/open-loop.ts\`), ${settings.latencyConnections} keep-alive connections, ${settings.latencyWarmupSeconds} s warm-up + ${settings.latencySeconds} s per rate and target; latency from each request's scheduled send time; added = target − direct at the same rate.`,
    "",
    latencyTable(latency),
    "",
    `**Memory**: a fresh process, warmed up, then ${integer(settings.memoryClients)} concurrent keep-alive clients (closed loop) for ${settings.memorySeconds} s; RSS from /proc/PID/status, sampled every second.`,
    "",
    memoryTable(memory),
    "",
    "Targets (for reference):",
    "",
    ...targetVerdicts(throughput, latency, memory),
    "",
    "Commands:",
    "",
    "```",
    ...[...new Set(workspace.commands)],
    "```",
  ].join("\n");
  log(`\n${block}\n`);
  if (settings.record) log(`Recorded in ${recordResults(block)}`);
  else log("Not recorded (BENCH_RECORD=0 or quick mode).");
}

const settings = readSettings();
const machine = inspectMachine(settings);
const placement: Placement = {
  pinned: machine.taskset && machine.cores >= 2,
  proxyCpu: settings.proxyCpu,
  loadCpu: settings.loadCpu,
};
const workspace = new Workspace(placement);
try {
  await main(workspace, settings, machine);
} catch (error) {
  // Interrupted: the error is a child we stopped, not a failure to report.
  if (!workspace.closing)
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  process.exitCode = 1;
} finally {
  await workspace.close();
}
