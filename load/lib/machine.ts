/** What this machine has: cores, taskset, wrk, nginx, and the versions the report names. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./processes.ts";
import type { Settings } from "./settings.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** Path of nginx, or undefined when absent. */
  nginx: string | undefined;
  nginxVersion: string | undefined;
  wrk: string | undefined;
  wrkVersion: string | undefined;
  autocannonVersion: string;
  taskset: boolean;
  loadAverage: string;
}

/** ok: the command could be run (whatever its exit status: `wrk -v` exits 1). */
function output(
  command: string,
  args: string[],
): { ok: boolean; status: number | null; text: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error !== undefined) return { ok: false, status: null, text: "" };
  return { ok: true, status: result.status, text: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** The first of these paths that runs. */
function findTool(candidates: string[], versionArgs: string[]): string | undefined {
  return candidates.find((candidate) => output(candidate, versionArgs).ok);
}

export function currentLoadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
}

export function inspectMachine(settings: Settings): Machine {
  const nginx = settings.noNginx ? undefined : findTool(["/usr/sbin/nginx", "nginx"], ["-v"]);
  const wrk = settings.noWrk ? undefined : findTool(["/usr/bin/wrk", "wrk"], ["-v"]);
  const autocannon = JSON.parse(
    readFileSync(join(repoRoot, "node_modules/autocannon/package.json"), "utf8"),
  ) as { version: string };
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    nginx,
    nginxVersion:
      nginx === undefined ? undefined : /nginx\/(\S+)/.exec(output(nginx, ["-v"]).text)?.[1],
    wrk,
    // wrk has no --version: -v prints "wrk VERSION [epoll] …" with its usage.
    wrkVersion: wrk === undefined ? undefined : /^wrk (\S+)/m.exec(output(wrk, ["-v"]).text)?.[1],
    autocannonVersion: autocannon.version,
    taskset: output("taskset", ["-c", "0", "true"]).status === 0,
    loadAverage: currentLoadAverage(),
  };
}
