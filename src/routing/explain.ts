/**
 * The decision for one request, with the reasons: what `graygate explain`
 * and the admin `/explain` show. It runs the very conditions `decide` runs.
 */

import { normalizeAddress } from "../net/cidr.ts";
import { hostOf } from "./facts.ts";
import type { HeaderBag } from "./lookup.ts";
import type { HashDetail, RequestFacts, RouteTable } from "./table.ts";

export interface ExplainRequest {
  method?: string;
  host?: string;
  /** May carry a query ("/v1/orders?app_key=k"); it joins `query`. */
  path: string;
  headers?: readonly (readonly [string, string])[];
  cookie?: string;
  query?: string;
  ip?: string;
}

/** The shape of `explain --json` and `/explain` (README, "Command line"). */
export interface ExplainResult {
  route: string;
  version: string;
  rule: string;
  upstream: string;
  features: string[];
  hash?: HashDetail;
}

export interface ConditionTrace {
  describe: string;
  holds: boolean;
  hash?: HashDetail;
}

export interface RuleTrace {
  rule: string;
  enabled: boolean;
  to: string;
  /** undefined when not evaluated (an earlier rule decided, or disabled). */
  holds: boolean | undefined;
  conditions: ConditionTrace[];
}

export interface Explanation {
  result: ExplainResult;
  facts: RequestFacts;
  routes: { route: string; holds: boolean; conditions: ConditionTrace[] }[];
  rules: RuleTrace[];
}

export function factsOf(request: ExplainRequest): RequestFacts {
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of request.headers ?? []) {
    const lower = name.trim().toLowerCase();
    const previous = headers[lower];
    headers[lower] = previous === undefined ? value.trim() : `${previous}, ${value.trim()}`;
  }
  if (request.cookie !== undefined && request.cookie !== "") {
    headers.cookie =
      headers.cookie === undefined ? request.cookie : `${headers.cookie}; ${request.cookie}`;
  }
  const host = request.host ?? headers.host;
  if (host !== undefined) headers.host = host;
  let path = request.path;
  const queries: string[] = [];
  const mark = path.indexOf("?");
  if (mark !== -1) {
    queries.push(path.slice(mark + 1));
    path = path.slice(0, mark);
  }
  if (request.query !== undefined && request.query !== "")
    queries.push(request.query.replace(/^\?/, ""));
  return {
    method: (request.method ?? "GET").toUpperCase(),
    host: hostOf(host),
    path,
    query: queries.join("&"),
    headers: headers as HeaderBag,
    clientAddress: normalizeAddress(request.ip ?? ""),
    // An explained request is taken as graygate would see it after trust: its headers are believed.
    trustedPeer: true,
  };
}

export function explain(table: RouteTable, request: ExplainRequest): Explanation {
  const facts = factsOf(request);
  const decision = table.decide(facts);
  const result: ExplainResult = {
    route: decision.route,
    version: decision.version,
    rule: decision.rule,
    upstream: decision.upstream,
    features: [...decision.features],
  };
  if (decision.hash !== undefined) result.hash = { ...decision.hash };

  const routes: Explanation["routes"] = [];
  for (const route of table.routes) {
    const conditions = table.evaluateConditions(facts, route.match);
    const holds = conditions.every((c) => c.holds);
    routes.push({ route: route.name, holds, conditions: conditions.map(trace) });
    if (route === decision.compiled) break;
  }
  const rules: RuleTrace[] = [];
  let decided = false;
  for (const rule of decision.compiled?.rules ?? []) {
    if (!rule.enabled || decided) {
      rules.push({
        rule: rule.name,
        enabled: rule.enabled,
        to: rule.to,
        holds: undefined,
        conditions: [],
      });
      continue;
    }
    const conditions = table.evaluateConditions(facts, rule.conditions).map(trace);
    // The decision stands as decided; a rule with a random condition may roll differently here.
    const holds = rule.name === decision.rule;
    decided = holds;
    rules.push({ rule: rule.name, enabled: true, to: rule.to, holds, conditions });
  }
  return { result, facts, routes, rules };
}

function trace(condition: { describe: string; holds: boolean; hash?: HashDetail }): ConditionTrace {
  return condition.hash === undefined
    ? { describe: condition.describe, holds: condition.holds }
    : { describe: condition.describe, holds: condition.holds, hash: condition.hash };
}

function hashText(hash: HashDetail): string {
  return `${hash.key} = ${JSON.stringify(hash.value)}: bucket ${hash.bucket}, threshold ${hash.threshold} (${hash.threshold / 100}%) → ${hash.bucket < hash.threshold ? "in" : "out"}`;
}

/** The human form of an explanation. */
export function formatExplanation(explanation: Explanation): string {
  const { result } = explanation;
  const lines = [
    `route     ${result.route}`,
    `version   ${result.version}`,
    `rule      ${result.rule}`,
    `upstream  ${result.upstream}`,
    `features  ${result.features.length === 0 ? "(none)" : result.features.join(", ")}`,
  ];
  if (result.hash !== undefined) lines.push(`hash      ${hashText(result.hash)}`);
  lines.push("", "routes:");
  for (const route of explanation.routes) {
    const conditions = route.conditions
      .map((c) => `${c.holds ? "✓" : "✗"} ${c.describe}`)
      .join("; ");
    lines.push(
      `  ${route.holds ? "✓" : "✗"} ${route.route}${conditions === "" ? " (matches every request)" : `: ${conditions}`}`,
    );
  }
  if (explanation.rules.length > 0) {
    lines.push("", `rules of ${result.route}:`);
    for (const rule of explanation.rules) {
      const mark = !rule.enabled ? "-" : rule.holds === undefined ? " " : rule.holds ? "✓" : "✗";
      const state = !rule.enabled
        ? " (disabled)"
        : rule.holds === undefined
          ? " (not reached)"
          : "";
      const conditions = rule.conditions
        .map(
          (c) =>
            `${c.holds ? "✓" : "✗"} ${c.describe}${c.hash === undefined ? "" : ` [${hashText(c.hash)}]`}`,
        )
        .join("; ");
      lines.push(
        `  ${mark} ${rule.rule} → ${rule.to}${state}${conditions === "" ? "" : `: ${conditions}`}`,
      );
    }
  }
  return lines.join("\n");
}
