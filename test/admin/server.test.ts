/**
 * The admin listener in this process (README, "Admin API"; docs/ERRORS.md):
 * createAdminServer on port 0 over a real compiled config and real metrics,
 * driven through the AdminHost it declares. Fast, beside the process-level
 * tests of test/admin/process.test.ts.
 */
import type { AddressInfo } from "node:net";
import t from "tap";
import { request } from "undici";
import { type AdminHost, type AdminState, createAdminServer } from "../../src/admin/server.ts";
import { loadConfigText } from "../../src/config/load.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import { compileTable } from "../../src/routing/table.ts";

const YAML = `admin: { token: s3cret }
upstreams:
  v1: { targets: ["http://127.0.0.1:8001"] }
  v2: { targets: ["http://127.0.0.1:8002"] }
routes:
  - name: web
    versions: { stable: v1, canary: v2 }
    rules:
      - { name: qa, when: { header: { x-canary: always } }, to: canary }
`;
const result = loadConfigText(YAML, "admin.yaml", {});
if (!result.ok) throw new Error("the test config is invalid");
const loaded = result.loaded;
const table = compileTable(loaded.config);
const metrics = new Metrics({ role: "all" });
const state: AdminState = { readiness: "starting" };
let reloadAnswer: Awaited<ReturnType<AdminHost["reload"]>> = { ok: true, hash: "abc" };
const failures: string[] = [];
const host: AdminHost = {
  state,
  renderMetrics: (accept) => metrics.render(accept),
  current: () => ({
    hash: loaded.hash,
    loadedAt: new Date(0),
    file: loaded.file,
    source: loaded.source,
    token: loaded.config.admin.token,
    table,
  }),
  reload: async () => reloadAnswer,
  logError: (message) => failures.push(message),
};
const server = createAdminServer(host);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function call(path: string, options: { method?: "GET" | "POST"; token?: string } = {}) {
  const response = await request(`${base}${path}`, {
    method: options.method ?? "GET",
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(text) };
}

t.test("readiness follows the host's state", async (t) => {
  t.strictSame((await call("/readyz")).status, 503, "starting: 503");
  state.readiness = "ready";
  t.strictSame(await call("/readyz").then((a) => [a.status, a.body]), [200, { status: "ready" }]);
  state.readiness = "draining";
  t.equal((await call("/readyz")).status, 503, "draining: 503");
  t.equal((await call("/healthz")).status, 200, "healthz: 200 whatever the state");
});

t.test("explain reads the host's table", async (t) => {
  const answer = await call("/explain?path=/&header=x-canary:always");
  t.equal(answer.status, 200);
  t.match(answer.body, { route: "web", version: "canary", rule: "qa" });
  const bad = await call("/explain?path=nope");
  t.equal(bad.status, 400);
  t.equal(bad.body.error, "bad_request", "the catalog's code");
  t.match(bad.body.message, /path is required/, "with what was wrong");
});

t.test("errors come from the catalog", async (t) => {
  const missing = await call("/nowhere");
  t.strictSame([missing.status, missing.body.error], [404, "not_found"]);
  t.match(missing.body.message, /\/nowhere$/);
  const wrongMethod = await call("/-/reload");
  t.strictSame([wrongMethod.status, wrongMethod.body.error], [405, "method_not_allowed"]);
  const noToken = await call("/-/reload", { method: "POST" });
  t.strictSame([noToken.status, noToken.body.error], [401, "unauthorized"]);
  t.equal(noToken.headers["www-authenticate"], 'Bearer realm="graygate"');
});

t.test("reload answers the host's outcome", async (t) => {
  reloadAnswer = { ok: true, hash: "abc" };
  t.strictSame(await call("/-/reload", { method: "POST", token: "s3cret" }).then((a) => a.body), {
    hash: "abc",
  });
  reloadAnswer = { ok: false, problems: ["admin.yaml:3:5: routes: bad"] };
  const rejected = await call("/-/reload", { method: "POST", token: "s3cret" });
  t.strictSame(
    [rejected.status, rejected.body],
    [400, { errors: ["admin.yaml:3:5: routes: bad"] }],
  );
});

t.test("the config is shown as written, the token redacted", async (t) => {
  const answer = await call("/config");
  t.equal(answer.body.hash, loaded.hash);
  t.equal(answer.body.config.admin.token, "[redacted]");
  t.strictSame(failures, [], "no admin request failed");
});
