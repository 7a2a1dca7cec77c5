/**
 * The generated predicates and the closures they stand for must agree on
 * every request: random configs using every condition and matcher form,
 * random requests, both kinds of table, fixed seed.
 */
import fc from "fast-check";
import t from "tap";
import { loadConfigText } from "../../src/config/load.ts";
import { formatProblem } from "../../src/config/problems.ts";
import { compileTable, type RouteTable } from "../../src/routing/table.ts";
import { dice, facts, outcome } from "./helpers.ts";

const word = fc.constantFrom("a", "ab", "b", "", "A", "a b", "é");
const leaf = fc.oneof(
  word,
  fc.array(word, { minLength: 1, maxLength: 5 }),
  word.map((equals) => ({ equals })),
  fc.array(word, { minLength: 1, maxLength: 6 }).map((list) => ({ in: list })),
  word.map((prefix) => ({ prefix })),
  word.map((suffix) => ({ suffix })),
  fc.constantFrom("^a", "b$", "[0-9]", "^$").map((regex) => ({ regex })),
  fc.boolean().map((present) => ({ present })),
);
const matcher = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 1, arbitrary: leaf.map((not) => ({ not })) },
);
const names = fc.constantFrom("x-a", "x-b", "uid");
const named = fc.dictionary(names, matcher, { maxKeys: 2 });
const percent = fc.integer({ min: 0, max: 10_000 }).map((h) => h / 100);
const hashKey = fc.constantFrom("header:x-a", "cookie:uid", "query:x-b", "ip");

const everyCondition = fc.record(
  {
    path: matcher,
    host: fc.oneof(matcher, fc.constantFrom("*.example.com", "api.example.com")),
    method: fc.constantFrom("GET", ["get", "POST"], { not: "DELETE" }),
    header: named,
    cookie: named,
    query: named,
    region: matcher,
    ip: fc.subarray(["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "203.0.113.9"], {
      minLength: 1,
    }),
    random: percent,
    hash: fc.record({
      key: fc.oneof(hashKey, fc.array(hashKey, { minLength: 1, maxLength: 3 })),
      percent,
    }),
  },
  { requiredKeys: [] },
);
/** One or two conditions: enough for rules to hold often, and to combine. */
const when = fc
  .tuple(everyCondition, fc.integer({ min: 1, max: 2 }), fc.nat())
  .map(([all, count, offset]) => {
    const keys = Object.keys(all);
    const picked = keys
      .slice(offset % Math.max(1, keys.length))
      .concat(keys)
      .slice(0, count);
    return Object.fromEntries(picked.map((key) => [key, all[key as keyof typeof all]]));
  });

const config = fc
  .record({
    routeMatch: fc.option(when, { nil: undefined, freq: 3 }),
    rules: fc.array(fc.record({ when, enabled: fc.boolean() }), { maxLength: 5 }),
    feature: when,
  })
  .map(({ routeMatch, rules, feature }) => ({
    region: { header: "x-region", cidrs: { eu: ["10.1.0.0/16"], us: ["10.0.0.0/8"] } },
    upstreams: { v1: { targets: ["http://127.0.0.1:1"] }, v2: { targets: ["http://127.0.0.1:2"] } },
    features: { f: { when: feature }, always: {} },
    routes: [
      {
        name: "r",
        match: routeMatch,
        versions: { stable: "v1", canary: "v2" },
        rules: rules.map((rule, i) => ({ name: `rule${i}`, ...rule, to: "canary" })),
      },
      { name: "rest", versions: { stable: "v1" } },
    ],
  }));

const request = fc.record({
  method: fc.constantFrom("GET", "POST", "DELETE"),
  host: fc.constantFrom("api.example.com", "x.example.com", "example.com", "a"),
  path: fc.constantFrom("/", "/a", "/ab/1", "/b", "/9"),
  query: fc.constantFrom("", "x-b=a", "x-b=ab&x-b=b", "x-b", "uid=a+b", "x-b=%41"),
  headers: fc.record(
    {
      "x-a": word,
      "x-b": word,
      cookie: fc.constantFrom("uid=a", "uid=ab; x-a=b", 'uid="b"', "other=1"),
      "x-region": fc.constantFrom("eu", "us", ""),
    },
    { requiredKeys: [] },
  ),
  clientAddress: fc.constantFrom(
    "10.1.2.3",
    "10.9.9.9",
    "2001:db8::1",
    "203.0.113.9",
    "::ffff:10.1.0.1",
    "junk",
  ),
  trustedPeer: fc.boolean(),
});

function table(document: unknown, codegen: boolean): RouteTable {
  const loaded = loadConfigText(JSON.stringify(document), "random.yaml", {});
  if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join("\n"));
  return compileTable(loaded.loaded.config, { codegen, random: dice(0.1, 0.5, 0.9, 0.03) });
}

t.test("generated predicates decide exactly as the closures do", async (t) => {
  fc.assert(
    fc.property(
      config,
      fc.array(request, { minLength: 1, maxLength: 15 }),
      (document, requests) => {
        const generated = table(document, true);
        const closures = table(document, false);
        for (const init of requests) {
          const a = outcome(generated.decide(facts(init)));
          const b = outcome(closures.decide(facts(init)));
          t.same(a, b);
          if (JSON.stringify(a) !== JSON.stringify(b)) return false;
        }
        return true;
      },
    ),
    { seed: 2026, numRuns: 300 },
  );
});
