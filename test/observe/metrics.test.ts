/**
 * The per-request series are plain numbers handed to prom-client at each
 * scrape: every scrape shows the totals so far (never a count twice), and
 * the histogram's buckets are cumulative with the right sum and count, in
 * the text format and in OpenMetrics.
 */
import t from "tap";
import { Metrics } from "../../src/observe/metrics.ts";
import { sample } from "../proxy/helpers.ts";

t.test("counters, the in-flight gauge and the histogram, over two scrapes", async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const entry = metrics.version("orders", "canary", "orders-v2");
  for (const seconds of [0.0005, 0.002, 0.002, 0.3, 42]) {
    metrics.countRequest(entry, "GET", 200);
    metrics.countDecision("orders", "ramp", "canary");
    entry.duration.observe(seconds);
  }
  metrics.countRequest(entry, "POST", 502);
  metrics.countFeatures(["dark-mode", "new-checkout"]);
  entry.inFlight.inc();
  entry.inFlight.inc();
  entry.inFlight.dec();

  const first = (await metrics.render(undefined)).body;
  const request = { route: "orders", version: "canary", upstream: "orders-v2" };
  t.equal(sample(first, "graygate_requests_total", { ...request, method: "GET", code: "200" }), 5);
  t.equal(sample(first, "graygate_requests_total", { ...request, method: "POST", code: "502" }), 1);
  const decision = { route: "orders", rule: "ramp", version: "canary" };
  t.equal(sample(first, "graygate_decisions_total", decision), 5);
  t.equal(sample(first, "graygate_feature_enabled_total", { feature: "dark-mode" }), 1);
  const served = { route: "orders", version: "canary" };
  t.equal(sample(first, "graygate_in_flight_requests", served), 1);
  const bucket = (text: string, le: string) =>
    sample(text, "graygate_request_duration_seconds_bucket", { ...served, le });
  t.equal(bucket(first, "0.001"), 1);
  t.equal(bucket(first, "0.0025"), 3, "cumulative");
  t.equal(bucket(first, "0.25"), 3);
  t.equal(bucket(first, "0.5"), 4);
  t.equal(bucket(first, "10"), 4, "42 s is above the last bound");
  t.equal(bucket(first, "+Inf"), 5);
  t.equal(sample(first, "graygate_request_duration_seconds_count", served), 5);
  t.ok(
    Math.abs((sample(first, "graygate_request_duration_seconds_sum", served) ?? 0) - 42.3045) <
      1e-9,
    "the sum",
  );

  metrics.countRequest(entry, "GET", 200);
  entry.duration.observe(0.001);
  entry.inFlight.dec();
  const second = (await metrics.render(undefined)).body;
  t.equal(
    sample(second, "graygate_requests_total", { ...request, method: "GET", code: "200" }),
    6,
    "a second scrape adds only what came since",
  );
  t.equal(sample(second, "graygate_decisions_total", decision), 5, "unchanged series stay");
  t.equal(sample(second, "graygate_in_flight_requests", served), 0);
  t.equal(bucket(second, "0.001"), 2, "a value on a bound is in that bucket");
  t.equal(bucket(second, "+Inf"), 6);

  const open = await metrics.render("application/openmetrics-text; version=1.0.0");
  t.match(open.contentType, /openmetrics/);
  t.equal(
    sample(open.body, "graygate_requests_total", { ...request, method: "GET", code: "200" }),
    6,
  );
  t.equal(
    sample(open.body, "graygate_request_duration_seconds_bucket", { ...served, le: "+Inf" }),
    6,
  );
  const third = (await metrics.render(undefined)).body;
  t.equal(
    sample(third, "graygate_requests_total", { ...request, method: "GET", code: "200" }),
    6,
    "OpenMetrics in between changes nothing",
  );
});
