/**
 * `npm run bench:soak`: graygate (the benchmark table, metrics and access log
 * on) under steady full load from BENCH_SOAK_CLIENTS (1,000) concurrent
 * keep-alive clients for BENCH_SOAK_MINUTES (10); every
 * BENCH_SOAK_SAMPLE_SECONDS (30) its RSS, peak RSS, V8 heap in use, open
 * descriptors and request rate. Reports first, last, max and the slope of
 * RSS (least squares, whole run and second half): flat means no growth.
 * Appends to load/RESULTS.md unless BENCH_RECORD=0.
 */
import { readdirSync } from "node:fs";
import { LoadGenerator } from "./lib/load.ts";
import { currentLoadAverage, inspectMachine, type Machine } from "./lib/machine.ts";
import { readMemory } from "./lib/memory.ts";
import { type Placement, sleep, Workspace } from "./lib/processes.ts";
import { integer, machineLines, mib, recordResults, table } from "./lib/report.ts";
import { benchRequest } from "./lib/route-table.ts";
import { readSettings, type Settings } from "./lib/settings.ts";
import { slope } from "./lib/stats.ts";
import {
  graygateRevision,
  startGraygate,
  startUpstream,
  type Target,
  truncateAccessLog,
} from "./lib/targets.ts";

const log = (text = "") => process.stdout.write(`${text}\n`);

interface Sample {
  minutes: number;
  rssMiB: number;
  hwmMiB: number;
  heapMiB: number;
  fds: number;
  rps: number;
}

/** Heap in use and requests served so far, from graygate's /metrics. */
async function scrape(target: Target): Promise<{ heapMiB: number; requests: number }> {
  const text = await (await fetch(`${target.admin}/metrics`)).text();
  let requests = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("graygate_requests_total{")) requests += Number(line.split(" ").at(-1));
  }
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1]);
  return { heapMiB: heap / 2 ** 20, requests };
}

async function main(workspace: Workspace, settings: Settings, machine: Machine): Promise<void> {
  const startedAt = new Date();
  const request = benchRequest();
  const load = new LoadGenerator(workspace, machine, request);
  const upstream = await startUpstream(workspace, machine);
  const header = machineLines(machine, workspace.placement, upstream.kind);
  for (const line of header) log(line);
  const graygate = await startGraygate(workspace, upstream);
  const pid = graygate.child?.pid as number;

  log(`warm-up (${settings.warmupSeconds} s, ${settings.connections} connections)`);
  await load.closedLoop(graygate.url, settings.warmupSeconds, settings.connections);
  truncateAccessLog(graygate);
  const idle = readMemory(pid);

  const seconds = Math.round(settings.soakMinutes * 60);
  log(
    `soak: ${settings.soakClients} clients for ${settings.soakMinutes} min, a sample every ${settings.soakSampleSeconds} s`,
  );
  const started = performance.now();
  const sampleCount = Math.max(1, Math.floor(seconds / settings.soakSampleSeconds));
  // The load outlasts the last sample by a few seconds, so every sample is taken under load.
  const running = load.closedLoop(graygate.url, seconds + 3, settings.soakClients);
  let finished = false;
  void running.finally(() => {
    finished = true;
  });
  const samples: Sample[] = [];
  let last = { at: started, requests: (await scrape(graygate)).requests };
  while (!finished && samples.length < sampleCount) {
    const nextAt = started + (samples.length + 1) * settings.soakSampleSeconds * 1000;
    while (!finished && performance.now() < nextAt)
      await sleep(Math.min(250, nextAt - performance.now()));
    if (finished) break;
    const memory = readMemory(pid);
    const scraped = await scrape(graygate);
    const now = performance.now();
    const sample: Sample = {
      minutes: (now - started) / 60_000,
      rssMiB: memory.rssMiB,
      hwmMiB: memory.hwmMiB,
      heapMiB: scraped.heapMiB,
      fds: readdirSync(`/proc/${pid}/fd`).length,
      rps: ((scraped.requests - last.requests) * 1000) / (now - last.at),
    };
    last = { at: now, requests: scraped.requests };
    samples.push(sample);
    // The access log grows by ~250 bytes a request: keep the temp dir small.
    truncateAccessLog(graygate);
    log(
      `  ${sample.minutes.toFixed(1)} min: RSS ${mib(sample.rssMiB)} MiB, heap ${mib(sample.heapMiB)} MiB, ${sample.fds} fds, ${integer(sample.rps)} req/s`,
    );
  }
  const result = await running;
  await sleep(5000);
  const after = readMemory(pid);

  const rss = samples.map((sample) => ({ x: sample.minutes, y: sample.rssMiB }));
  const secondHalf = rss.slice(Math.floor(rss.length / 2));
  const wholeSlope = slope(rss);
  const lateSlope = slope(secondHalf);
  const first = samples[0];
  const lastSample = samples.at(-1);
  const max = Math.max(...samples.map((sample) => sample.rssMiB));
  // A leak shows as a steady rise late in the run, after the heap and the
  // allocator's arenas have reached their working size.
  const flat = Number.isFinite(lateSlope) && lateSlope * settings.soakMinutes <= 5;
  const block = [
    `### Soak ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC (\`npm run bench:soak\`)`,
    "",
    ...header,
    `- Load average at the start: ${machine.loadAverage}; at the end: ${currentLoadAverage()}.`,
    `- graygate: ${graygateRevision()}.`,
    `- graygate with the benchmark table (metrics, access log on), fresh, ${settings.warmupSeconds} s warm-up, then ${load.closedLoopTool} with ${settings.soakClients} concurrent keep-alive clients for ${settings.soakMinutes} min (${integer(result.rps)} req/s on average, ${result.errors} errors${result.errorKinds === "" ? "" : ` (${result.errorKinds})`}, ${result.non2xx} non-2xx); a sample every ${settings.soakSampleSeconds} s.`,
    "",
    table(
      ["minute", "RSS MiB", "VmHWM MiB", "heap used MiB", "open fds", "req/s (interval)"],
      samples.map((sample) => [
        sample.minutes.toFixed(1),
        mib(sample.rssMiB),
        mib(sample.hwmMiB),
        mib(sample.heapMiB),
        String(sample.fds),
        integer(sample.rps),
      ]),
    ),
    "",
    `RSS idle before: ${mib(idle.rssMiB)} MiB; first sample ${mib(first?.rssMiB ?? Number.NaN)}, last ${mib(lastSample?.rssMiB ?? Number.NaN)}, max ${mib(max)} MiB; 5 s after the load: ${mib(after.rssMiB)} MiB (VmHWM ${mib(after.hwmMiB)}).`,
    `Slope of RSS: ${wholeSlope.toFixed(2)} MiB/min over the run, ${lateSlope.toFixed(2)} MiB/min over its second half: ${flat ? "flat" : "GROWING"} (flat: the second half's slope × the run's minutes ≤ 5 MiB).`,
    "",
    "Commands:",
    "",
    "```",
    ...[...new Set(workspace.commands)],
    "```",
  ].join("\n");
  log(`\n${block}\n`);
  if (settings.record) log(`Recorded in ${recordResults(block)}`);
  else log("Not recorded (BENCH_RECORD=0).");
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
      `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  process.exitCode = 1;
} finally {
  await workspace.close();
}
