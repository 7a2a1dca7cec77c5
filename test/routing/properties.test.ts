/** Properties of decide, with fixed seeds so that every run checks the same cases. */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import t from "tap";
import { thresholdOf } from "../../src/routing/bucket.ts";
import type { RouteTable } from "../../src/routing/table.ts";
import { build, type FactsInit, facts, outcome, whenTable } from "./helpers.ts";

/** Tables with one hash rule at a percent, compiled once per percent. */
const byPercent = new Map<number, RouteTable>();
function rollout(percent: number): RouteTable {
  let table = byPercent.get(percent);
  if (table === undefined) {
    table = whenTable(`{ hash: { key: [header:x-user-id, ip], percent: ${percent} } }`, {
      route: "orders",
    });
    byPercent.set(percent, table);
  }
  return table;
}
const inCanary = (percent: number, init: FactsInit) =>
  rollout(percent).decide(facts(init)).version === "canary";

/** A percent with at most two decimals, as the config allows. */
const percent = fc.integer({ min: 0, max: 10_000 }).map((hundredths) => hundredths / 100);
const userKey = fc.oneof(
  fc
    .string({ unit: "grapheme", maxLength: 40 })
    .map((id): FactsInit => ({ headers: { "x-user-id": id } })),
  fc.ipV4().map((ip): FactsInit => ({ clientAddress: ip })),
  fc.ipV6().map((ip): FactsInit => ({ clientAddress: ip })),
);

t.test("raising the percent never removes a key from the canary", async (t) => {
  fc.assert(
    fc.property(userKey, percent, percent, (key, a, b) => {
      const [low, high] = a <= b ? [a, b] : [b, a];
      return !inCanary(low, key) || inCanary(high, key);
    }),
    { seed: 42, numRuns: 3000 },
  );
  t.pass("held at the lower percent → holds at the higher");
});

const CONFIG = `region:
  header: x-region
  cidrs:
    eu-west: [10.1.0.0/16, "2001:db8:1::/48"]
    us-east: [10.0.0.0/8]
features:
  sticky: { when: { hash: { key: [cookie:uid, ip], percent: 30 } } }
  beta: { when: { query: { beta: { present: true } } } }
  eu: { when: { region: eu-west } }
routes:
  - name: orders
    match: { host: [api.example.com, "*.example.org"], path: { prefix: /v1/orders } }
    versions: { stable: v1, canary: v2, blue: v3 }
    rules:
      - { name: qa, when: { header: { x-canary: always } }, to: canary }
      - { name: opt-out, when: { cookie: { canary: never } }, to: stable }
      - { name: eu-tenth, when: { region: eu-west, hash: { key: [header:x-user-id, cookie:uid], percent: 10 } }, to: canary }
      - { name: half, when: { method: POST, hash: { key: query:app, percent: 50, salt: s2 } }, to: blue }
      - { name: sampled, when: { method: GET, random: 40 }, to: blue }
  - name: other
    match: { ip: [10.0.0.0/8, "2001:db8::/32"] }
    versions: { stable: v3 }
`;

const requestFacts = fc.record({
  method: fc.constantFrom("GET", "POST"),
  host: fc.constantFrom("api.example.com", "a.example.org", "example.org", "other.test"),
  path: fc.constantFrom("/v1/orders", "/v1/orders/7", "/v2"),
  query: fc.constantFrom("", "app=k1", "app=k2&beta", "beta", "app="),
  clientAddress: fc.oneof(
    fc.constantFrom("10.1.2.3", "10.2.0.1", "2001:db8:1::9", "::ffff:10.1.9.9", "", "x"),
    fc.ipV4(),
  ),
  trustedPeer: fc.boolean(),
  headers: fc.record(
    {
      "x-canary": fc.constantFrom("always", "no"),
      "x-user-id": fc.string({ maxLength: 12 }),
      "x-region": fc.constantFrom("eu-west", "us-east", ""),
      cookie: fc.constantFrom("uid=u1", "canary=never; uid=u2", "uid=", "a=b"),
    },
    { requiredKeys: [] },
  ),
});

t.test("the same facts decide the same way, across tables and calls", async (t) => {
  // One table per order of calls; the dice are fixed, so `random` is repeatable too.
  const table = () => build(CONFIG, () => 0.3);
  const [first, second] = [table(), table()];
  fc.assert(
    fc.property(fc.array(requestFacts, { minLength: 1, maxLength: 8 }), (list) => {
      const all = list.map((init) => facts(init));
      const forward = all.map((f) => outcome(first.decide(f)));
      const backward = all
        .toReversed()
        .map((f) => outcome(second.decide(f)))
        .toReversed();
      const again = all.map((f) => outcome(first.decide(f)));
      return isDeepStrictEqual(backward, forward) && isDeepStrictEqual(again, forward);
    }),
    { seed: 7, numRuns: 300 },
  );
  t.pass("300 request sequences");
});

t.test("the canary's share lands within ±0.5 points of every percent", async (t) => {
  const table = rollout(100);
  const keys = fc.sample(fc.uuid(), { seed: 2026, numRuns: 100_000 });
  const counts = new Array<number>(10_001).fill(0);
  for (const id of keys) {
    const bucket = table.decide(facts({ headers: { "x-user-id": id } })).hash?.bucket as number;
    counts[bucket + 1] = (counts[bucket + 1] as number) + 1;
  }
  // counts[i] = how many keys have a bucket below i.
  for (let i = 1; i < counts.length; i++)
    counts[i] = (counts[i] as number) + (counts[i - 1] as number);
  t.equal(counts[10_000], keys.length, "every key has a bucket");
  for (const p of [1, 5, 10, 20, 25, 33.33, 50, 75, 90, 99]) {
    const share = ((counts[thresholdOf(p)] as number) * 100) / keys.length;
    t.ok(Math.abs(share - p) <= 0.5, `${p}%: ${share.toFixed(3)}% of keys`);
  }
});
