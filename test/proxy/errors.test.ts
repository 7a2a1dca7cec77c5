/** README, "What a request gets": graygate's own errors are JSON, and the process keeps serving after each. */
import t from "tap";
import {
  canaryRoute,
  config,
  deadUrl,
  errorBody,
  rawExchange,
  sample,
  scrape,
  send,
  startEcho,
  startGraygate,
  startRawUpstream,
  stillServing,
} from "./helpers.ts";

const echo = await startEcho(t, "stable");
/** Accepts requests and never answers them. */
const silent = await startRawUpstream(t, () => {});
const dead = await deadUrl();
/** Resets the connection as soon as a request arrives. */
const reset = await startRawUpstream(t, (socket) => {
  socket.once("data", () => socket.resetAndDestroy());
});

/** A route that takes paths under /NAME, its stable and canary on `stable`. */
const under = (name: string, stable: string) =>
  canaryRoute(name, stable, stable, { match: { path: { prefix: `/${name}` } } });

t.test("404 no_route: the only route wants another host", async (t) => {
  const gg = await startGraygate(
    t,
    config([canaryRoute("known", echo.url, echo.url, { match: { host: "known.test" } })]),
  );
  const answer = await send(gg, "/anything", { headers: { "x-request-id": "rid-404" } });
  const body = errorBody(t, answer, 404, "no_route");
  t.equal(body.route, "none");
  t.equal(body.version, "none");
  t.equal(body.requestId, "rid-404");
  const none = { route: "none", version: "none", upstream: "none" };
  const { text } = await scrape(gg);
  t.equal(sample(text, "graygate_requests_total", { ...none, method: "GET", code: "404" }), 1);
  await stillServing(t, gg, "/anything", "known.test");
});

t.test("upstream failures", async (t) => {
  const gg = await startGraygate(
    t,
    config(
      [
        under("dead", dead),
        under("reset", reset.url),
        under("silent", silent.url),
        canaryRoute("ok", echo.url, echo.url),
      ],
      { server: { maxHeaderBytes: 4096, timeouts: { upstreamResponse: "500ms", headers: "1s" } } },
    ),
  );
  /** graygate_upstream_errors_total of a route's stable, by reason. */
  const upstreamErrors = async (route: string, reason: string) =>
    sample((await scrape(gg)).text, "graygate_upstream_errors_total", {
      route,
      version: "stable",
      upstream: `${route}-stable`,
      reason,
    });

  t.test("502 upstream_unreachable: nothing listens on the target's port", async (t) => {
    const body = errorBody(t, await send(gg, "/dead/x"), 502, "upstream_unreachable");
    t.equal(body.route, "dead");
    t.equal(body.version, "stable");
    t.type(body.requestId, "string");
    t.not(body.requestId, "");
    t.equal(await upstreamErrors("dead", "refused"), 1);
    await stillServing(t, gg, "/ok");
  });

  t.test("502 upstream_unreachable: the connection is reset before a response", async (t) => {
    const body = errorBody(t, await send(gg, "/reset/x"), 502, "upstream_unreachable");
    t.match(body, { route: "reset", version: "stable" });
    t.equal(await upstreamErrors("reset", "reset"), 1);
    await stillServing(t, gg, "/ok");
  });

  t.test("504 upstream_timeout: the upstream accepts and never answers", async (t) => {
    const answer = await send(gg, "/silent/x", { headers: { "x-request-id": "rid-504" } });
    const body = errorBody(t, answer, 504, "upstream_timeout");
    t.strictSame(body, {
      error: "upstream_timeout",
      message: body.message,
      route: "silent",
      version: "stable",
      requestId: "rid-504",
    });
    t.equal(await upstreamErrors("silent", "timeout"), 1);
    await stillServing(t, gg, "/ok");
  });

  t.test("malformed, oversized and slow requests: Node's answer, never forwarded", async (t) => {
    const forwarded = echo.seen.length;
    const bad = await rawExchange(gg.proxyPort, "GARBAGE\r\n\r\n");
    t.match(bad.head, /^HTTP\/1\.1 400 /);
    const big = `GET /ok HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(5000)}\r\n\r\n`;
    t.match((await rawExchange(gg.proxyPort, big)).head, /^HTTP\/1\.1 431 /);
    const slow = await rawExchange(gg.proxyPort, "GET /ok HTTP/1.1\r\nHost: a\r\n");
    t.match(slow.head, /^HTTP\/1\.1 408 /, "headers never finished: 408");
    t.equal(echo.seen.length, forwarded, "none of them reached the upstream");
    await stillServing(t, gg, "/ok");
  });
});
