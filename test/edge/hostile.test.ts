/**
 * Hostile input from both sides: headers named after Object's own
 * properties, upstreams that answer garbage, Expect: 100-continue, a burst of
 * concurrent requests. Nothing of it may crash the process.
 */
import type { Socket } from "node:net";
import t, { type Test } from "tap";
import {
  canaryRoute,
  config,
  errorBody,
  sample,
  scrape,
  send,
  startEcho,
  startGraygate,
  startRawUpstream,
  startRecorder,
  stillServing,
} from "../proxy/helpers.ts";
import { rawRequest } from "./helpers.ts";

const echo = await startEcho(t, "stable");

t.test(
  "__proto__, constructor, prototype and Trailer headers, cookies and parameters",
  async (t) => {
    const recorder = await startRecorder(t);
    const gg = await startGraygate(
      t,
      config([
        canaryRoute("proto", recorder.url, echo.url, {
          rules: [
            {
              name: "by-header",
              when: { header: { constructor: { present: true } } },
              to: "canary",
            },
            { name: "by-cookie", when: { cookie: { constructor: "x" } }, to: "canary" },
            { name: "by-query", when: { query: { constructor: { present: true } } }, to: "canary" },
            {
              name: "by-hash",
              when: { hash: { key: ["header:toString", "cookie:valueOf"], percent: 100 } },
              to: "canary",
            },
          ],
        }),
      ]),
    );
    // Object.prototype's names are not headers: without them every rule fails.
    const plain = await send(gg, "/plain?a=1");
    t.equal(plain.headers["x-graygate-version"], "stable", "no rule holds on inherited names");

    const answer = await rawRequest(
      gg.proxyPort,
      "GET /p?__proto__=1&hasOwnProperty=2 HTTP/1.1\r\nHost: a.test\r\n__proto__: polluted\r\nprototype: p\r\nhasOwnProperty: h\r\nTrailer: x-t\r\nCookie: __proto__=x; constructor=c; toString=t\r\nConnection: close\r\n\r\n",
    );
    t.equal(answer.status, 200);
    t.match(answer.text, /x-graygate-version: stable/i);
    const seen = recorder.seen.requests.at(-1);
    t.equal(seen?.headers.prototype, "p", "an ordinary header by that name is passed on");
    t.equal(seen?.headers.trailer, undefined, "Trailer is hop-by-hop");
    t.equal(({} as Record<string, unknown>).polluted, undefined, "nothing polluted here");

    const forced = await send(gg, "/p", { headers: { constructor: "yes" } });
    t.equal(forced.headers["x-graygate-version"], "canary", "a real constructor header matches");
    await stillServing(t, gg, "/plain");
  },
);

/** Raw upstreams that answer the first request with `reply` (then close, unless kept). */
async function answering(t: Test, reply: string | ((socket: Socket) => void)) {
  return startRawUpstream(t, (socket) => {
    socket.once("data", () => {
      if (typeof reply === "string") socket.end(Buffer.from(reply, "latin1"));
      else reply(socket);
    });
  });
}

t.test("upstreams that answer what HTTP does not allow get a 502, never a crash", async (t) => {
  const bad: [string, string | ((socket: Socket) => void)][] = [
    ["garbage", "HELLO THERE\r\n\r\n"],
    [
      "a control byte in a header value",
      "HTTP/1.1 200 OK\r\nx-bad: a\x01b\r\ncontent-length: 2\r\n\r\nok",
    ],
    ["a space in a header name", "HTTP/1.1 200 OK\r\nx bad: v\r\ncontent-length: 2\r\n\r\nok"],
    ["NUL in a header value", "HTTP/1.1 200 OK\r\nx-bad: a\x00b\r\ncontent-length: 2\r\n\r\nok"],
    ["a bare LF in the head", "HTTP/1.1 200 OK\nx-a: b\n\nok"],
    ["a two-digit status", "HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\nok"],
    ["a status line with no version", "200 OK\r\ncontent-length: 2\r\n\r\nok"],
    [
      "both Content-Length and chunked",
      "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ],
    ["two Content-Lengths", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"],
    [
      "headers larger than 16 KiB",
      `HTTP/1.1 200 OK\r\nx-big: ${"b".repeat(70_000)}\r\ncontent-length: 2\r\n\r\nok`,
    ],
    [
      "a 100 Continue nobody asked for",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    ],
    ["nothing, then a close", (socket) => socket.end()],
    ["a reset", (socket) => socket.resetAndDestroy()],
  ];
  const upstreams = await Promise.all(bad.map(([, reply]) => answering(t, reply)));
  const gg = await startGraygate(
    t,
    config([
      ...upstreams.map((upstream, i) =>
        canaryRoute(`bad${i}`, upstream.url, upstream.url, {
          match: { path: { prefix: `/bad${i}/` } },
        }),
      ),
      canaryRoute("ok", echo.url, echo.url),
    ]),
  );
  for (const [i, [what]] of bad.entries()) {
    const answer = await send(gg, `/bad${i}/x`);
    errorBody(t, answer, 502, "upstream_unreachable");
    t.ok(gg.running, `${what}: still running`);
  }
  await stillServing(t, gg, "/fine");
});

t.test("an upstream that hangs after an Early Hints, or mid-headers: 504", async (t) => {
  const continueThenHang = await answering(t, (socket) =>
    socket.write("HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"),
  );
  const halfHead = await answering(t, (socket) => socket.write("HTTP/1.1 200 OK\r\ncontent-"));
  const gg = await startGraygate(
    t,
    config(
      [
        canaryRoute("cont", continueThenHang.url, continueThenHang.url, {
          match: { path: { prefix: "/cont" } },
        }),
        canaryRoute("half", halfHead.url, halfHead.url, { match: { path: { prefix: "/half" } } }),
        canaryRoute("ok", echo.url, echo.url),
      ],
      { server: { timeouts: { upstreamResponse: "400ms" } } },
    ),
  );
  errorBody(t, await send(gg, "/cont"), 504, "upstream_timeout");
  errorBody(t, await send(gg, "/half"), 504, "upstream_timeout");
  await stillServing(t, gg, "/fine");
});

t.test("Expect: 100-continue: the client is told to go on, the body arrives", async (t) => {
  const recorder = await startRecorder(t);
  const gg = await startGraygate(t, config([canaryRoute("expect", recorder.url, recorder.url)]));
  const answer = await rawRequest(
    gg.proxyPort,
    "POST /upload HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
  );
  t.match(answer.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const seen = recorder.seen.requests.at(-1);
  t.equal(seen?.body.toString(), "hello");
  t.equal(seen?.headers.expect, undefined, "the expectation is graygate's to meet, not forwarded");
});

t.test("a burst of 500 concurrent requests is answered whole", async (t) => {
  const gg = await startGraygate(t, config([canaryRoute("burst", echo.url, echo.url)]));
  const answers = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      send(gg, `/burst/${i}`, { headers: { "x-canary": i % 2 === 0 ? "always" : "no" } }),
    ),
  );
  t.equal(answers.filter((a) => a.status === 200).length, 500, "all 500 answered 200");
  t.equal(
    answers.filter((a, i) => JSON.parse(a.text).url === `/burst/${i}`).length,
    500,
    "each answer is its own request's",
  );
  const { text } = await scrape(gg);
  const served = (version: string) =>
    sample(text, "graygate_requests_total", {
      route: "burst",
      version,
      upstream: `burst-${version}`,
      method: "GET",
      code: "200",
    });
  t.equal(served("canary"), 250);
  t.equal(served("stable"), 250);
});
