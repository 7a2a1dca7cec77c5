/**
 * Passive ejection (upstreams.*.outlierDetection) and the one retry on
 * another target: a target whose connections keep failing leaves the round
 * robin and comes back after its ejection; an idempotent request whose
 * connection failed goes once to another target; nothing else is retried.
 */
import { writeFileSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import t, { type Test } from "tap";
import {
  config,
  deadUrl,
  errorBody,
  type Graygate,
  sample,
  scrape,
  send,
  startGraygate,
  startRawUpstream,
  startUpstream,
  until,
} from "./helpers.ts";

/** An upstream answering its name, on a free port. */
const named = (t: Test, name: string) => startUpstream(t, (_req, res) => res.end(name));

/** Brings a server up on the port of a dead URL (it was free a moment ago): its name, or a handler. */
async function revive(t: Test, url: string, answer: string | RequestListener): Promise<Server> {
  const server = createServer(typeof answer === "string" ? (_req, res) => res.end(answer) : answer);
  await new Promise<void>((resolve) =>
    server.listen(Number(new URL(url).port), "127.0.0.1", resolve),
  );
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return server;
}

const up = async (gg: Graygate, upstream: string, target: string) =>
  sample((await scrape(gg)).text, "graygate_upstream_target_up", { upstream, target });

const errors = async (
  gg: Graygate,
  route: string,
  version: string,
  upstream: string,
  reason: string,
) =>
  sample((await scrape(gg)).text, "graygate_upstream_errors_total", {
    route,
    version,
    upstream,
    reason,
  }) ?? 0;

t.test("a target that refuses is retried around, ejected, and readmitted", async (t) => {
  const dead = await deadUrl();
  const live = await named(t, "live");
  const gg = await startGraygate(t, {
    ...config([]),
    upstreams: {
      pair: {
        targets: [dead, live.url],
        outlierDetection: { consecutiveFailures: 2, baseEjectionTime: "400ms" },
      },
    },
    routes: [{ name: "r", versions: { stable: "pair" } }],
  });
  // One at a time, so that the round robin meets the dead target each time.
  const first = [(await send(gg, "/1")).text, (await send(gg, "/2")).text];
  t.strictSame(
    first,
    ["live", "live"],
    "each GET that met the dead target was retried on the live one",
  );
  await gg.waitForLog((line) => line.msg === "target ejected" && line.target === dead);
  t.equal(await up(gg, "pair", dead), 0, "target_up says the dead target is out");
  t.equal(await up(gg, "pair", live.url), 1);
  const refusedSoFar = await errors(gg, "r", "stable", "pair", "refused");
  t.equal(refusedSoFar, 2, "two refusals counted");
  const during = await Promise.all(Array.from({ length: 6 }, () => send(gg, "/during")));
  t.strictSame(new Set(during.map((a) => a.text)), new Set(["live"]));
  t.equal(await errors(gg, "r", "stable", "pair", "refused"), 2, "the ejected target is not tried");

  await revive(t, dead, "revived");
  await gg.waitForLog((line) => line.msg === "target readmitted" && line.target === dead);
  t.equal(await up(gg, "pair", dead), 1, "target_up says it is back");
  const after = await Promise.all(Array.from({ length: 6 }, () => send(gg, "/after")));
  t.strictSame(new Set(after.map((a) => a.text)), new Set(["live", "revived"]), "both serve again");
});

t.test("POST is never retried; GET is, once; a reset after the write is not", async (t) => {
  const dead = await deadUrl();
  const live = await named(t, "live");
  const resetter = await startRawUpstream(t, (socket) => {
    socket.once("data", () => socket.resetAndDestroy());
  });
  const never = { consecutiveFailures: 0 };
  const gg = await startGraygate(t, {
    ...config([]),
    upstreams: {
      pair: { targets: [dead, live.url], outlierDetection: never },
      resetting: { targets: [resetter.url, live.url], outlierDetection: never },
      "all-dead": { targets: [dead, await deadUrl()], outlierDetection: never },
    },
    routes: [
      { name: "reset", match: { path: { prefix: "/reset" } }, versions: { stable: "resetting" } },
      { name: "dead", match: { path: { prefix: "/dead" } }, versions: { stable: "all-dead" } },
      { name: "r", versions: { stable: "pair" } },
    ],
  });
  // Round robin from the first target: the dead one, then the live one.
  errorBody(t, await send(gg, "/post", { method: "POST", body: "x" }), 502, "upstream_unreachable");
  t.equal((await send(gg, "/post", { method: "POST", body: "x" })).text, "live");
  t.equal((await send(gg, "/get")).text, "live", "a GET that met the dead target went on");
  t.equal((await send(gg, "/put", { method: "PUT", body: "x" })).status, 200, "PUT too");

  errorBody(t, await send(gg, "/reset"), 502, "upstream_unreachable");
  t.equal(
    await errors(gg, "reset", "stable", "resetting", "reset"),
    1,
    "sent, then reset: not retried",
  );

  errorBody(t, await send(gg, "/dead"), 502, "upstream_unreachable");
  t.equal(await errors(gg, "dead", "stable", "all-dead", "refused"), 2, "one retry, no more");
});

t.test("stable with its only target ejected is still tried: nowhere else to go", async (t) => {
  const dead = await deadUrl();
  const gg = await startGraygate(t, {
    ...config([]),
    upstreams: {
      solo: {
        targets: [dead],
        outlierDetection: { consecutiveFailures: 1, baseEjectionTime: "4m" },
      },
    },
    routes: [{ name: "r", versions: { stable: "solo" } }],
  });
  errorBody(t, await send(gg, "/"), 502, "upstream_unreachable");
  await gg.waitForLog((line) => line.msg === "target ejected");
  await revive(t, dead, "back");
  t.equal(
    (await send(gg, "/")).text,
    "back",
    "served by the ejected target, as soon as it is back",
  );
});

t.test("a canary whose only target is ejected falls back without being tried", async (t) => {
  const dead = await deadUrl();
  const stable = await named(t, "stable");
  const gg = await startGraygate(t, {
    ...config([]),
    upstreams: {
      s: { targets: [stable.url] },
      c: { targets: [dead], outlierDetection: { consecutiveFailures: 1, baseEjectionTime: "4m" } },
    },
    routes: [
      {
        name: "r",
        versions: { stable: "s", canary: "c" },
        rules: [{ name: "all", when: { header: { "x-canary": "always" } }, to: "canary" }],
      },
    ],
  });
  const canary = { headers: { "x-canary": "always" } };
  t.equal((await send(gg, "/", canary)).text, "stable", "refused, then stable");
  await until(t, "the canary target is out", async () => (await up(gg, "c", dead)) === 0);
  t.equal((await send(gg, "/", canary)).text, "stable");
  t.equal(await errors(gg, "r", "canary", "c", "refused"), 1, "tried once, not again");
  t.equal(await errors(gg, "r", "canary", "c", "no_healthy_target"), 1, "then no healthy target");
  const { text } = await scrape(gg);
  t.equal(
    sample(text, "graygate_fallbacks_total", { route: "r", from: "canary", to: "stable" }),
    2,
  );
});

t.test(
  "a passing probe ends an ejection, but an unhealthy target needs healthyAfter passes",
  async (t) => {
    const dead = await deadUrl();
    const live = await named(t, "live");
    const pair = {
      targets: [dead, live.url],
      // Long enough that only a probe can bring it back within the test.
      outlierDetection: { consecutiveFailures: 1, baseEjectionTime: "5m" },
    };
    const routes = [{ name: "r", versions: { stable: "pair" } }];
    // First without probes, which would mark the dead target down before a request met it.
    const gg = await startGraygate(t, { ...config([]), upstreams: { pair }, routes });
    await Promise.all([
      gg.waitForLog((line) => line.msg === "target ejected" && line.target === dead),
      (async () => {
        await send(gg, "/1");
        await send(gg, "/2");
      })(),
    ]);
    // Back on its port, failing its probes at first.
    const probes = { failed: 0, passed: 0, healthy: false };
    await revive(t, dead, (req, res) => {
      if (req.url !== "/healthz") return void res.end("revived");
      if (probes.healthy) probes.passed++;
      else probes.failed++;
      res.writeHead(probes.healthy ? 200 : 503).end();
    });
    const healthCheck = {
      path: "/healthz",
      interval: "100ms",
      timeout: "500ms",
      unhealthyAfter: 1,
      healthyAfter: 3,
    };
    writeFileSync(
      gg.file,
      JSON.stringify({ ...config([]), upstreams: { pair: { ...pair, healthCheck } }, routes }),
    );
    const reload = await send(gg, `${gg.admin}/-/reload`, { method: "POST" });
    t.equal(reload.status, 200, "reloaded with the health check");
    await until(t, "two probes failed", async () => probes.failed >= 2);
    t.equal(await up(gg, "pair", dead), 0, "ejected (kept across the reload) and unhealthy");
    probes.healthy = true;
    await until(t, "target_up says it is back", async () => (await up(gg, "pair", dead)) === 1);
    t.ok(probes.passed >= 3, `not before three passing probes (${probes.passed})`);
  },
);
