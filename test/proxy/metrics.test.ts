/** docs/METRICS.md: per-version metrics on /metrics, with labels from the config only. */
import { readFileSync } from "node:fs";
import t from "tap";
import {
  canaryRoute,
  config,
  nothingInFlight,
  parseSamples,
  sample,
  scrape,
  send,
  sha256,
  startEcho,
  startGraygate,
} from "./helpers.ts";

const N1 = 3;
const N2 = 5;
const stable = await startEcho(t, "stable");
const canary = await startEcho(t, "canary");
const gg = await startGraygate(t, config([canaryRoute("shop", stable.url, canary.url)]));

for (let i = 0; i < N1; i++) await send(gg, "/", { headers: { "x-canary": "always" } });
for (let i = 0; i < N2; i++) await send(gg, "/");
const { text } = await scrape(gg);

t.test("requests, decisions and durations are counted per version", async (t) => {
  const get = { route: "shop", method: "GET", code: "200" };
  const expected: [string, Record<string, string>, number][] = [
    ["graygate_requests_total", { ...get, version: "canary", upstream: "shop-canary" }, N1],
    ["graygate_requests_total", { ...get, version: "stable", upstream: "shop-stable" }, N2],
    ["graygate_decisions_total", { route: "shop", rule: "qa-force", version: "canary" }, N1],
    ["graygate_decisions_total", { route: "shop", rule: "default", version: "stable" }, N2],
    ["graygate_request_duration_seconds_count", { route: "shop", version: "canary" }, N1],
    ["graygate_request_duration_seconds_count", { route: "shop", version: "stable" }, N2],
  ];
  for (const [name, labels, value] of expected) {
    t.equal(sample(text, name, labels), value, `${name}${JSON.stringify(labels)}`);
  }
  const requests = parseSamples(text).filter((s) => s.name === "graygate_requests_total");
  t.equal(requests.length, 2, "no other request series");
});

t.test("nothing is left in flight", (t) => nothingInFlight(t, gg));

t.test("the config's hash and load state", async (t) => {
  const hash = sha256(readFileSync(gg.file));
  t.equal(sample(text, "graygate_config_info", { hash }), 1);
  const info = parseSamples(text).filter((s) => s.name === "graygate_config_info");
  t.equal(info.length, 1, "one config_info sample");
  t.equal(sample(text, "graygate_config_last_reload_successful"), 1);
});

t.test("prom-client's default metrics are there", async (t) => {
  const names = parseSamples(text).map((s) => s.name);
  t.ok(
    names.some((name) => name.startsWith("process_")),
    "process_*",
  );
  t.ok(
    names.some((name) => name.startsWith("nodejs_")),
    "nodejs_*",
  );
});

t.test("a non-standard method is labelled OTHER", async (t) => {
  t.equal((await send(gg, "/dav", { method: "PROPFIND" })).status, 200);
  const after = (await scrape(gg)).text;
  const labels = { route: "shop", version: "stable", upstream: "shop-stable", code: "200" };
  t.equal(sample(after, "graygate_requests_total", { ...labels, method: "OTHER" }), 1);
  t.notMatch(after, "PROPFIND");
});

t.test("no label value carries the path or a header value sent", async (t) => {
  await send(gg, "/users/u-8391-path?key=k-5521-query", {
    headers: { "x-user-id": "u-7719-header", cookie: "uid=u-6634-cookie", "x-canary": "always" },
  });
  const after = (await scrape(gg)).text;
  for (const secret of ["u-8391-path", "k-5521-query", "u-7719-header", "u-6634-cookie"]) {
    t.notMatch(after, secret, `${secret} is in no label`);
  }
  const values = parseSamples(after).flatMap((s) => Object.values(s.labels));
  t.notOk(
    values.some((value) => value.includes("/users")),
    "no label value holds the path",
  );
});

t.test("OpenMetrics when asked by Accept", async (t) => {
  const open = await scrape(gg, "application/openmetrics-text; version=1.0.0");
  t.match(open.contentType, /^application\/openmetrics-text/);
  t.match(open.text, /# EOF\n?$/);
  t.ok(sample(open.text, "graygate_config_last_reload_successful") === 1);
  const plain = await scrape(gg);
  t.match(plain.contentType, /^text\/plain/);
  t.notMatch(plain.text, "# EOF");
});
