/**
 * Every condition and matcher of docs/CONFIG.md, through `table.decide(facts)` on
 * tables loaded from inline YAML.
 */
import { readFileSync } from "node:fs";
import t from "tap";
import { hostOf } from "../../src/routing/facts.ts";
import type { Decision, RouteTable } from "../../src/routing/table.ts";
import {
  build,
  dice,
  type FactsInit,
  facts,
  type Tap,
  type WhenOptions,
  whenTable,
} from "./helpers.ts";

/** [label, facts, expected]: whether the condition holds for those facts. */
type Row = [string, FactsInit, boolean];

const hit = (decision: Decision) => decision.rule === "hit";
const routed = (decision: Decision) => decision.route === "r";

function expectRows(table: RouteTable, holds: (d: Decision) => boolean, rows: Row[], what: string) {
  return async (t: Tap) => {
    for (const [label, init, expected] of rows) {
      t.equal(holds(table.decide(facts(init))), expected, `${what}: ${label}`);
    }
  };
}

/** The condition as a rule's `when`. */
const when = (cond: string, rows: Row[], options?: WhenOptions) =>
  expectRows(whenTable(cond, options), hit, rows, cond);

/** The condition as a route's `match` and as a rule's `when`: one vocabulary serves both. */
function both(cond: string, rows: Row[]) {
  const matchTable = build(`routes:
  - { name: r, match: ${cond}, versions: { stable: v1 } }
`);
  return async (t: Tap) => {
    await t.test("as match", expectRows(matchTable, routed, rows, cond));
    await t.test("as when", when(cond, rows));
  };
}

const host = (value: string): FactsInit => ({ host: value });
const path = (value: string): FactsInit => ({ path: value });
const method = (value: string): FactsInit => ({ method: value });
const header = (name: string, value: string | string[]): FactsInit => ({
  headers: { [name]: value },
});
const cookie = (value: string): FactsInit => header("cookie", value);
const query = (value: string): FactsInit => ({ query: value });
const from = (address: string, init: FactsInit = {}): FactsInit => ({
  ...init,
  clientAddress: address,
});

/** The condition as match and as when, over values of one fact given as { value: holds }. */
const over =
  (make: (value: string) => FactsInit) => (cond: string, rows: Record<string, boolean>) =>
    both(
      cond,
      Object.entries(rows).map(
        ([value, holds]): Row => [JSON.stringify(value), make(value), holds],
      ),
    );
const hosts = over(host);
const paths = over(path);
const methods = over(method);
const cookies = over(cookie);
const queries = over(query);
const clients = over(from);

t.test(
  "host: exact",
  hosts("{ host: api.example.com }", {
    "api.example.com": true,
    "www.api.example.com": false,
    "api.example.com.evil": false,
    "example.com": false,
    "": false,
  }),
);
t.test(
  "host: case-insensitive",
  both("{ host: API.Example.COM }", [
    ["lower-case facts", host("api.example.com"), true],
    ["from a Host header in upper case with a port", host(hostOf("API.EXAMPLE.COM:8443")), true],
  ]),
);
t.test(
  "host: a wildcard matches any depth, not the apex",
  hosts('{ host: "*.example.com" }', {
    "a.example.com": true,
    "a.b.example.com": true,
    "example.com": false,
    "xexample.com": false,
    "a.example.com.evil": false,
    ".example.com": false,
  }),
);
t.test(
  "host: a list mixing exact and wildcard, in any case",
  hosts('{ host: [api.example.com, "*.Internal.test", Other.Test] }', {
    "api.example.com": true,
    "x.internal.test": true,
    "a.b.internal.test": true,
    "internal.test": false,
    "other.test": true,
    "www.example.com": false,
  }),
);
t.test(
  "host: wildcards in in, equals and not",
  hosts('{ host: { in: ["*.example.com", b.test] } }', { "a.example.com": true, "b.test": true }),
);
t.test("host: equals", hosts('{ host: { equals: "*.example.com" } }', { "a.example.com": true }));
t.test(
  "host: not",
  hosts('{ host: { not: "*.example.com" } }', { "a.example.com": false, "example.com": true }),
);

t.test(
  "path: equals, case-sensitive",
  paths("{ path: /v1/orders }", { "/v1/orders": true, "/v1/orders/": false, "/V1/orders": false }),
);
t.test(
  "path: prefix is a plain string test",
  paths("{ path: { prefix: /v1/ } }", {
    "/v1/x": true,
    "/v1/": true,
    "/v1": false,
    "/x/v1/": false,
  }),
);
t.test(
  "path: suffix",
  paths("{ path: { suffix: .json } }", { "/b.json": true, "/b.json5": false }),
);
t.test(
  "path: a regex searches the value",
  paths('{ path: { regex: "orders/[0-9]+" } }', {
    "/v1/orders/42/items": true,
    "/orders/x": false,
  }),
);
t.test(
  "path: an anchored regex matches it whole",
  paths('{ path: { regex: "^/orders$" } }', {
    "/orders": true,
    "/v1/orders": false,
    "/orders/1": false,
  }),
);
t.test("path: list", paths("{ path: [/a, /b] }", { "/a": true, "/b": true, "/c": false }));

t.test(
  "method: lower-case config is normalised",
  methods("{ method: [get, Post] }", { GET: true, POST: true, PUT: false }),
);
t.test("method: string", methods("{ method: delete }", { DELETE: true, GET: false }));
t.test(
  "method: prefix",
  methods("{ method: { prefix: p } }", { PUT: true, PATCH: true, GET: false }),
);
t.test("method: not", methods("{ method: { not: [get, head] } }", { POST: true, HEAD: false }));

/** [matcher, value (undefined: absent), holds] — the matcher semantics for named values. */
const MATCHERS: [string, string | undefined, boolean][] = [
  ["abc", "abc", true],
  ["abc", "abcd", false],
  ["abc", "ABC", false],
  ['""', "", true],
  ["[x, abc]", "abc", true],
  ["[x, y]", "abc", false],
  ["{ equals: abc }", "abc", true],
  ["{ equals: ab }", "abc", false],
  ["{ in: [x, abc] }", "abc", true],
  ["{ in: [x] }", "abc", false],
  ["{ prefix: ab }", "abc", true],
  ["{ prefix: bc }", "abc", false],
  ["{ suffix: bc }", "abc", true],
  ["{ suffix: ab }", "abc", false],
  ['{ regex: "b" }', "abc", true],
  ['{ regex: "^b" }', "abc", false],
  ['{ regex: "^abc$" }', "abc", true],
  ["{ present: true }", "abc", true],
  ["{ present: true }", "", true],
  ["{ present: false }", "abc", false],
  ["{ present: false }", "", false],
  ["{ not: abc }", "abc", false],
  ["{ not: x }", "abc", true],
  ["{ not: [x, abc] }", "abc", false],
  ["{ not: [x, y] }", "abc", true],
  ["{ not: { equals: abc } }", "abc", false],
  ["{ not: { in: [x] } }", "abc", true],
  ["{ not: { prefix: ab } }", "abc", false],
  ["{ not: { suffix: x } }", "abc", true],
  ['{ not: { regex: "b" } }', "abc", false],
  ["{ not: { present: true } }", "abc", false],
  ["{ not: { present: false } }", "abc", true],
  ["{ not: { not: abc } }", "abc", true],
  // Absent: every matcher fails except {present: false} and not.
  ["abc", undefined, false],
  ["[abc, x]", undefined, false],
  ["{ equals: abc }", undefined, false],
  ["{ in: [abc] }", undefined, false],
  ['{ prefix: "" }', undefined, false],
  ['{ suffix: "" }', undefined, false],
  ['{ regex: "" }', undefined, false],
  ['{ regex: ".*" }', undefined, false],
  ["{ present: true }", undefined, false],
  ["{ present: false }", undefined, true],
  ["{ not: abc }", undefined, true],
  ['{ not: { regex: "" } }', undefined, true],
  ["{ not: { present: true } }", undefined, true],
  ["{ not: { present: false } }", undefined, false],
  ["{ not: { not: abc } }", undefined, false],
];

/** How each named kind carries `x-a` = value, and what "absent" looks like. */
const NAMED: Record<string, (value: string | undefined) => FactsInit> = {
  header: (value) => (value === undefined ? header("x-other", "abc") : header("x-a", value)),
  cookie: (value) => (value === undefined ? {} : cookie(`x-other=1; x-a=${value}`)),
  query: (value) => query(value === undefined ? "x-other=abc" : `x-other=1&x-a=${value}`),
};

for (const [kind, carry] of Object.entries(NAMED)) {
  t.test(`${kind}: every matcher form, absent included`, async (t) => {
    for (const [matcher, value, expected] of MATCHERS) {
      const table = whenTable(`{ ${kind}: { x-a: ${matcher} } }`);
      t.equal(hit(table.decide(facts(carry(value)))), expected, `${matcher} on ${value}`);
    }
  });
}

t.test(
  "header: names are case-insensitive, values are not",
  when("{ header: { X-Canary: always } }", [
    ["lower-case name", header("x-canary", "always"), true],
    ["other value case", header("x-canary", "Always"), false],
    ["repeated header, joined", header("x-canary", ["always", "never"]), false],
    ["no headers", {}, false],
  ]),
);
t.test(
  "header: several named headers must all match",
  when("{ header: { x-a: one, x-b: { present: false } } }", [
    ["both hold", header("x-a", "one"), true],
    ["second fails", { headers: { "x-a": "one", "x-b": "" } }, false],
  ]),
);

t.test(
  "cookie",
  cookies("{ cookie: { uid: abc } }", {
    "uid=abc": true,
    "a=1; uid=abc; b=2": true,
    "a=1;uid=abc;b=2": true,
    "a=1 ;  \tuid=abc  ; b=2": true,
    'uid="abc"': true,
    "uidx=zzz; uid=abc": true,
    "uidx=abc": false,
    "ui=abc": false,
    "UID=abc": false,
    "uid=abcd": false,
    "uid=abc; uid=x": true,
    "a=1": false,
    "": false,
  }),
);

t.test(
  "query: first value wins, from a list",
  queries("{ query: { app_key: [k-123, k-456] } }", {
    "app_key=k-456": true,
    "app_key=k-123&app_key=k-999": true,
    "app_key=k-999&app_key=k-123": false,
    "a=1&&app_key=k-123&b": true,
    "app%5Fkey=k-123": true,
    "app_key=k%2D123": true,
    "app_key2=k-123": false,
    "other=k-123": false,
    "": false,
  }),
);
t.test(
  "query: + and percent-decoding",
  queries('{ query: { q: "a b/c+" } }', {
    "q=a+b%2Fc%2B": true,
    "q=a%20b%2fc%2b": true,
    "q=a+b/c+": false,
  }),
);
t.test(
  "query: ?flag with no value is present and empty",
  queries('{ query: { flag: "" } }', {
    flag: true,
    "a=1&flag&b=2": true,
    "flag=": true,
    "flag=1": false,
    flags: false,
  }),
);
t.test(
  "query: ?flag is present",
  queries("{ query: { flag: { present: true } } }", {
    flag: true,
    "a=flag": false,
  }),
);

const REGION = `region:
  header: X-Region
  cidrs:
    eu-west: [10.1.0.0/16, "2001:db8:1::/48"]
    us-east: [10.0.0.0/8, "2001:db8::/32"]
`;

t.test("region: header when trusted, else cidrs in config order", async (t) => {
  const table = build(`${REGION}
routes:
  - name: r
    versions: { stable: v1, canary: v2 }
    rules:
      - { name: eu-west, when: { region: eu-west }, to: canary }
      - { name: us-east, when: { region: [us-east] }, to: canary }
      - { name: ap-south, when: { region: { prefix: ap- } }, to: canary }
      - { name: absent, when: { region: { not: { present: true } } }, to: canary }
`);
  const region = (init: FactsInit) => table.decide(facts(init)).rule;
  const trusted = (address: string, value?: string): FactsInit => ({
    clientAddress: address,
    trustedPeer: true,
    headers: value === undefined ? {} : { "x-region": value },
  });
  t.equal(region(trusted("10.1.2.3", "ap-south-1")), "ap-south", "trusted peer: the header");
  t.equal(region(trusted("10.1.2.3", "us-east")), "us-east", "the header wins over cidrs");
  t.equal(region(trusted("10.1.2.3", "")), "eu-west", "an empty header: cidrs");
  t.equal(region(trusted("10.2.0.1")), "us-east", "no header: cidrs");
  t.equal(
    region(from("10.1.2.3", header("x-region", "ap-south-1"))),
    "eu-west",
    "untrusted peer: header ignored",
  );
  t.equal(region(from("10.1.2.3")), "eu-west", "in both blocks: the first region in config");
  t.equal(region(from("10.200.0.1")), "us-east", "IPv4, second region");
  t.equal(region(from("2001:db8:1::5")), "eu-west", "IPv6, first region");
  t.equal(region(from("2001:db8:2::5")), "us-east", "IPv6, second region");
  t.equal(region(from("::ffff:10.1.2.3")), "eu-west", "IPv4-mapped client");
  t.equal(region(from("192.0.2.1")), "absent", "in no block");
  t.equal(region(from("")), "absent", "no address");
  t.equal(region(from("nonsense")), "absent", "not an address");
});

t.test(
  "region: absent fails a matcher",
  when(
    "{ region: [eu-west, us-east] }",
    [
      ["present", from("10.1.2.3"), true],
      ["absent", from("192.0.2.1"), false],
    ],
    { extra: REGION },
  ),
);

t.test(
  "region and feature names of digits alone are refused (JavaScript would reorder them)",
  async (t) => {
    t.throws(
      () =>
        build(`region:\n  cidrs:\n    zone-b: [10.0.0.0/8]\n    "7": [10.1.0.0/16]\nroutes: []\n`),
      /region\.cidrs\["?7"?\]|region\.cidrs\.7|digits alone/,
    );
    t.throws(
      () => whenTable("{}", { extra: 'features:\n  beta: {}\n  "2024": {}\n' }),
      /digits alone/,
    );
  },
);

t.test("region: cidrs are tried in config order", async (t) => {
  const table = build(`region:
  cidrs:
    zone-b: [10.0.0.0/8]
    zone-a: [10.1.0.0/16]
routes:
  - name: r
    versions: { stable: v1, canary: v2 }
    rules:
      - { name: zone-a, when: { region: zone-a }, to: canary }
      - { name: zone-b, when: { region: zone-b }, to: canary }
`);
  t.equal(table.decide(facts(from("10.1.2.3"))).rule, "zone-b", "zone-b is listed first");
});

t.test(
  "ip: IPv4, IPv6, mapped, bare addresses, invalid clients",
  clients('{ ip: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7] }', {
    "10.2.3.4": true,
    "11.0.0.1": false,
    "2001:db8:abcd::1": true,
    "2001:db9::1": false,
    "::ffff:10.9.9.9": true,
    "::ffff:11.9.9.9": false,
    "192.0.2.7": true,
    "192.0.2.8": false,
    "": false,
    unknown: false,
    "10.0.0.256": false,
    "010.0.0.1": false,
  }),
);
t.test(
  "ip: a single CIDR string",
  clients("{ ip: 10.0.0.0/8 }", {
    "10.0.0.1": true,
    "::1": false,
  }),
);

t.test("random: holds when random() * 10000 < percent * 100", async (t) => {
  const rolls = (percent: number, ...values: number[]) => {
    const table = whenTable(`{ random: ${percent} }`, { random: dice(...values) });
    return values.map(() => hit(table.decide(facts())));
  };
  t.same(rolls(5, 0.0499, 0.05, 0, 0.9), [true, false, true, false]);
  t.same(rolls(33.33, 0.33329, 0.3333), [true, false]);
  t.same(rolls(0, 0, 0.5), [false, false]);
  t.same(rolls(100, 0, 0.999999), [true, true]);
});

const SALTED = "{ key: header:x-user-id, percent: 10, salt: orders-2026-11 }";
const hashOf = (table: RouteTable, init: FactsInit) => table.decide(facts(init)).hash;
const user = (id: string) => header("x-user-id", id);

t.test("hash: bucket and threshold as the vectors say", async (t) => {
  const table = whenTable(`{ hash: ${SALTED} }`);
  t.ok(hit(table.decide(facts(user("user-2")))), "user-2 (bucket 551) is in at 10%");
  t.strictSame(hashOf(table, user("user-2")), {
    key: "header:x-user-id",
    value: "user-2",
    bucket: 551,
    threshold: 1000,
  });
  t.notOk(hit(table.decide(facts(user("user-1")))), "user-1 (bucket 8024) is out");
  t.equal(hashOf(table, user("user-1"))?.bucket, 8024);
  const at = (percent: number) =>
    whenTable(`{ hash: { key: header:x-user-id, percent: ${percent}, salt: orders-2026-11 } }`);
  t.notOk(hit(at(5.51).decide(facts(user("user-2")))), "bucket 551 is not below 551");
  t.ok(hit(at(5.52).decide(facts(user("user-2")))), "bucket 551 is below 552");
  t.ok(hit(at(100).decide(facts(user("user-1")))), "everyone at 100%");
  t.notOk(hit(at(0).decide(facts(user("user-2")))), "no one at 0%");
});

t.test("hash: every shared vector, with explicit and with default salt", async (t) => {
  const file = new URL("../fixtures/hash-vectors.json", import.meta.url);
  const { vectors } = JSON.parse(readFileSync(file, "utf8")) as {
    vectors: { input: string; bucket: number }[];
  };
  let checked = 0;
  for (const { input, bucket } of vectors) {
    const colon = input.indexOf(":");
    const [salt, value] = [input.slice(0, colon), input.slice(colon + 1)];
    if (colon === -1 || value === "") continue;
    const explicit = whenTable(`{ hash: { key: header:x-k, percent: 50, salt: "${salt}" } }`);
    const byRoute = whenTable("{ hash: { key: header:x-k, percent: 50 } }", { route: salt });
    for (const table of [explicit, byRoute]) {
      const decision = table.decide(facts(header("x-k", value)));
      t.equal(decision.hash?.bucket, bucket, input);
      t.equal(hit(decision), bucket < 5000, `${input}: holds iff bucket < 5000`);
    }
    checked++;
  }
  t.ok(checked >= 8, "most vectors have a salt and a key");
});

t.test("hash: the first present, non-empty key wins", async (t) => {
  const table = whenTable(
    "{ hash: { key: [header:X-User-Id, cookie:uid, query:uid, ip], percent: 100, salt: orders-2026-11 } }",
  );
  const key = (init: FactsInit) => {
    const hash = hashOf(table, init);
    return hash === undefined ? undefined : `${hash.key}=${hash.value}`;
  };
  const all: FactsInit = {
    headers: { "x-user-id": "user-1", cookie: "uid=user-2" },
    query: "uid=user-42",
  };
  t.equal(key(all), "header:X-User-Id=user-1", "header first (name matched case-insensitively)");
  t.equal(key({ ...all, headers: { "x-user-id": "", cookie: "uid=user-2" } }), "cookie:uid=user-2");
  t.equal(key({ ...all, headers: { cookie: "uid=" } }), "query:uid=user-42", "empty cookie");
  t.equal(key({ query: "uid=user%2D42" }), "query:uid=user-42", "query values are decoded");
  t.equal(key(from("10.1.2.3", query("uid="))), "ip=10.1.2.3", "then the client address");
  t.equal(key(from("")), undefined, "no key at all");
  t.notOk(hit(table.decide(facts(from("")))), "no key: no match even at 100%");
});

t.test("hash: ip key and the default salt (the route's name)", async (t) => {
  const at = (percent: number, salt = "") =>
    whenTable(`{ hash: { key: ip, percent: ${percent}${salt} } }`, { route: "orders" });
  const client = from("10.1.2.3");
  t.equal(at(66.06).decide(facts(client)).hash?.bucket, 6605, "orders:10.1.2.3 → 6605");
  t.ok(hit(at(66.06).decide(facts(client))));
  t.notOk(hit(at(66.05).decide(facts(client))));
  t.equal(
    at(50, ", salt: checkout").decide(facts(from("bob"))).hash?.bucket,
    7467,
    "an explicit salt replaces the route's name",
  );
});

t.test("hash: decision.hash reports the deciding rule, else the first failed hash", async (t) => {
  const table = build(`routes:
  - name: r
    versions: { stable: v1, canary: v2 }
    rules:
      - name: gated
        when: { header: { x-gate: open }, hash: { key: header:x-user-id, percent: 20, salt: orders-2026-11 } }
        to: canary
      - { name: nokey, when: { hash: { key: cookie:uid, percent: 10 } }, to: canary }
      - { name: tenth, when: { hash: ${SALTED} }, to: canary }
      - { name: half, when: { hash: { key: header:x-user-id, percent: 50, salt: orders-2026-11 } }, to: canary }
      - { name: beta, when: { header: { x-beta: yes } }, to: canary }
`);
  const decide = (init: FactsInit) => table.decide(facts(init));
  const u1 = { key: "header:x-user-id", value: "user-1", bucket: 8024 };
  t.match(decide(user("user-2")), { rule: "tenth", hash: { value: "user-2", threshold: 1000 } });
  t.match(decide({ headers: { "x-user-id": "user-1", "x-beta": "yes" } }), {
    rule: "beta",
    hash: { ...u1, threshold: 1000 },
  });
  t.match(decide(user("user-1")), { rule: "default", hash: { ...u1, threshold: 1000 } });
  t.match(
    decide({ headers: { "x-user-id": "user-1", "x-gate": "open" } }),
    { rule: "default", hash: { ...u1, threshold: 2000 } },
    "a gated hash that failed is the first evaluated",
  );
  t.equal(decide(header("x-beta", "yes")).hash, undefined, "no hash evaluated");
  t.equal(decide({}).hash, undefined, "nothing leaks from an earlier call");
});

t.test("rules: first match wins, disabled skipped, none → stable", async (t) => {
  const table = build(`routes:
  - name: r
    versions: { stable: v1, canary: v2, blue: v3 }
    rules:
      - { name: off, enabled: false, when: { header: { x-a: one } }, to: blue }
      - { name: first, when: { header: { x-a: one } }, to: canary }
      - { name: second, when: { header: { x-a: { present: true } } }, to: blue }
      - { name: back, when: { header: { x-b: one } }, to: stable }
      - { name: never, enabled: false, to: canary }
`);
  const decide = (init: FactsInit) => {
    const { rule, version, upstream } = table.decide(facts(init));
    return [rule, version, upstream];
  };
  t.same(decide(header("x-a", "one")), ["first", "canary", "v2"]);
  t.same(decide(header("x-a", "two")), ["second", "blue", "v3"]);
  t.same(decide({ headers: { "x-a": "two", "x-b": "one" } }), ["second", "blue", "v3"]);
  t.same(decide(header("x-b", "one")), ["back", "stable", "v1"]);
  t.same(decide({}), ["default", "stable", "v1"]);
  t.equal(table.decide(facts()).compiled?.name, "r");
});

t.test("routes: first match wins, no match takes everything, none → none", async (t) => {
  const table = build(`routes:
  - { name: api-a, match: { host: api.example.com, path: { prefix: /a } }, versions: { stable: v1 } }
  - { name: wild, match: { host: "*.example.com" }, versions: { stable: v2 } }
  - { name: api-all, match: { host: api.example.com }, versions: { stable: v3 } }
  - { name: listed, match: { host: [other.test, API.Example.ORG], path: /x }, versions: { stable: v3 } }
  - { name: all, versions: { stable: v1 } }
`);
  const route = (init: FactsInit) => table.decide(facts(init)).route;
  t.equal(route({ path: "/a/1" }), "api-a");
  t.equal(route({ path: "/b" }), "wild", "a wildcard route listed earlier still comes first");
  t.equal(route(host("www.example.com")), "wild");
  t.equal(route({ host: "api.example.org", path: "/x" }), "listed");
  t.equal(route(host("other.test")), "all", "a route without match takes everything");
  t.equal(route(host("example.com")), "all");

  const none = build(`features:
  always: {}
routes:
  - { name: only, match: { host: api.example.com }, versions: { stable: v1 } }
`).decide(facts(host("other.test")));
  t.strictSame(
    [none.route, none.version, none.upstream, none.rule, none.features, none.featuresHeader],
    ["none", "none", "none", "default", [], ""],
  );
  t.equal(none.hash, undefined);
  t.equal(none.compiled, undefined);
});

const FEATURES = `features:
  zeta: {}
  off: { enabled: false }
  off-when: { enabled: false, when: { header: { x-beta: yes } } }
  beta: { when: { header: { x-beta: yes } } }
  checkout: { when: { hash: { key: header:x-user-id, percent: 75 } } }
  office: { when: { ip: 10.0.0.0/8 } }
  alpha: { when: { method: post } }
`;

t.test("features: enabled, when, order as in config", async (t) => {
  const table = whenTable(`{ hash: ${SALTED} }`, { extra: FEATURES });
  const features = (init: FactsInit) => {
    const d = table.decide(facts(init));
    return [d.features, d.featuresHeader];
  };
  t.same(features({}), [["zeta"], "zeta"], "no when: always; disabled: never");
  const everything: FactsInit = {
    method: "POST",
    clientAddress: "10.1.1.1",
    headers: { "x-beta": "yes", "x-user-id": "bob" },
  };
  const all = ["zeta", "beta", "checkout", "office", "alpha"];
  t.same(features(everything), [all, all.join(",")], "checkout:bob is bucket 7467 < 7500");
  t.same(features({ ...everything, headers: { "x-user-id": "alice@example.com" } }), [
    ["zeta", "office", "alpha"],
    "zeta,office,alpha",
  ]);
  t.same(features(everything)[0], all, "the same set again (cached)");
  t.match(
    hashOf(table, user("bob")),
    { key: "header:x-user-id", value: "bob", threshold: 1000 },
    "a feature's hash (threshold 7500) does not replace the rule's",
  );
  t.equal(
    hashOf(build(`${FEATURES}\nroutes: [{ name: r, versions: { stable: v1 } }]`), user("bob")),
    undefined,
  );
});

t.test("features: none enabled → [] and empty header", async (t) => {
  const d = whenTable("{}", { extra: "features:\n  off: { enabled: false }\n" }).decide(facts());
  t.strictSame([d.features, d.featuresHeader], [[], ""]);
});

t.test("features: more than 30 keep config order", async (t) => {
  const names = Array.from({ length: 33 }, (_, i) => `f${(i * 7) % 33}x`);
  const lines = names.map(
    (name, i) => `  ${name}: { when: { query: { q${i % 2}: { present: true } } } }`,
  );
  const table = whenTable("{}", { extra: `features:\n${lines.join("\n")}\n` });
  t.same(table.decide(facts(query("q0&q1"))).features, names);
  t.same(
    table.decide(facts(query("q1"))).features,
    names.filter((_, i) => i % 2 === 1),
  );
  t.same(table.decide(facts()).features, []);
});

t.test("features: names keep config order", async (t) => {
  const d = whenTable("{}", { extra: "features:\n  zeta: {}\n  alpha: {}\n" }).decide(facts());
  t.same(d.features, ["zeta", "alpha"]);
  t.equal(d.featuresHeader, "zeta,alpha");
});
