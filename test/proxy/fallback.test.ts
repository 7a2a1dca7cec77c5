/** README, "What a request gets": a canary that cannot be reached falls back to stable, unless the route says not to. */
import { Readable } from "node:stream";
import t from "tap";
import {
  canaryRoute,
  config,
  deadUrl,
  errorBody,
  nothingInFlight,
  sample,
  scrape,
  send,
  startEcho,
  startGraygate,
} from "./helpers.ts";

const stable = await startEcho(t, "stable");
const dead = await deadUrl();
const gg = await startGraygate(
  t,
  config([
    canaryRoute("strict", stable.url, dead, {
      match: { path: { prefix: "/strict" } },
      fallback: false,
    }),
    canaryRoute("web", stable.url, dead),
  ]),
);
const CANARY = { headers: { "x-canary": "always" } };

t.test("fallback (the default): stable serves, and everything says stable", async (t) => {
  const answer = await send(gg, "/", CANARY);
  t.equal(answer.status, 200);
  t.equal(JSON.parse(answer.text).version, "stable");
  t.equal(answer.headers["x-graygate-version"], "stable");
  t.equal(stable.seen.at(-1)?.headers["x-graygate-version"], "stable", "upstream told stable");

  const { text } = await scrape(gg);
  t.equal(
    sample(text, "graygate_fallbacks_total", { route: "web", from: "canary", to: "stable" }),
    1,
  );
  const request = { route: "web", upstream: "web-stable", method: "GET", code: "200" };
  t.equal(sample(text, "graygate_requests_total", { ...request, version: "stable" }), 1);
  t.equal(
    sample(text, "graygate_requests_total", { ...request, version: "canary" }),
    undefined,
    "nothing counted as served by the canary",
  );
  const served = { route: "web", version: "stable" };
  t.equal(sample(text, "graygate_request_duration_seconds_count", served), 1);
  const decision = { route: "web", rule: "qa-force", version: "stable" };
  t.equal(sample(text, "graygate_decisions_total", decision), 1, "the decision names stable");
  t.equal(
    sample(text, "graygate_upstream_errors_total", {
      route: "web",
      version: "canary",
      upstream: "web-canary",
      reason: "refused",
    }),
    1,
    "the canary's failure is counted",
  );
});

t.test(
  "fallback carries a chunked request body to stable; nothing is left in flight",
  async (t) => {
    const body = "x".repeat(10_000);
    const chunked = Readable.from([body.slice(0, 4000), body.slice(4000)]);
    const answer = await send(gg, "/upload", { ...CANARY, method: "POST", body: chunked });
    t.equal(answer.status, 200);
    t.equal(answer.headers["x-graygate-version"], "stable");
    t.equal(stable.seen.at(-1)?.body.toString(), body, "stable got the whole body");
    await nothingInFlight(t, gg);
  },
);

t.test("fallback: false → 502 upstream_unreachable from the canary", async (t) => {
  const body = errorBody(t, await send(gg, "/strict", CANARY), 502, "upstream_unreachable");
  t.equal(body.route, "strict");
  t.equal(body.version, "canary");
  const { text } = await scrape(gg);
  t.equal(
    sample(text, "graygate_fallbacks_total", { route: "strict", from: "canary", to: "stable" }),
    undefined,
  );
  t.ok(gg.running);
});
