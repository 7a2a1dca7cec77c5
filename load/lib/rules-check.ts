/**
 * Does nginx decide as graygate does? Crafted requests, one per rule and a
 * few that match no route, are sent to both with a request id each; the
 * rule, route and version that each access log names are compared. Requests
 * decided by a sticky hash are left out: nginx's split_clients is another
 * hash (the same shares, not the same users).
 */
import { readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { sleep } from "./processes.ts";
import type { Target } from "./targets.ts";

interface Case {
  name: string;
  method?: string;
  host?: string;
  path?: string;
  headers?: Record<string, string>;
}

const CASES: Case[] = [
  { name: "force", headers: { "x-canary": "always", "x-user-id": "a" } },
  { name: "optout", headers: { cookie: "canary=never; uid=z", "x-user-id": "a" } },
  { name: "partners", path: "/v1/svc37/items/1?app_key=k-456" },
  { name: "other app_key", path: "/v1/svc37/items/1?app_key=k-999" },
  { name: "beta-ua", headers: { "user-agent": "ExampleApp/9.3 (x)" } },
  { name: "older ua", headers: { "user-agent": "ExampleApp/8.3" } },
  { name: "debug", headers: { "x-debug": "1" } },
  { name: "not-legacy", path: "/v1/svc37/x/beta" },
  { name: "legacy client", path: "/v1/svc37/x/beta", headers: { "x-client": "legacy" } },
  { name: "no hash key", headers: {} },
  { name: "untrusted region header", headers: { "x-region": "eu-west" } },
  { name: "method not taken", method: "DELETE" },
  { name: "unknown host", host: "nope.example.com" },
  { name: "first route of a host", host: "api2.example.com", path: "/v1/svc2/items/1" },
  { name: "last route", host: "api4.example.com", path: "/v1/svc49/items/1" },
  { name: "prefix of no route", path: "/v1/svc99/items/1" },
];

function send(agent: Agent, origin: string, id: string, c: Case): Promise<void> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: c.method ?? "GET",
        path: c.path ?? "/v1/svc37/items/1",
        headers: { host: c.host ?? "api2.example.com", "x-request-id": id, ...c.headers },
      },
      (res) => {
        res.resume();
        res.on("end", resolve);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

interface Logged {
  route: string;
  rule: string;
  version: string;
  status: number;
}

function logged(file: string, prefix: string): Map<string, Logged> {
  const found = new Map<string, Logged>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.includes(`"requestId":"${prefix}`)) continue;
    const entry = JSON.parse(line) as Logged & { requestId: string };
    found.set(entry.requestId.slice(prefix.length), entry);
  }
  return found;
}

/** One line per difference; empty when nginx and graygate agree on every case. */
export async function compareRules(graygate: Target, nginx: Target): Promise<string[]> {
  if (graygate.accessLog === undefined || nginx.accessLog === undefined) return ["no access log"];
  const agent = new Agent({ keepAlive: true });
  const tag = `rules-check-${process.pid}-`;
  // Request ids by index: graygate replaces an id it finds unfit (spaces, say).
  for (const [index, c] of CASES.entries()) {
    await send(agent, graygate.url, `${tag}${index}`, c);
    await send(agent, nginx.url, `${tag}${index}`, c);
  }
  agent.destroy();
  await sleep(1500); // nginx flushes its buffered access log within 1 s
  const fromGraygate = logged(graygate.accessLog, tag);
  const fromNginx = logged(nginx.accessLog, tag);
  const differences: string[] = [];
  for (const [index, c] of CASES.entries()) {
    const g = fromGraygate.get(String(index));
    const n = fromNginx.get(String(index));
    if (g === undefined || n === undefined) {
      differences.push(
        `${c.name}: not in ${g === undefined ? "graygate's" : "nginx's"} access log`,
      );
      continue;
    }
    const show = (e: Logged) => `${e.status} ${e.route}/${e.rule}→${e.version}`;
    // Decided by a hash on one side: the other may hash the same key elsewhere.
    const hashed = (e: Logged) => e.rule === "sticky" || e.rule === "eu";
    const hashedOrDefault = (e: Logged) => hashed(e) || e.rule === "default";
    if ((hashed(g) || hashed(n)) && hashedOrDefault(g) && hashedOrDefault(n)) continue;
    if (show(g) !== show(n)) differences.push(`${c.name}: graygate ${show(g)}, nginx ${show(n)}`);
  }
  return differences;
}

export const RULE_CASES = CASES.length;
