/**
 * The closed-loop fallback when wrk is absent: autocannon through its API,
 * in a process of its own (on the load core), printing autocannon's result
 * as JSON. The API, not the CLI: `setupRequest` gives every request a new
 * x-user-id (the CLI's `-I` placeholder `[<id>]` cannot be passed in a -H,
 * whose brackets autocannon's argument parser takes for a sub-argument).
 *
 *   node load/autocannon-run.ts '{"url":…,"path":…,"host":…,"headers":{…},"connections":50,"seconds":10}'
 */
import { createRequire } from "node:module";

interface Options {
  url: string;
  path: string;
  host: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}
interface RequestParams {
  headers: Record<string, string>;
}

// autocannon ships no types; its default export is a function returning a promise.
const autocannon = createRequire(import.meta.url)("autocannon") as (
  options: object,
) => Promise<unknown>;

const options = JSON.parse(process.argv[2] ?? "{}") as Options;
const tag = `a${process.pid}-`;
let counter = 0;
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.seconds,
  timeout: 10,
  requests: [
    {
      method: "GET",
      path: options.path,
      headers: { host: options.host, ...options.headers },
      setupRequest: (request: RequestParams) => {
        counter++;
        request.headers = { ...request.headers, "x-user-id": `${tag}${counter}` };
        return request;
      },
    },
  ],
});
process.stdout.write(`${JSON.stringify(result)}\n`);
