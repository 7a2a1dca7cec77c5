/**
 * The route index (exact hosts, path prefixes by length) must choose exactly
 * the route a plain scan in config order would: the first whose every match
 * condition holds. Random tables and requests, fixed seed.
 */
import fc from "fast-check";
import t from "tap";
import { build, facts } from "./helpers.ts";

const segment = fc.constantFrom("v1", "v2", "orders", "o", "users", "");
const prefix = fc
  .array(segment, { minLength: 1, maxLength: 3 })
  .map((parts) => `/${parts.join("/")}`);
const host = fc.constantFrom("api.example.com", "b.example.com", "*.example.com", "other.test");
const method = fc.constantFrom("GET", "POST", "DELETE");

interface RouteSpec {
  host: string | undefined;
  path: { prefix: string } | { regex: string } | string | undefined;
  method: string[] | undefined;
}

const routeSpec: fc.Arbitrary<RouteSpec> = fc.record({
  host: fc.option(host, { nil: undefined }),
  path: fc.option(
    fc.oneof(
      prefix.map((p) => ({ prefix: p })),
      prefix.map((p) => ({ regex: `^${p}` })),
      prefix,
    ),
    { nil: undefined },
  ),
  method: fc.option(fc.uniqueArray(method, { minLength: 1, maxLength: 2 }), { nil: undefined }),
});

function yamlOf(routes: RouteSpec[]): string {
  const lines = ["routes:"];
  routes.forEach((route, i) => {
    const match: string[] = [];
    if (route.host !== undefined) match.push(`host: ${JSON.stringify(route.host)}`);
    if (route.path !== undefined) match.push(`path: ${JSON.stringify(route.path)}`);
    if (route.method !== undefined) match.push(`method: ${JSON.stringify(route.method)}`);
    lines.push(
      `  - name: r${i}`,
      `    match: { ${match.join(", ")} }`,
      "    versions: { stable: v1 }",
    );
  });
  return `${lines.join("\n")}\n`;
}

t.test("the indexed route lookup agrees with a scan in config order", async (t) => {
  const request = fc.record({
    host: fc.constantFrom("api.example.com", "b.example.com", "x.b.example.com", "example.com"),
    path: fc.oneof(
      prefix,
      prefix.map((p) => `${p}/item`),
    ),
    method,
  });
  fc.assert(
    fc.property(
      fc.array(routeSpec, { minLength: 1, maxLength: 12 }),
      fc.array(request, { maxLength: 20 }),
      (routes, requests) => {
        const table = build(yamlOf(routes));
        for (const init of requests) {
          const request = facts(init);
          const scanned = table.routes.find((route) =>
            table.evaluateConditions(request, route.match).every((c) => c.holds),
          );
          if (table.matchRoute(request)?.name !== scanned?.name) return false;
        }
        return true;
      },
    ),
    { seed: 1234, numRuns: 400 },
  );
  t.pass("indexed and scanned lookups chose the same routes");
});
