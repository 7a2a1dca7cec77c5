/**
 * Memory under many clients: a fresh server, warmed up, then held by
 * `clients` concurrent keep-alive connections under full load; RSS (from
 * /proc) before, every second during, at the end and a few seconds after.
 */
import type { LoadGenerator } from "./load.ts";
import { readMemory, sampleMemory } from "./memory.ts";
import { sleep, type Workspace } from "./processes.ts";
import { integer, mib, table } from "./report.ts";
import type { Settings } from "./settings.ts";
import { type Target, truncateAccessLog } from "./targets.ts";

export interface MemoryRow {
  target: Target;
  clients: number;
  idleMiB: number;
  maxMiB: number;
  endMiB: number;
  afterMiB: number;
  hwmMiB: number;
  rps: number;
  errors: number;
  errorKinds: string;
}

const AFTER_SECONDS = 5;

export async function measureMemory(
  start: () => Promise<Target>,
  workspace: Workspace,
  load: LoadGenerator,
  settings: Settings,
): Promise<MemoryRow> {
  const target = await start();
  const child = target.child;
  if (child === undefined) throw new Error(`${target.name}: no process to measure`);
  try {
    await load.closedLoop(target.url, settings.warmupSeconds, settings.connections);
    truncateAccessLog(target);
    await sleep(1000);
    const idle = readMemory(child.pid);
    const stopSampling = sampleMemory(child.pid, 1000);
    const result = await load.closedLoop(
      target.url,
      settings.memorySeconds,
      settings.memoryClients,
    );
    const samples = stopSampling();
    const end = readMemory(child.pid);
    await sleep(AFTER_SECONDS * 1000);
    const after = readMemory(child.pid);
    truncateAccessLog(target);
    return {
      target,
      clients: settings.memoryClients,
      idleMiB: idle.rssMiB,
      maxMiB: Math.max(...samples.map((sample) => sample.rssMiB)),
      endMiB: end.rssMiB,
      afterMiB: after.rssMiB,
      hwmMiB: after.hwmMiB,
      rps: result.rps,
      errors: result.errors + result.non2xx,
      errorKinds: [result.errorKinds, result.non2xx > 0 ? `non-2xx ${result.non2xx}` : ""]
        .filter((part) => part !== "")
        .join(", "),
    };
  } finally {
    await workspace.stop(child);
  }
}

export function memoryTable(rows: MemoryRow[]): string {
  return table(
    [
      "target",
      "clients",
      "RSS idle MiB",
      `RSS max under load`,
      "RSS end of load",
      `RSS ${AFTER_SECONDS} s after`,
      "VmHWM",
      "req/s",
      "errors",
    ],
    rows.map((row) => [
      row.target.name,
      integer(row.clients),
      mib(row.idleMiB),
      mib(row.maxMiB),
      mib(row.endMiB),
      mib(row.afterMiB),
      mib(row.hwmMiB),
      integer(row.rps),
      row.errors === 0 ? "0" : `${row.errors} (${row.errorKinds})`,
    ]),
  );
}
