/**
 * wrk (closed loop): each connection sends its next request when the last
 * answer is in. A Lua `request()` gives every request a new x-user-id (so the
 * sticky hash splits the traffic), and `done()` prints the summary as JSON.
 */
import { writeFileSync } from "node:fs";
import type { Workspace } from "./processes.ts";
import type { BenchRequest } from "./route-table.ts";

export interface ClosedLoopResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds (closed loop: what a saturated server's clients see). */
  p50: number;
  p99: number;
  /** Connect, read, write errors and timeouts. */
  errors: number;
  /** Answers that were not 2xx/3xx. */
  non2xx: number;
  /** The errors by kind, e.g. "timeout 3, connect 2" ("" when none). */
  errorKinds: string;
}

export function errorKinds(kinds: Record<string, number>): string {
  return Object.entries(kinds)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
}

const lua = (text: string) => JSON.stringify(text); // a JSON string is a valid Lua string here

export function writeWrkScript(workspace: Workspace, request: BenchRequest): string {
  const headers = Object.entries({ Host: request.host, ...request.headers })
    .map(([name, value]) => `  [${lua(name)}] = ${lua(value)},`)
    .join("\n");
  const script = `-- Written by load/lib/wrk.ts: one new x-user-id per request.
local path = ${lua(request.path)}
local headers = {
${headers}
}
local prefix = "u"
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  -- The start time and the thread keep ids unique across runs and threads.
  prefix = "u" .. os.time() .. "-" .. (thread_id or 0) .. "-"
end

function request()
  counter = counter + 1
  headers["x-user-id"] = prefix .. counter
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
`;
  const file = workspace.file("bench.lua");
  writeFileSync(file, script);
  return file;
}

export async function runWrk(
  workspace: Workspace,
  options: { wrk: string; script: string; url: string; seconds: number; connections: number },
): Promise<ClosedLoopResult> {
  const result = await workspace.run({
    name: "wrk",
    command: options.wrk,
    args: [
      "-t1",
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      "--timeout",
      "10s",
      "-s",
      options.script,
      `${options.url}/`,
    ],
    role: "load",
  });
  const line = /^WRK_JSON (.+)$/m.exec(result.stdout)?.[1];
  if (line === undefined)
    throw new Error(`wrk printed no summary:\n${result.stdout}${result.stderr}`);
  const s = JSON.parse(line) as Record<string, number>;
  const seconds = (s.duration_us as number) / 1e6;
  const requests = s.requests as number;
  return {
    requests,
    seconds,
    rps: requests / seconds,
    p50: (s.p50_us as number) / 1000,
    p99: (s.p99_us as number) / 1000,
    errors: (s.connect ?? 0) + (s.read ?? 0) + (s.write ?? 0) + (s.timeout ?? 0),
    non2xx: s.status as number,
    errorKinds: errorKinds({
      connect: s.connect ?? 0,
      read: s.read ?? 0,
      write: s.write ?? 0,
      timeout: s.timeout ?? 0,
    }),
  };
}
