/** Markdown for the terminal and for load/RESULTS.md. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "./machine.ts";
import type { Placement } from "./processes.ts";
import { repoRoot } from "./processes.ts";

/** A Markdown table with padded columns (readable as plain text too). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export const integer = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
export const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : "–");
export const mib = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "–");
export const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");
export const signedMs = (value: number) =>
  Number.isFinite(value) ? `${value >= 0 ? "+" : ""}${value.toFixed(2)}` : "–";

export function machineLines(
  machine: Machine,
  placement: Placement,
  upstreamKind: string,
): string[] {
  const tools = [
    `Node ${machine.node}`,
    machine.nginx === undefined ? "nginx absent" : `nginx ${machine.nginxVersion ?? "?"}`,
    machine.wrk === undefined
      ? "wrk absent (autocannon instead)"
      : `wrk ${machine.wrkVersion ?? "?"}`,
    `autocannon ${machine.autocannonVersion}`,
  ];
  return [
    `- Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; ${tools.join(", ")}.`,
    placement.pinned
      ? `- Placement: the proxy under test alone on CPU ${placement.proxyCpu} (taskset); the upstream (${upstreamKind}) and the load generator on CPU ${placement.loadCpu}.`
      : `- Placement: not pinned (${machine.taskset ? "fewer than 2 cores" : "no taskset"}): everything shares the cores, so the figures understate every proxy. Upstream: ${upstreamKind}.`,
  ];
}

export const SECTION_HEADING = "## Proxy side by side (`npm run bench`)";

/**
 * Adds a dated run block to load/RESULTS.md at the end of the `npm run bench`
 * section (before the next section, if one was added after it), never
 * touching what is already there.
 */
export function recordResults(block: string): string {
  const file = join(repoRoot, "load/RESULTS.md");
  const text = readFileSync(file, "utf8");
  const at = text.indexOf(SECTION_HEADING);
  if (at < 0) {
    writeFileSync(file, `${text.trimEnd()}\n\n${SECTION_HEADING}\n\n${block.trim()}\n`);
    return file;
  }
  const next = text.indexOf("\n## ", at + SECTION_HEADING.length);
  const insertAt = next < 0 ? text.length : next + 1;
  const before = text.slice(0, insertAt).trimEnd();
  const after = text.slice(insertAt);
  writeFileSync(file, `${before}\n\n${block.trim()}\n${after.length > 0 ? `\n${after}` : ""}`);
  return file;
}
