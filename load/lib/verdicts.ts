/** The targets, checked against a run's figures (for reference: they are not tests). */
import type { LatencyRow } from "./latency.ts";
import type { MemoryRow } from "./memory-run.ts";
import type { ThroughputRow } from "./throughput.ts";

const MB = 1e6 / 2 ** 20; // MiB per MB

function verdict(label: string, value: string, met: boolean | undefined): string {
  const state = met === undefined ? "not measured" : met ? "met" : "NOT met";
  return `- ${label}: ${value} (${state})`;
}

export function targetVerdicts(
  throughput: ThroughputRow[],
  latency: LatencyRow[],
  memory: MemoryRow[],
): string[] {
  const rps = (key: string) => throughput.find((row) => row.target.key === key)?.rps;
  const graygate = rps("graygate");
  const undici = rps("undici");
  const nginx = rps("nginx");
  const lines: string[] = [];
  const vsUndici = graygate !== undefined && undici !== undefined ? graygate / undici : undefined;
  lines.push(
    verdict(
      "throughput ≥ 1.0× the minimal undici proxy",
      vsUndici === undefined ? "–" : `${vsUndici.toFixed(2)}×`,
      vsUndici === undefined ? undefined : vsUndici >= 1,
    ),
  );
  const vsNginx = graygate !== undefined && nginx !== undefined ? graygate / nginx : undefined;
  lines.push(
    verdict(
      "throughput ≥ 0.33× nginx with the same rules",
      vsNginx === undefined ? "–" : `${vsNginx.toFixed(2)}×`,
      vsNginx === undefined ? undefined : vsNginx >= 0.33,
    ),
  );
  const half = latency.filter((row) => row.load === 0.5);
  const gg = half.find((row) => row.target.key === "graygate")?.result;
  const direct = half.find((row) => row.target.key === "direct")?.result;
  const added = gg !== undefined && direct !== undefined ? gg.p99 - direct.p99 : undefined;
  lines.push(
    verdict(
      "p99 added latency at 50 % load ≤ 1 ms over direct",
      added === undefined ? "–" : `${added >= 0 ? "+" : ""}${added.toFixed(2)} ms`,
      added === undefined ? undefined : added <= 1,
    ),
  );
  const rss = memory.find((row) => row.target.key === "graygate");
  lines.push(
    verdict(
      `RSS ≤ 150 MB (${(150 * MB).toFixed(0)} MiB) at ${(rss?.clients ?? 1000).toLocaleString("en-US")} concurrent clients`,
      rss === undefined ? "–" : `max ${rss.maxMiB.toFixed(1)} MiB`,
      rss === undefined ? undefined : rss.maxMiB <= 150 * MB,
    ),
  );
  lines.push("- flat over 10 minutes: `npm run bench:soak` (not part of this run)");
  return lines;
}
