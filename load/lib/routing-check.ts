/**
 * Before measuring, check that each target really does the work: every
 * answer 200, and for graygate and nginx, both versions chosen (the version
 * header they add) and each request sent to the upstream port of that
 * version (the upstream's x-upstream). For graygate, /metrics also says
 * which route and rules decided, so the requests are known to hit the deep
 * route and reach the sticky hash.
 */

import { closeSync, openSync, readSync, statSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { type BenchRequest, benchRoutes, LOADED_ROUTE_INDEX } from "./route-table.ts";
import type { Target } from "./targets.ts";

export interface RoutingCheck {
  requests: number;
  statuses: Record<string, number>;
  /** By the target's version header ("-" when absent). */
  versions: Record<string, number>;
  /** Requests whose upstream (x-upstream) was not the version the target named. */
  misrouted: number;
  /** graygate only: decisions of the loaded route by rule, from /metrics. */
  rules: Record<string, number> | undefined;
  problems: string[];
}

const count = (tally: Record<string, number>, key: string) => {
  tally[key] = (tally[key] ?? 0) + 1;
};

function get(
  agent: Agent,
  url: URL,
  request: BenchRequest,
  userId: string,
): Promise<{ status: number; version: string; upstream: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: request.path,
        headers: { ...request.headers, host: request.host, "x-user-id": userId },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            version: String(res.headers["x-graygate-version"] ?? "-"),
            upstream: String(res.headers["x-upstream"] ?? "-"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Decisions of the loaded route by rule, from graygate's /metrics. */
async function decisionsByRule(admin: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const route = (benchRoutes()[LOADED_ROUTE_INDEX] as { name: string }).name;
  const rules: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("graygate_decisions_total{")) continue;
    if (!line.includes(`route="${route}"`)) {
      const other = /route="([^"]+)"/.exec(line)?.[1];
      if (other !== undefined) rules[`other route ${other}`] = Number(line.split(" ").at(-1));
      continue;
    }
    const rule = /rule="([^"]+)"/.exec(line)?.[1] ?? "?";
    const version = /version="([^"]+)"/.exec(line)?.[1] ?? "?";
    rules[`${rule}→${version}`] = Number(line.split(" ").at(-1));
  }
  return rules;
}

export async function checkRouting(
  target: Target,
  request: BenchRequest,
  requests = 400,
): Promise<RoutingCheck> {
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const statuses: Record<string, number> = {};
  const versions: Record<string, number> = {};
  let misrouted = 0;
  for (let i = 0; i < requests; i++) {
    const answer = await get(agent, url, request, `check-${i}`);
    count(statuses, String(answer.status));
    count(versions, answer.version);
    const expected = target.routes ? answer.version : "stable";
    if (answer.upstream !== "-" && answer.upstream !== expected) misrouted++;
  }
  agent.destroy();
  const problems: string[] = [];
  if (statuses["200"] !== requests) problems.push(`not all 200: ${JSON.stringify(statuses)}`);
  if (misrouted > 0) problems.push(`${misrouted} requests reached the other version's upstream`);
  if (target.routes && !((versions.stable ?? 0) > 0 && (versions.canary ?? 0) > 0)) {
    problems.push(`both versions should get traffic: ${JSON.stringify(versions)}`);
  }
  const rules = target.admin === undefined ? undefined : await decisionsByRule(target.admin);
  if (rules !== undefined && Object.keys(rules).some((key) => key.startsWith("other route"))) {
    problems.push(`requests decided on another route: ${JSON.stringify(rules)}`);
  }
  return { requests, statuses, versions, misrouted, rules, problems };
}

/**
 * Versions named in the last ~256 KiB of an access log (graygate's or
 * nginx's JSON lines): a cheap look at the split under full load.
 */
export function versionsInLogTail(file: string): Record<string, number> {
  const versions: Record<string, number> = {};
  let fd: number | undefined;
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 256 * 1024);
    const buffer = Buffer.alloc(length);
    fd = openSync(file, "r");
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n").slice(1, -1);
    for (const line of lines) {
      const version = /"version":"([^"]*)"/.exec(line)?.[1];
      if (version !== undefined && line.includes('"msg":"request"')) count(versions, version);
    }
  } catch {
    // No log (yet): nothing to tally.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return versions;
}
