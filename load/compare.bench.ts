/**
 * CPU time per request of two graygate builds, in paired rounds: both serve
 * the bench's 50-route table (load/lib/route-table.ts) on CPU 0, and wrk
 * loads each in turn from CPU 1 against a Node upstream in this process.
 * CPU time per request (the server's utime + stime over the requests wrk
 * counted) shows a change's cost on a noisy machine better than req/s.
 *
 *   npm run bench:compare -- OTHER_CHECKOUT/bin/graygate.js bin/graygate.js
 *
 * ROUNDS (6) and SECONDS (5) set the rounds and their length. Prints each
 * round and the medians; records nothing (load/RESULTS.md quotes runs).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { benchRequest, tableYaml } from "./lib/route-table.ts";
import { median } from "./lib/stats.ts";

const run = promisify(execFile);
const bins = process.argv.slice(2);
if (bins.length < 2) {
  process.stderr.write("usage: npm run bench:compare -- BIN_A BIN_B [BIN…]\n");
  process.exit(2);
}
const rounds = Number(process.env.ROUNDS ?? 6);
const seconds = Number(process.env.SECONDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), "graygate-compare-"));

const upstream = createServer((req, res) => {
  req.resume();
  res.end("ok");
});
await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
// This process (the upstream) shares CPU 1 with wrk; the servers under test have CPU 0.
await run("taskset", ["-pc", "1", String(process.pid)]);
const config = join(dir, "graygate.yaml");
writeFileSync(config, tableYaml({ stable: origin, canary: origin, serve: true }));

/** User and system CPU seconds of a process (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] as string).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const servers: { bin: string; pid: number; port: number }[] = [];
for (const [i, bin] of bins.entries()) {
  const log = join(dir, `graygate-${i}.log`);
  const child = spawn("taskset", ["-c", "0", process.execPath, bin, "serve", "-c", config], {
    stdio: ["ignore", openSync(log, "w"), openSync(log, "a")],
  });
  let port = 0;
  for (let tries = 0; tries < 100 && port === 0; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const found = /"proxy":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(readFileSync(log, "utf8"));
    if (found !== null) port = Number(found[1]);
  }
  if (port === 0) throw new Error(`${bin} did not start: see ${log}`);
  // taskset execs node in place: the child's pid is the server's.
  servers.push({ bin, pid: child.pid as number, port });
}

const request = benchRequest();
// wrk sends its own Host unless one is given as "Host".
const headers = Object.entries({ ...request.headers, Host: request.host, "x-user-id": "user-42" });
const wrkArgs = headers.flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
const perRequest = new Map<string, number[]>();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const server of servers) {
      const before = cpuSeconds(server.pid);
      const { stdout } = await run("taskset", [
        "-c",
        "1",
        "wrk",
        "-t1",
        "-c50",
        `-d${seconds}s`,
        ...wrkArgs,
        `http://127.0.0.1:${server.port}${request.path}`,
      ]);
      const used = cpuSeconds(server.pid) - before;
      const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
      const micros = (used * 1e6) / requests;
      perRequest.set(server.bin, [...(perRequest.get(server.bin) ?? []), micros]);
      process.stdout.write(
        `round ${round}/${rounds} ${server.bin}: ${Math.round(requests / seconds)} req/s, ` +
          `${micros.toFixed(1)} µs CPU per request${non2xx > 0 ? `, ${non2xx} non-2xx` : ""}\n`,
      );
    }
  }
  for (const [bin, values] of perRequest) {
    process.stdout.write(`${bin}: median ${median(values).toFixed(1)} µs CPU per request\n`);
  }
} finally {
  for (const server of servers) process.kill(server.pid);
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
}
