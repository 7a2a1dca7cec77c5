/** Active health checks: a failing target leaves the round robin and comes back; none left → 503 or fallback. */
import t, { type Test } from "tap";
import {
  config,
  errorBody,
  sample,
  scrape,
  send,
  startGraygate,
  startUpstream,
  until,
} from "./helpers.ts";

/** An upstream that names itself, whose /healthz answers 200 or 500 as the test says. */
async function switchable(t: Test, name: string) {
  const state = { healthy: true };
  const upstream = await startUpstream(t, (req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(state.healthy ? 200 : 500).end();
      return;
    }
    res.end(name);
  });
  return { ...upstream, state };
}

const check = {
  path: "/healthz",
  interval: "100ms",
  timeout: "500ms",
  unhealthyAfter: 2,
  healthyAfter: 2,
};

t.test("an unhealthy target is taken out, and put back when healthy again", async (t) => {
  const a = await switchable(t, "a");
  const b = await switchable(t, "b");
  const gg = await startGraygate(t, {
    ...config([]),
    upstreams: { pair: { targets: [a.url, b.url], healthCheck: check } },
    routes: [{ name: "r", versions: { stable: "pair" } }],
  });
  const up = async (target: string) =>
    sample((await scrape(gg)).text, "graygate_upstream_target_up", { upstream: "pair", target });
  b.state.healthy = false;
  await until(t, "b is reported down", async () => (await up(b.url)) === 0);
  const answers = await Promise.all(Array.from({ length: 10 }, () => send(gg, "/")));
  t.same(new Set(answers.map((answer) => answer.text)), new Set(["a"]), "only a serves");
  b.state.healthy = true;
  await until(t, "b is reported up again", async () => (await up(b.url)) === 1);
  const after = await Promise.all(Array.from({ length: 10 }, () => send(gg, "/")));
  t.same(new Set(after.map((answer) => answer.text)), new Set(["a", "b"]), "both serve");
});

t.test("no healthy target: stable answers 503, a canary falls back to stable", async (t) => {
  const stable = await switchable(t, "stable");
  const canary = await switchable(t, "canary");
  const gg = await startGraygate(t, {
    ...config([]),
    upstreams: {
      s: { targets: [stable.url], healthCheck: check },
      c: { targets: [canary.url], healthCheck: check },
    },
    routes: [
      {
        name: "r",
        versions: { stable: "s", canary: "c" },
        rules: [{ name: "force", when: { header: { "x-canary": "always" } }, to: "canary" }],
      },
    ],
  });
  canary.state.healthy = false;
  await until(t, "the canary is down", async () => {
    const answer = await send(gg, "/", { headers: { "x-canary": "always" } });
    return answer.headers["x-graygate-version"] === "stable";
  });
  const fallback = await send(gg, "/", { headers: { "x-canary": "always" } });
  t.equal(fallback.text, "stable");
  stable.state.healthy = false;
  await until(t, "stable is down too", async () => (await send(gg, "/")).status === 503);
  errorBody(t, await send(gg, "/"), 503, "no_healthy_target");
  const metrics = (await scrape(gg)).text;
  t.ok(
    (sample(metrics, "graygate_upstream_errors_total", {
      route: "r",
      version: "stable",
      upstream: "s",
      reason: "no_healthy_target",
    }) ?? 0) >= 1,
  );
});
