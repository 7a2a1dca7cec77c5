/** README, "Quick start": `graygate demo` answers from its two echo upstreams and counts both. */
import t from "tap";
import { sample, scrape, send, serving } from "./helpers.ts";

const gg = await serving(t, ["demo"], {
  GRAYGATE_DEMO_LISTEN: "127.0.0.1:0",
  GRAYGATE_DEMO_ADMIN: "127.0.0.1:0",
});

t.test("x-canary: always is answered by the canary, a plain request by stable", async (t) => {
  const canary = await send(gg, "/", { headers: { "x-canary": "always" } });
  t.equal(canary.status, 200);
  t.equal(JSON.parse(canary.text).version, "canary");
  t.equal(canary.headers["x-graygate-version"], "canary");
  const stable = await send(gg, "/");
  t.equal(stable.status, 200);
  t.equal(JSON.parse(stable.text).version, "stable");
  t.equal(stable.headers["x-graygate-version"], "stable");

  const { text } = await scrape(gg);
  const get = { route: "demo", method: "GET", code: "200" };
  const canaryCount = { ...get, version: "canary", upstream: "echo-canary" };
  t.equal(sample(text, "graygate_requests_total", canaryCount), 1);
  t.equal(
    sample(text, "graygate_requests_total", { ...get, version: "stable", upstream: "echo-stable" }),
    1,
  );
});

t.test("the demo stops cleanly on SIGTERM", async (t) => {
  t.equal((await gg.stop()).code, 0);
});
