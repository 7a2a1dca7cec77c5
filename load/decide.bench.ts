/**
 * Decisions per second for a 50-route × 10-rule table with rules of every
 * kind, on one core (npm run bench:decide). Prints the median of several runs.
 */
import { cpus } from "node:os";
import { loadConfigText } from "../src/config/load.ts";
import { compileTable, type RequestFacts } from "../src/routing/table.ts";

const ROUTES = 50;
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function benchConfig(): string {
  const lines = [
    "server: { trustedProxies: [10.0.0.0/8] }",
    "region: { header: x-region, cidrs: { eu-west: [10.1.0.0/16], us-east: [10.2.0.0/16, '2001:db8::/32'] } }",
    "upstreams:",
    "  v1: { targets: ['http://127.0.0.1:9001'] }",
    "  v2: { targets: ['http://127.0.0.1:9002'] }",
    "features:",
    "  new-checkout: { when: { hash: { key: header:x-user-id, percent: 20 } } }",
    "  office: { when: { ip: [10.50.0.0/16] } }",
    "  off: { enabled: false }",
    "routes:",
  ];
  for (let r = 0; r < ROUTES; r++) {
    lines.push(
      `  - name: svc${r}`,
      `    match: { host: api${r % 5}.example.com, path: { prefix: /v1/svc${r}/ }, method: [GET, POST, PUT] }`,
      "    versions: { stable: v1, canary: v2 }",
      "    rules:",
      "      - { name: force, when: { header: { x-canary: always } }, to: canary }",
      "      - { name: optout, when: { cookie: { canary: never } }, to: stable }",
      "      - { name: partners, when: { query: { app_key: [k-123, k-456, k-789] } }, to: canary }",
      "      - { name: beta-ua, when: { header: { user-agent: { regex: '^ExampleApp/9\\.' } } }, to: canary }",
      "      - { name: office, when: { ip: [10.50.0.0/16, '2001:db8:50::/48'] }, to: canary }",
      "      - { name: debug, when: { header: { x-debug: { present: true } } }, to: canary }",
      "      - { name: not-legacy, when: { header: { x-client: { not: { in: [legacy, old] } } }, path: { suffix: /beta } }, to: canary }",
      "      - { name: eu, when: { region: [eu-west], hash: { key: [header:x-user-id, cookie:uid], percent: 10 } }, to: canary }",
      "      - { name: sampled, enabled: false, when: { random: 5 }, to: canary }",
      `      - { name: sticky, when: { hash: { key: [header:x-user-id, cookie:uid], percent: 25, salt: svc${r}-2026 } }, to: canary }`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function requests(count: number): RequestFacts[] {
  const out: RequestFacts[] = [];
  for (let i = 0; i < count; i++) {
    const r = (i * 7919) % ROUTES;
    // A plain object, as Node gives req.headers.
    const headers: Record<string, string> = {};
    headers.host = `api${r % 5}.example.com`;
    headers["user-agent"] = i % 3 === 0 ? "ExampleApp/8.1" : "curl/8.5.0";
    headers["x-user-id"] = `user-${(i * 2654435761) % 1_000_003}`;
    headers.accept = "application/json";
    if (i % 4 === 0) headers.cookie = `session=abc${i}; uid=u${i}; theme=dark`;
    if (i % 11 === 0) headers["x-region"] = "eu-west";
    out.push({
      method: i % 5 === 0 ? "POST" : "GET",
      host: headers.host,
      path: `/v1/svc${r}/items/${i}`,
      query: i % 2 === 0 ? `page=${i % 10}&app_key=k-${i % 1000}` : "",
      headers,
      clientAddress: `10.${i % 4}.${(i >> 8) & 255}.${i & 255}`,
      trustedPeer: i % 2 === 0,
    });
  }
  return out;
}

const loaded = loadConfigText(benchConfig(), "bench.yaml", {});
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems, null, 2));
const table = compileTable(loaded.loaded.config);
// Round-trip through JSON so strings are flat, as Node's HTTP parser hands them over.
const facts = JSON.parse(JSON.stringify(requests(8192))) as RequestFacts[];
const mask = facts.length - 1;

let sink = 0;
/** One batch of decisions; a function of its own, so that it is optimized as a whole, not by OSR. */
function batch(start: number): void {
  for (let i = 0; i < 1024; i++) {
    const d = table.decide(facts[(start + i) & mask] as RequestFacts);
    sink += d.rule.length;
  }
}

function run(ms: number): number {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    batch(n);
    n += 1024;
  }
  return n / (ms / 1000);
}

run(2000); // warm-up: let the JIT settle
const rates: number[] = [];
for (let i = 0; i < RUNS; i++) rates.push(run(RUN_MS));
rates.sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)] as number;
const canary = facts.filter((f) => table.decide(f).version === "canary").length;
process.stdout.write(
  [
    `decide: ${ROUTES} routes × 10 rules, ${facts.length} distinct requests (${((100 * canary) / facts.length).toFixed(1)}% to canary)`,
    `runs: ${rates.map((r) => (r / 1e6).toFixed(2)).join(", ")} M/s`,
    `median: ${(median / 1e6).toFixed(2)} M decisions/s (${(1e9 / median).toFixed(0)} ns each)`,
    `node ${process.version}, ${cpus()[0]?.model ?? "unknown cpu"}, ${cpus().length} cores`,
    `(sink ${sink % 10})`,
    "",
  ].join("\n"),
);
