import t from "tap";
import { type ExplainRequest, explain, formatExplanation } from "../../src/routing/explain.ts";
import { build } from "./helpers.ts";

const table = build(`features:
  new-checkout: { when: { hash: { key: header:x-user-id, percent: 100 } } }
  dark-mode: { enabled: false }
routes:
  - name: health
    match: { path: /healthz }
    versions: { stable: v3 }
  - name: orders
    match: { host: api.example.com, path: { prefix: /v1/orders }, method: [GET, POST] }
    versions: { stable: v1, canary: v2 }
    rules:
      - { name: qa-force, when: { header: { x-canary: always } }, to: canary }
      - { name: opt-out, when: { cookie: { canary: never } }, to: stable }
      - { name: beta-partners, when: { query: { app_key: [k-123, k-456] } }, to: canary }
      - { name: sampled, enabled: false, when: { random: 5 }, to: canary }
      - name: tenth
        when: { hash: { key: [header:x-user-id, cookie:uid], percent: 10, salt: orders-2026-11 } }
        to: canary
      - { name: last, when: { header: { x-last: "yes" } }, to: canary }
  - name: rest
    versions: { stable: v3 }
`);

const orders = (more: Partial<ExplainRequest> = {}): ExplainRequest => ({
  host: "api.example.com",
  path: "/v1/orders",
  ...more,
});
const user = (id: string) => orders({ headers: [["X-User-Id", id]] });
const HASH_2 = { key: "header:x-user-id", value: "user-2", bucket: 551, threshold: 1000 };

t.test("the result has the shape of explain --json", async (t) => {
  const { result } = explain(table, user("user-2"));
  t.strictSame(result, {
    route: "orders",
    version: "canary",
    rule: "tenth",
    upstream: "v2",
    features: ["new-checkout"],
    hash: HASH_2,
  });
  const plain = explain(table, orders({ headers: [["x-canary", "always"]] })).result;
  t.strictSame(Object.keys(plain), ["route", "version", "rule", "upstream", "features"]);
  t.strictSame(JSON.parse(JSON.stringify(plain)), {
    route: "orders",
    version: "canary",
    rule: "qa-force",
    upstream: "v2",
    features: [],
  });
  t.strictSame(explain(table, user("user-1")).result, {
    route: "orders",
    version: "stable",
    rule: "default",
    upstream: "v1",
    features: ["new-checkout"],
    hash: { ...HASH_2, value: "user-1", bucket: 8024 },
  });
});

t.test("request facts: path?query, query, cookie, host header, method", async (t) => {
  const { facts, result } = explain(
    table,
    orders({ path: "/v1/orders/7?app_key=k-123", query: "?x=1", method: "post" }),
  );
  t.equal(facts.path, "/v1/orders/7");
  t.equal(facts.query, "app_key=k-123&x=1");
  t.equal(facts.method, "POST");
  t.equal(result.rule, "beta-partners");

  const cookie = explain(table, orders({ cookie: "canary=never" }));
  t.equal(cookie.result.rule, "opt-out");
  t.equal(cookie.facts.headers.cookie, "canary=never");
  const joined = explain(table, orders({ headers: [["Cookie", "a=1"]], cookie: "uid=user-2" }));
  t.equal(joined.facts.headers.cookie, "a=1; uid=user-2", "the option joins a Cookie header");
  t.same(joined.result.hash, { ...HASH_2, key: "cookie:uid" });

  const viaHeader = explain(table, {
    path: "/v1/orders",
    headers: [[" Host ", "API.example.com:8443"]],
  });
  t.equal(viaHeader.facts.host, "api.example.com");
  t.equal(viaHeader.facts.method, "GET");
  t.equal(viaHeader.result.route, "orders");
  t.equal(explain(table, { path: "/v1/orders" }).result.route, "rest", "no host");

  const ip = explain(table, orders({ ip: "10.1.2.3" })).facts;
  t.equal(ip.clientAddress, "10.1.2.3");
  t.equal(ip.trustedPeer, true);
});

t.test("traces: routes up to the match, rules by state", async (t) => {
  const explanation = explain(table, user("user-2"));
  t.same(
    explanation.routes.map((r) => [r.route, r.holds]),
    [
      ["health", false],
      ["orders", true],
    ],
  );
  t.same(
    explanation.rules.map((r) => [r.rule, r.enabled, r.holds]),
    [
      ["qa-force", true, false],
      ["opt-out", true, false],
      ["beta-partners", true, false],
      ["sampled", false, undefined],
      ["tenth", true, true],
      ["last", true, undefined],
    ],
  );
  const hashOut = '[header:x-user-id = "user-2": bucket 551, threshold 1000 (10%) → in]';
  const lines = formatExplanation(explanation).split("\n");
  // The order of a match's conditions is the table's choice (they are ANDed): compare them as a set.
  const [head, conditions] = (lines[9] as string).split(": ");
  t.equal(head, "  ✓ orders");
  t.same(conditions?.split("; ").sort(), [
    '✓ host "api.example.com"',
    '✓ method any of ["GET","POST"]',
    '✓ path prefix "/v1/orders"',
  ]);
  t.same(lines, [
    "route     orders",
    "version   canary",
    "rule      tenth",
    "upstream  v2",
    "features  new-checkout",
    'hash      header:x-user-id = "user-2": bucket 551, threshold 1000 (10%) → in',
    "",
    "routes:",
    '  ✗ health: ✗ path "/healthz"',
    lines[9],
    "",
    "rules of orders:",
    '  ✗ qa-force → canary: ✗ header x-canary "always"',
    '  ✗ opt-out → stable: ✗ cookie canary "never"',
    '  ✗ beta-partners → canary: ✗ query app_key any of ["k-123","k-456"]',
    "  - sampled → canary (disabled)",
    `  ✓ tenth → canary: ✓ hash of header:x-user-id | cookie:uid below 10% (salt "orders-2026-11") ${hashOut}`,
    "    last → canary (not reached)",
  ]);
});

t.test("format: a failed hash, a catch-all route, no route at all", async (t) => {
  const out = formatExplanation(explain(table, user("user-1")));
  t.match(out, /^rule {6}default$/m);
  t.match(out, /^hash {6}header:x-user-id = "user-1": bucket 8024, threshold 1000 \(10%\) → out$/m);
  t.match(out, /^ {2}✗ tenth → canary: ✗ hash of .* → out\]$/m);
  t.match(out, /^ {2}✗ last → canary: ✗ header x-last "yes"$/m);

  const rest = formatExplanation(explain(table, { path: "/elsewhere" }));
  t.match(rest, /^ {2}✓ rest \(matches every request\)$/m);
  t.match(rest, /^features {2}\(none\)$/m);
  t.notMatch(rest, /rules of/);

  const none = build(`routes:
  - { name: only, match: { host: api.example.com }, versions: { stable: v1 } }
`);
  const explanation = explain(none, { host: "other.test", path: "/" });
  t.strictSame(explanation.result, {
    route: "none",
    version: "none",
    rule: "default",
    upstream: "none",
    features: [],
  });
  t.same(explanation.rules, []);
  t.same(formatExplanation(explanation).split("\n").slice(-2), [
    "routes:",
    '  ✗ only: ✗ host "api.example.com"',
  ]);
});
