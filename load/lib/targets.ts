/**
 * The servers under test and the upstream behind them, each started in its
 * own process: the upstream on the load core, every proxy on the proxy core.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Machine } from "./machine.ts";
import { freePort, proxyConf, startNginx, upstreamConf } from "./nginx.ts";
import { type Child, repoRoot, type Workspace, waitForOutput } from "./processes.ts";
import { tableYaml } from "./route-table.ts";

export interface Upstream {
  /** "host:port" of the stable and the canary upstream (two ports of one server process). */
  stable: string;
  canary: string;
  kind: string;
  child: Child;
}

export type TargetKey = "direct" | "graygate" | "undici" | "http-proxy-3" | "nginx";

export interface Target {
  key: TargetKey;
  name: string;
  /** Origin to send the benchmark request to. */
  url: string;
  /** It decides between stable and canary (and says which in x-graygate-version). */
  routes: boolean;
  /** The server's process; undefined for direct (the upstream is not under test). */
  child: Child | undefined;
  /** Its access log, truncated between runs so the temp dir does not fill the disk. */
  accessLog: string | undefined;
  /** graygate's admin origin (for /metrics). */
  admin: string | undefined;
}

export const TARGET_NAMES: Record<TargetKey, string> = {
  direct: "direct to upstream",
  graygate: "graygate (50 routes, metrics, access log)",
  undici: "minimal undici proxy",
  "http-proxy-3": "http-proxy-3 (keep-alive agent)",
  nginx: "nginx (same rules)",
};

export async function startUpstream(workspace: Workspace, machine: Machine): Promise<Upstream> {
  if (machine.nginx !== undefined) {
    const ports = { stable: await freePort(), canary: await freePort() };
    const prefix = workspace.file("nginx-upstream");
    const { child } = await startNginx(workspace, {
      name: "nginx upstream",
      nginx: machine.nginx,
      prefix,
      conf: upstreamConf(prefix, workspace.fdLimit, ports),
      port: ports.stable,
      role: "load",
    });
    return {
      stable: `127.0.0.1:${ports.stable}`,
      canary: `127.0.0.1:${ports.canary}`,
      kind: `nginx ${machine.nginxVersion ?? ""} \`return 200\` (1 worker)`,
      child,
    };
  }
  const child = workspace.launch({
    name: "node upstream",
    command: process.execPath,
    args: ["load/servers/upstream.ts", "stable", "canary"],
    role: "load",
    stdoutFile: workspace.file("upstream.log"),
  });
  const stable = await waitForOutput(child, /^stable http:\/\/(\S+)$/m);
  const canary = await waitForOutput(child, /^canary http:\/\/(\S+)$/m);
  return { stable, canary, kind: "Node `load/servers/upstream.ts` (one process)", child };
}

export function directTarget(upstream: Upstream): Target {
  return {
    key: "direct",
    name: TARGET_NAMES.direct,
    url: `http://${upstream.stable}`,
    routes: false,
    child: undefined,
    accessLog: undefined,
    admin: undefined,
  };
}

/** graygate's bin: this checkout's, or BENCH_GRAYGATE_BIN (to measure another build). */
export function graygateBin(): string {
  return process.env.BENCH_GRAYGATE_BIN ?? join(repoRoot, "bin/graygate.js");
}

/** Which graygate a run measured: its bin, commit, and whether src/ had uncommitted changes. */
export function graygateRevision(): string {
  const bin = graygateBin();
  const tree = dirname(dirname(bin));
  const git = (...args: string[]) =>
    spawnSync("git", ["-C", tree, ...args], { encoding: "utf8" }).stdout?.trim() ?? "";
  const commit = git("rev-parse", "--short", "HEAD");
  const shown = bin.startsWith(repoRoot) ? relative(repoRoot, bin) : bin;
  if (commit === "") return `${shown} (not in a git checkout)`;
  const changed = git("status", "--porcelain", "--", "src", "bin") !== "";
  return `${shown} at ${commit}${changed ? ", with uncommitted changes in src/ or bin/" : ""}`;
}

export async function startGraygate(workspace: Workspace, upstream: Upstream): Promise<Target> {
  const config = workspace.file("graygate.yaml");
  writeFileSync(
    config,
    tableYaml({
      stable: `http://${upstream.stable}`,
      canary: `http://${upstream.canary}`,
      serve: true,
    }),
  );
  // stdout is the access log: to a file (not /dev/null), so it is really written.
  const log = workspace.file("graygate.log");
  const child = workspace.launch({
    name: "graygate",
    // process.execPath is Node 24, so bin/graygate.js runs in this process and
    // does not re-spawn itself: the pid is the server's (whose RSS we read).
    command: process.execPath,
    args: [graygateBin(), "serve", "-c", config],
    role: "proxy",
    stdoutFile: log,
    env: { GRAYGATE_LOG_LEVEL: "info" },
  });
  const url = await waitForOutput(child, /"proxy":"(http:\/\/[^"]+)"/);
  const admin = await waitForOutput(child, /"admin":"(http:\/\/[^"]+)"/);
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, "utf8");
  if (!cmdline.includes("serve")) throw new Error(`pid ${child.pid} is not graygate: ${cmdline}`);
  return {
    key: "graygate",
    name: TARGET_NAMES.graygate,
    url,
    routes: true,
    child,
    accessLog: log,
    admin,
  };
}

async function startNodeProxy(
  workspace: Workspace,
  upstream: Upstream,
  key: "undici" | "http-proxy-3",
  script: string,
): Promise<Target> {
  const child = workspace.launch({
    name: TARGET_NAMES[key],
    command: process.execPath,
    args: [script, `http://${upstream.stable}`],
    role: "proxy",
    stdoutFile: workspace.file(`${key}.log`),
  });
  const url = await waitForOutput(child, /^(http:\/\/\S+)$/m);
  return {
    key,
    name: TARGET_NAMES[key],
    url,
    routes: false,
    child,
    accessLog: undefined,
    admin: undefined,
  };
}

export const startMinimalUndici = (workspace: Workspace, upstream: Upstream) =>
  startNodeProxy(workspace, upstream, "undici", "load/servers/minimal-undici-proxy.ts");

export const startHttpProxy3 = (workspace: Workspace, upstream: Upstream) =>
  startNodeProxy(workspace, upstream, "http-proxy-3", "load/servers/http-proxy-3-proxy.ts");

export async function startNginxProxy(
  workspace: Workspace,
  machine: Machine,
  upstream: Upstream,
): Promise<Target> {
  if (machine.nginx === undefined) throw new Error("nginx is not installed");
  const port = await freePort();
  const prefix = workspace.file("nginx-proxy");
  const { child } = await startNginx(workspace, {
    name: TARGET_NAMES.nginx,
    nginx: machine.nginx,
    prefix,
    conf: proxyConf(prefix, workspace.fdLimit, port, upstream),
    port,
    role: "proxy",
  });
  return {
    key: "nginx",
    name: TARGET_NAMES.nginx,
    url: `http://127.0.0.1:${port}`,
    routes: true,
    child,
    accessLog: join(prefix, "access.log"),
    admin: undefined,
  };
}

export async function startTarget(
  key: TargetKey,
  workspace: Workspace,
  machine: Machine,
  upstream: Upstream,
): Promise<Target> {
  switch (key) {
    case "direct":
      return directTarget(upstream);
    case "graygate":
      return startGraygate(workspace, upstream);
    case "undici":
      return startMinimalUndici(workspace, upstream);
    case "http-proxy-3":
      return startHttpProxy3(workspace, upstream);
    case "nginx":
      return startNginxProxy(workspace, machine, upstream);
  }
}

/**
 * Empties a target's access log. Both graygate (stdout opened for append)
 * and nginx write with O_APPEND, so writing goes on at the new end.
 */
export function truncateAccessLog(target: Target): void {
  if (target.accessLog === undefined) return;
  try {
    truncateSync(target.accessLog, 0);
  } catch {
    // Not created yet (nginx creates it at start; graygate's is its stdout).
  }
}
