/**
 * Decisions per second for a 50-route × 10-rule table with rules of every
 * kind, on one core (npm run bench:decide). Prints the median of several runs.
 */
import { cpus } from "node:os";
import { loadConfigText } from "../src/config/load.ts";
import { compileTable, type RequestFacts } from "../src/routing/table.ts";
import { ROUTE_COUNT as ROUTES, tableYaml } from "./lib/route-table.ts";

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

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

const loaded = loadConfigText(
  tableYaml({ stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002" }),
  "bench.yaml",
  {},
);
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
