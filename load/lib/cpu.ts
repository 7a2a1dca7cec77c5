/**
 * How much CPU a server under test really had during a run, and how much of
 * its core went to anything else: on a shared machine this says whether a
 * figure was measured alone on the core or while other work ran there.
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND =
  Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** The process and its children (nginx: the master and its worker). */
function familyOf(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return [pid, ...(children === "" ? [] : children.split(/\s+/).map(Number))];
  } catch {
    return [pid];
  }
}

/** User + system CPU seconds of these processes. */
function processSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone: its time is lost, the figure reads low.
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Busy seconds of one CPU (everything but idle and iowait; steal counts as busy). */
function coreBusySeconds(cpu: number): number {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((candidate) => candidate.startsWith(`cpu${cpu} `));
  if (line === undefined) return Number.NaN;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user).
  const busy = values
    .slice(0, 8)
    .reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + value), 0);
  return busy / TICKS_PER_SECOND;
}

export interface CpuShare {
  /** The server's CPU time over the run's wall time, in % of one core. */
  serverPercent: number;
  /** Busy time of its core not spent by the server, in %. */
  othersPercent: number;
}

/** Starts measuring; the returned function ends the measurement. */
export function meterCpu(pid: number, cpu: number | undefined): () => CpuShare {
  const pids = familyOf(pid);
  const started = performance.now();
  const serverBefore = processSeconds(pids);
  const coreBefore = cpu === undefined ? Number.NaN : coreBusySeconds(cpu);
  return () => {
    const wall = (performance.now() - started) / 1000;
    const server = processSeconds(pids) - serverBefore;
    const core = cpu === undefined ? Number.NaN : coreBusySeconds(cpu) - coreBefore;
    return {
      serverPercent: (100 * server) / wall,
      othersPercent: Math.max(0, (100 * (core - server)) / wall),
    };
  };
}
