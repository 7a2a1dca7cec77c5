/**
 * Proxy throughput and latency, side by side in one run: direct to the
 * upstream, a minimal undici proxy, and graygate (rules, metrics and access
 * log on). `npm run bench:proxy`. Each proxy runs in its own process, pinned
 * to core 0 when taskset exists; the upstream and the load generator share
 * core 1. Load: autocannon, 50 connections, a warm-up, then BENCH_SECONDS.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const root = fileURLToPath(new URL("..", import.meta.url));
const node = process.execPath;
const work = mkdtempSync(join(tmpdir(), "graygate-bench-"));
const children: ChildProcess[] = [];

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
}
const pin = hasTaskset();

function start(core: number, args: string[], logFile: string): ChildProcess {
  const command = pin ? "taskset" : node;
  const argv = pin ? ["-c", String(core), node, ...args] : args;
  const out = openSync(logFile, "w");
  const child = spawn(command, argv, { stdio: ["ignore", out, "inherit"], cwd: root });
  children.push(child);
  return child;
}

/** Waits for a URL in the child's output file: a bare line, or graygate's "proxy" field. */
async function urlFrom(logFile: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const text = readFileSync(logFile, "utf8");
    const json = /"proxy":"(http:\/\/[^"]+)"/.exec(text);
    if (json !== null) return json[1] as string;
    const bare = /^(http:\/\/\S+)$/m.exec(text);
    if (bare !== null) return bare[1] as string;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no URL in ${logFile}`);
}

interface Result {
  name: string;
  requests: number;
  p50: number;
  p99: number;
  errors: number;
}

function autocannon(url: string, seconds: number): Omit<Result, "name"> {
  const bin = join(root, "node_modules", "autocannon", "autocannon.js");
  const args = [
    bin,
    "-c",
    String(CONNECTIONS),
    "-d",
    String(seconds),
    "-j",
    "-H",
    "x-user-id: user-42",
    "-H",
    "accept: application/json",
    `${url}/v1/orders/17?page=2`,
  ];
  const out = execFileSync(pin ? "taskset" : node, pin ? ["-c", "1", node, ...args] : args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const report = JSON.parse(out) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    errors: number;
    non2xx: number;
  };
  return {
    requests: report.requests.average,
    p50: report.latency.p50,
    p99: report.latency.p99,
    errors: report.errors + report.non2xx,
  };
}

function graygateConfig(upstream: string): string {
  return `server: { listen: "127.0.0.1:0", trustedProxies: [10.0.0.0/8] }
admin: { listen: "127.0.0.1:0" }
log: { level: info, access: true }
upstreams:
  orders-v1: { targets: ["${upstream}"] }
  orders-v2: { targets: ["${upstream}"] }
features:
  new-checkout: { when: { hash: { key: header:x-user-id, percent: 20 } } }
routes:
  - name: orders
    match: { path: { prefix: /v1/orders }, method: [GET, POST] }
    versions: { stable: orders-v1, canary: orders-v2 }
    rules:
      - { name: qa-force, when: { header: { x-canary: always } }, to: canary }
      - { name: opt-out, when: { cookie: { canary: never } }, to: stable }
      - { name: partners, when: { query: { app_key: [k-123, k-456] } }, to: canary }
      - { name: sticky, when: { hash: { key: [header:x-user-id, cookie:uid], percent: 10 } }, to: canary }
  - name: rest
    versions: { stable: orders-v1 }
`;
}

async function main(): Promise<void> {
  const upstreamLog = join(work, "upstream.log");
  start(1, ["load/servers/upstream.ts"], upstreamLog);
  const upstream = await urlFrom(upstreamLog);

  const configFile = join(work, "graygate.yaml");
  writeFileSync(configFile, graygateConfig(upstream));
  const targets: [string, string][] = [["direct", upstream]];
  const minimalLog = join(work, "minimal.log");
  start(0, ["load/servers/minimal-undici-proxy.ts", upstream], minimalLog);
  targets.push(["minimal undici proxy", await urlFrom(minimalLog)]);
  const graygateLog = join(work, "graygate.log");
  start(0, ["bin/graygate.js", "serve", "-c", configFile], graygateLog);
  targets.push(["graygate (rules, metrics, access log)", await urlFrom(graygateLog)]);

  const results: Result[] = [];
  for (const [name, url] of targets) {
    autocannon(url, 3); // warm-up
    results.push({ name, ...autocannon(url, SECONDS) });
  }
  const minimal = results[1] as Result;
  const lines = [
    `| target | req/s | p50 ms | p99 ms | errors | vs minimal undici |`,
    "|---|---|---|---|---|---|",
    ...results.map(
      (r) =>
        `| ${r.name} | ${Math.round(r.requests)} | ${r.p50} | ${r.p99} | ${r.errors} | ${(r.requests / minimal.requests).toFixed(2)}× |`,
    ),
  ];
  process.stdout.write(
    [
      `${cpus()[0]?.model ?? "cpu"} × ${cpus().length}, node ${process.version}, ${pin ? "proxy pinned to core 0, upstream and autocannon on core 1" : "no taskset: not pinned"}`,
      `autocannon -c ${CONNECTIONS} -d ${SECONDS} (after a 3 s warm-up), GET /v1/orders/17?page=2 with x-user-id`,
      "",
      ...lines,
      "",
    ].join("\n"),
  );
}

try {
  await main();
} finally {
  for (const child of children) child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
