/**
 * Checks that need more than one value: names that refer to each other.
 * They run on the document as written, even when the schema found problems
 * elsewhere, so that every mistake is reported at once; hence the defensive
 * reading of `unknown`.
 */
import { DURATION_PATTERN, parseDuration } from "./duration.ts";
import { parseListen } from "./listen.ts";
import { DEFAULT_RULE, NO_MATCH, STABLE } from "./names.ts";
import type { PathSegment } from "./problems.ts";

export interface CrossProblem {
  path: PathSegment[];
  message: string;
  /** Point at the key rather than its value. */
  atKey?: boolean;
}

/** Route names that would be confused with graygate's own label values. */
const RESERVED_ROUTE_NAMES = new Set([NO_MATCH]);
/** `default` is the rule reported when no rule matched. */
const RESERVED_RULE_NAMES = new Set([DEFAULT_RULE]);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? "none" : all.join(", ");
}

/** Every place a `when`/`match` may use `region`, to check a region source exists. */
function usesRegion(conditions: unknown): boolean {
  return isRecord(conditions) && conditions.region !== undefined;
}

/** A listen host that takes every address, so it clashes with any other on its port. */
function isAnyAddress(host: string | undefined): boolean {
  return host === undefined || host === "0.0.0.0" || host === "::" || host === "0:0:0:0:0:0:0:0";
}

/** Two written durations, both valid, the first longer than the second (else false: the schema reports bad ones). */
function longerThan(first: unknown, second: unknown): boolean {
  return (
    typeof first === "string" &&
    typeof second === "string" &&
    DURATION_PATTERN.test(first) &&
    DURATION_PATTERN.test(second) &&
    parseDuration(first) > parseDuration(second)
  );
}

/** The maps whose keys are names the operator chooses (the others report unknown keys). */
const NAMED_MAPS = new Set([
  "header",
  "cookie",
  "query",
  "cidrs",
  "upstreams",
  "features",
  "versions",
]);

/**
 * Keys named `__proto__` in maps of names: a JavaScript object cannot hold
 * one as a key, so validation would never see it and a condition would
 * silently vanish (and then hold for every request).
 */
function protoKeys(value: unknown, path: PathSegment[], problems: CrossProblem[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      protoKeys(item, [...path, i], problems);
    });
    return;
  }
  if (!isRecord(value)) return;
  const named = NAMED_MAPS.has(String(path.at(-1)));
  for (const key of Object.keys(value)) {
    if (key === "__proto__" && named) {
      problems.push({
        path: [...path, key],
        message: '"__proto__" cannot be used as a key',
        atKey: true,
      });
      continue;
    }
    protoKeys(value[key], [...path, key], problems);
  }
}

export function crosscheck(document: unknown): CrossProblem[] {
  const problems: CrossProblem[] = [];
  if (!isRecord(document)) return problems;
  protoKeys(document, [], problems);
  const upstreams = isRecord(document.upstreams) ? Object.keys(document.upstreams) : [];
  const upstreamSet = new Set(upstreams);
  const regionConfigured = isRecord(document.region);
  const regionUses: PathSegment[][] = [];

  const routes = Array.isArray(document.routes) ? document.routes : [];
  const routeNames = new Map<string, number>();
  routes.forEach((route: unknown, r) => {
    if (!isRecord(route)) return;
    const routeName = typeof route.name === "string" ? route.name : undefined;
    if (routeName !== undefined) {
      const first = routeNames.get(routeName);
      if (first !== undefined) {
        problems.push({
          path: ["routes", r, "name"],
          message: `duplicate route name "${routeName}" (also routes[${first}])`,
        });
      } else {
        routeNames.set(routeName, r);
      }
      if (RESERVED_ROUTE_NAMES.has(routeName)) {
        problems.push({
          path: ["routes", r, "name"],
          message: `"${routeName}" is reserved: metrics label unmatched requests with it`,
        });
      }
    }
    if (usesRegion(route.match)) regionUses.push(["routes", r, "match", "region"]);

    const versions = isRecord(route.versions) ? route.versions : undefined;
    if (versions !== undefined) {
      if (!(STABLE in versions)) {
        problems.push({
          path: ["routes", r, "versions"],
          message: "must name a stable version (stable is the default)",
        });
      }
      for (const [version, upstream] of Object.entries(versions)) {
        if (typeof upstream === "string" && !upstreamSet.has(upstream)) {
          problems.push({
            path: ["routes", r, "versions", version],
            message: `unknown upstream "${upstream}" (defined: ${list(upstreams)})`,
          });
        }
      }
    }

    const rules = Array.isArray(route.rules) ? route.rules : [];
    const ruleNames = new Map<string, number>();
    rules.forEach((rule: unknown, i) => {
      if (!isRecord(rule)) return;
      if (typeof rule.name === "string") {
        const first = ruleNames.get(rule.name);
        if (first !== undefined) {
          problems.push({
            path: ["routes", r, "rules", i, "name"],
            message: `duplicate rule name "${rule.name}" in route "${routeName ?? r}" (also rules[${first}])`,
          });
        } else {
          ruleNames.set(rule.name, i);
        }
        if (RESERVED_RULE_NAMES.has(rule.name)) {
          problems.push({
            path: ["routes", r, "rules", i, "name"],
            message: `"${rule.name}" is reserved: it names the outcome when no rule matched`,
          });
        }
      }
      if (versions !== undefined && typeof rule.to === "string" && !(rule.to in versions)) {
        problems.push({
          path: ["routes", r, "rules", i, "to"],
          message: `unknown version "${rule.to}": route "${routeName ?? r}" has ${list(Object.keys(versions))}`,
        });
      }
      if (usesRegion(rule.when)) regionUses.push(["routes", r, "rules", i, "when", "region"]);
    });
  });

  if (isRecord(document.features)) {
    for (const [feature, body] of Object.entries(document.features)) {
      if (isRecord(body) && usesRegion(body.when)) {
        regionUses.push(["features", feature, "when", "region"]);
      }
    }
  }
  if (!regionConfigured) {
    for (const path of regionUses) {
      problems.push({
        path,
        message: "uses region, but the config has no region: section to find it",
      });
    }
  }

  const server = isRecord(document.server) ? document.server : {};
  const timeouts = isRecord(server.timeouts) ? server.timeouts : {};
  const headersTimeout = timeouts.headers ?? "10s";
  const requestTimeout = timeouts.request ?? "60s";
  if (longerThan(headersTimeout, requestTimeout)) {
    problems.push({
      path: ["server", "timeouts", timeouts.headers === undefined ? "request" : "headers"],
      message: `timeouts.headers (${headersTimeout}) must not be longer than timeouts.request (${requestTimeout}): the headers are part of the request`,
    });
  }
  if (isRecord(document.upstreams)) {
    for (const [name, upstream] of Object.entries(document.upstreams)) {
      const outlier = isRecord(upstream) ? upstream.outlierDetection : undefined;
      if (!isRecord(outlier)) continue;
      const base = outlier.baseEjectionTime ?? "10s";
      const max = outlier.maxEjectionTime ?? "5m";
      if (longerThan(base, max)) {
        const key = outlier.maxEjectionTime === undefined ? "baseEjectionTime" : "maxEjectionTime";
        problems.push({
          path: ["upstreams", name, "outlierDetection", key],
          message: `maxEjectionTime (${max}) must not be shorter than baseEjectionTime (${base})`,
        });
      }
    }
  }
  const admin = isRecord(document.admin) ? document.admin : {};
  const proxyListen = parseListen(
    typeof server.listen === "string" ? server.listen : "0.0.0.0:8080",
  );
  const adminListen = parseListen(
    typeof admin.listen === "string" ? admin.listen : "127.0.0.1:9090",
  );
  if (
    proxyListen !== undefined &&
    adminListen !== undefined &&
    proxyListen.port !== 0 &&
    proxyListen.port === adminListen.port &&
    (proxyListen.host === adminListen.host ||
      isAnyAddress(proxyListen.host) ||
      isAnyAddress(adminListen.host))
  ) {
    problems.push({
      path: typeof admin.listen === "string" ? ["admin", "listen"] : ["server", "listen"],
      message: `the proxy and admin listeners cannot share port ${proxyListen.port}`,
    });
  }
  return problems;
}
