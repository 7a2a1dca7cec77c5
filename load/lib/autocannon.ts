/**
 * autocannon (closed loop), the fallback when wrk is absent, run by
 * load/autocannon-run.ts in its own process: a new x-user-id per request,
 * as with wrk. autocannon is heavier than wrk per request, so on the shared
 * load core it understates the fastest targets (direct, nginx) more.
 */
import { join } from "node:path";
import { repoRoot, type Workspace } from "./processes.ts";
import type { BenchRequest } from "./route-table.ts";
import { type ClosedLoopResult, errorKinds } from "./wrk.ts";

export async function runAutocannon(
  workspace: Workspace,
  options: { request: BenchRequest; url: string; seconds: number; connections: number },
): Promise<ClosedLoopResult> {
  const result = await workspace.run({
    name: "autocannon",
    command: process.execPath,
    args: [
      join(repoRoot, "load/autocannon-run.ts"),
      JSON.stringify({
        url: options.url,
        path: options.request.path,
        host: options.request.host,
        headers: options.request.headers,
        connections: options.connections,
        seconds: options.seconds,
      }),
    ],
    role: "load",
  });
  if (result.code !== 0) throw new Error(`autocannon failed:\n${result.stderr}`);
  const report = JSON.parse(result.stdout) as {
    requests: { total: number };
    duration: number;
    latency: { p50: number; p99: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    requests: report.requests.total,
    seconds: report.duration,
    rps: report.requests.total / report.duration,
    p50: report.latency.p50,
    p99: report.latency.p99,
    errors: report.errors + report.timeouts,
    non2xx: report.non2xx,
    errorKinds: errorKinds({ error: report.errors, timeout: report.timeouts }),
  };
}
