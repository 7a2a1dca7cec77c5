/**
 * Closed-loop throughput: a warm-up per target, then rounds in which every
 * target is loaded in turn (interleaved, so a noisy minute on a shared
 * machine hits all targets rather than one), and the median of the rounds.
 */
import { type CpuShare, meterCpu } from "./cpu.ts";
import type { ClosedLoopResult, LoadGenerator } from "./load.ts";
import type { Placement } from "./processes.ts";
import { integer, ms, ratio, table } from "./report.ts";
import { versionsInLogTail } from "./routing-check.ts";
import type { Settings } from "./settings.ts";
import { median } from "./stats.ts";
import { type Target, truncateAccessLog } from "./targets.ts";

export interface ThroughputRow {
  target: Target;
  runs: ClosedLoopResult[];
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Versions in the access log's tail after each run (graygate, nginx). */
  versions: Record<string, number>;
  /** Per run: the server's CPU and the rest of its core's (undefined for direct). */
  cpu: (CpuShare | undefined)[];
}

/** Meters a target's server for the length of one run (nothing for direct). */
export function cpuMeterFor(target: Target, placement: Placement): () => CpuShare | undefined {
  if (target.child === undefined) return () => undefined;
  return meterCpu(target.child.pid, placement.pinned ? placement.proxyCpu : undefined);
}

const percent = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? "–" : `${Math.round(value)} %`;

const log = (text: string) => process.stdout.write(`${text}\n`);

export async function measureThroughput(
  targets: Target[],
  load: LoadGenerator,
  settings: Settings,
  placement: Placement,
): Promise<ThroughputRow[]> {
  for (const target of targets) {
    log(`  warm-up ${target.name} (${settings.warmupSeconds} s)`);
    await load.closedLoop(target.url, settings.warmupSeconds, settings.connections);
    truncateAccessLog(target);
  }
  const runs = new Map<Target, ClosedLoopResult[]>(targets.map((target) => [target, []]));
  const versions = new Map<Target, Record<string, number>>(targets.map((target) => [target, {}]));
  const cpu = new Map<Target, (CpuShare | undefined)[]>(targets.map((target) => [target, []]));
  for (let round = 1; round <= settings.runs; round++) {
    for (const target of targets) {
      const stopMeter = cpuMeterFor(target, placement);
      const result = await load.closedLoop(target.url, settings.seconds, settings.connections);
      const share = stopMeter();
      runs.get(target)?.push(result);
      cpu.get(target)?.push(share);
      if (target.accessLog !== undefined) {
        const tally = versions.get(target) as Record<string, number>;
        for (const [version, n] of Object.entries(versionsInLogTail(target.accessLog))) {
          tally[version] = (tally[version] ?? 0) + n;
        }
      }
      truncateAccessLog(target);
      log(
        `  round ${round}/${settings.runs} ${target.name}: ${integer(result.rps)} req/s, p50 ${ms(result.p50)} ms, p99 ${ms(result.p99)} ms, errors ${result.errors}, non-2xx ${result.non2xx}${share === undefined ? "" : `, server CPU ${percent(share.serverPercent)}, others on its core ${percent(share.othersPercent)}`}`,
      );
    }
  }
  return targets.map((target) => {
    const results = runs.get(target) as ClosedLoopResult[];
    return {
      target,
      runs: results,
      rps: median(results.map((r) => r.rps)),
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
      versions: versions.get(target) as Record<string, number>,
      cpu: cpu.get(target) as (CpuShare | undefined)[],
    };
  });
}

export function throughputTable(rows: ThroughputRow[]): string {
  const undici = rows.find((row) => row.target.key === "undici");
  const nginx = rows.find((row) => row.target.key === "nginx");
  return table(
    [
      "target",
      "req/s",
      "p50 ms",
      "p99 ms",
      "errors / non-2xx",
      "vs minimal undici",
      "vs nginx",
      "runs (req/s)",
      "server CPU",
      "others on its core (runs)",
    ],
    rows.map((row) => [
      row.target.name,
      integer(row.rps),
      ms(row.p50),
      ms(row.p99),
      `${row.errors} / ${row.non2xx}`,
      undici === undefined ? "–" : ratio(row.rps / undici.rps),
      nginx === undefined ? "–" : ratio(row.rps / nginx.rps),
      row.runs.map((run) => integer(run.rps)).join(", "),
      percent(
        median(row.cpu.flatMap((share) => (share === undefined ? [] : [share.serverPercent]))),
      ),
      row.cpu.some((share) => share !== undefined)
        ? `${row.cpu.map((share) => Math.round(share?.othersPercent ?? Number.NaN)).join(", ")} %`
        : "–",
    ]),
  );
}
