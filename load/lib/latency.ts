/**
 * Latency at fixed rates: fractions of graygate's maximum, open loop, the
 * same rate against direct and each proxy that can carry it. "Added" is the
 * proxy's figure minus direct's at the same rate.
 */
import type { CpuShare } from "./cpu.ts";
import type { LoadGenerator, OpenLoopResult } from "./load.ts";
import type { Placement } from "./processes.ts";
import { integer, ms, signedMs, table } from "./report.ts";
import type { Settings } from "./settings.ts";
import { type Target, truncateAccessLog } from "./targets.ts";
import { cpuMeterFor, type ThroughputRow } from "./throughput.ts";

export interface LatencyRow {
  load: number;
  rate: number;
  target: Target;
  /** Undefined when the target's maximum is below the rate (it would only queue). */
  result: OpenLoopResult | undefined;
  maxRps: number;
  cpu: CpuShare | undefined;
}

const log = (text: string) => process.stdout.write(`${text}\n`);

/** A target is loaded at a rate only if its closed-loop maximum is comfortably above it. */
const HEADROOM = 1.1;

export async function measureLatency(
  throughput: ThroughputRow[],
  load: LoadGenerator,
  settings: Settings,
  placement: Placement,
): Promise<LatencyRow[]> {
  const graygate = throughput.find((row) => row.target.key === "graygate");
  if (graygate === undefined) return [];
  const rows: LatencyRow[] = [];
  for (const fraction of settings.latencyLoads) {
    const rate = Math.round(graygate.rps * fraction);
    for (const { target, rps } of throughput) {
      if (rps < rate * HEADROOM && target.key !== "graygate") {
        rows.push({ load: fraction, rate, target, result: undefined, maxRps: rps, cpu: undefined });
        log(
          `  ${Math.round(fraction * 100)} % (${integer(rate)} req/s) ${target.name}: skipped, its max is ${integer(rps)}`,
        );
        continue;
      }
      const stopMeter = cpuMeterFor(target, placement);
      const result = await load.openLoop(target.url, {
        rate,
        seconds: settings.latencySeconds,
        warmup: settings.latencyWarmupSeconds,
        connections: settings.latencyConnections,
      });
      const cpu = stopMeter();
      truncateAccessLog(target);
      rows.push({ load: fraction, rate, target, result, maxRps: rps, cpu });
      log(
        `  ${Math.round(fraction * 100)} % (${integer(rate)} req/s) ${target.name}: achieved ${integer(result.achievedRate)}, p50 ${ms(result.p50)} ms, p99 ${ms(result.p99)} ms, p99.9 ${ms(result.p999)} ms`,
      );
    }
  }
  return rows;
}

export function latencyTable(rows: LatencyRow[]): string {
  return table(
    [
      "load",
      "rate req/s",
      "target",
      "achieved",
      "p50 ms",
      "p99 ms",
      "p99.9 ms",
      "max ms",
      "added p50",
      "added p99",
      "errors / non-2xx",
      "others on its core",
    ],
    rows.map((row) => {
      const direct = rows.find((other) => other.rate === row.rate && other.target.key === "direct");
      const r = row.result;
      if (r === undefined) {
        return [
          `${Math.round(row.load * 100)} %`,
          integer(row.rate),
          row.target.name,
          `not run: max ${integer(row.maxRps)}`,
          "",
          "",
          "",
          "",
          "",
          "",
          "",
        ];
      }
      const base = direct?.result;
      const added = (pick: (result: OpenLoopResult) => number) =>
        base === undefined || row.target.key === "direct" ? "" : signedMs(pick(r) - pick(base));
      return [
        `${Math.round(row.load * 100)} %`,
        integer(row.rate),
        row.target.name,
        integer(r.achievedRate),
        ms(r.p50),
        ms(r.p99),
        ms(r.p999),
        ms(r.max),
        added((x) => x.p50),
        added((x) => x.p99),
        `${r.errors + r.unanswered} / ${r.non2xx}`,
        row.cpu === undefined || !Number.isFinite(row.cpu.othersPercent)
          ? "–"
          : `${Math.round(row.cpu.othersPercent)} %`,
      ];
    }),
  );
}
