/**
 * Reload figures (npm run bench:reload):
 * 1. write-to-applied latency: 20 in-place writes of a changed config; for
 *    each, the time from the write until the admin /config hash is the new
 *    file's (polled every 2 ms); p50 and p99.
 * 2. the 1,000-reload leak check: descriptors, heap and RSS of the graygate
 *    process after 200, 1,000 and 2,000 reloads (POST /-/reload alternating
 *    two configs with different upstream servers).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/graygate.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "graygate-reload-"));
const file = join(dir, "graygate.yaml");

const upstreams = await Promise.all(
  ["a", "b"].map(async (name) => {
    const server = createServer((_req, res) => res.end(name));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return server;
  }),
);
const port = (i: number) => ((upstreams[i % 2] as Server).address() as AddressInfo).port;
const config = (i: number) => `server: { listen: "127.0.0.1:0" }
admin: { listen: "127.0.0.1:0" }
log: { access: false }
upstreams: { up: { targets: ["http://127.0.0.1:${port(i)}"] } }
routes: [{ name: route-${i}, versions: { stable: up } }]
`;

writeFileSync(file, config(0));
const child = spawn(process.execPath, ["--max-old-space-size=64", bin, "serve", "-c", file], {
  stdio: ["ignore", "pipe", "inherit"],
});
let output = "";
const admin = await new Promise<string>((resolve) => {
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk;
    const found = /"admin":"([^"]+)"/.exec(output)?.[1];
    if (found !== undefined) resolve(found);
  });
});
const runningHash = async () =>
  ((await (await fetch(`${admin}/config`)).json()) as { hash: string }).hash;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const latencies: number[] = [];
for (let i = 1; i <= 20; i++) {
  const text = config(i);
  const start = performance.now();
  writeFileSync(file, text);
  const wanted = sha256(text);
  while ((await runningHash()) !== wanted) await new Promise((resolve) => setTimeout(resolve, 2));
  latencies.push(performance.now() - start);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
latencies.sort((a, b) => a - b);
const pick = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] as number;

const usage = async () => {
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1]) / 2 ** 20;
  const rss =
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]) / 1024;
  return { fds: readdirSync(`/proc/${child.pid}/fd`).length, heap, rss };
};
const rows: string[] = [];
for (let i = 0; i < 2000; i++) {
  writeFileSync(file, config(i));
  await (await fetch(`${admin}/-/reload`, { method: "POST" })).arrayBuffer();
  if (i + 1 === 200 || i + 1 === 1000 || i + 1 === 2000) {
    const u = await usage();
    rows.push(`| ${i + 1} | ${u.fds} | ${u.heap.toFixed(1)} | ${u.rss.toFixed(1)} |`);
  }
}

process.stdout.write(
  [
    `write-to-applied over 20 in-place writes: p50 ${pick(0.5).toFixed(0)} ms, p99 ${pick(0.99).toFixed(0)} ms (min ${latencies[0]?.toFixed(0)}, max ${latencies.at(-1)?.toFixed(0)})`,
    "",
    "| reloads | open fds | heap used MiB | RSS MiB |",
    "|---|---|---|---|",
    ...rows,
    "",
    `node ${process.version}; graygate run with --max-old-space-size=64`,
    "",
  ].join("\n"),
);
child.kill("SIGTERM");
await new Promise((resolve) => child.on("exit", resolve));
for (const server of upstreams) server.close();
rmSync(dir, { recursive: true, force: true });
