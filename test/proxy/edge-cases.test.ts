/** Answers and requests at the edges of HTTP: informational responses, absolute-form, h2c, a renamed version header. */
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import t from "tap";
import {
  canaryRoute,
  config,
  rawExchange,
  send,
  startEcho,
  startGraygate,
  startRawUpstream,
} from "./helpers.ts";

const echo = await startEcho(t, "stable");

t.test("a 103 Early Hints before the answer: the client gets the final 200 whole", async (t) => {
  const hinting = await startRawUpstream(t, (socket) => {
    socket.once("data", () => {
      socket.write("HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n");
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nfinal");
    });
  });
  const gg = await startGraygate(t, config([canaryRoute("hints", hinting.url, hinting.url)]));
  const answer = await send(gg, "/");
  t.equal(answer.status, 200);
  t.equal(answer.text, "final");
  t.equal(answer.headers["x-graygate-version"], "stable");
});

t.test("absolute-form: forwarded in origin-form, the path not normalised", async (t) => {
  const gg = await startGraygate(t, config([canaryRoute("abs", echo.url, echo.url)]));
  const port = Number(new URL(gg.proxy).port);
  const { head } = await rawExchange(
    port,
    "GET http://elsewhere.test/a/./b/../c?x=1 HTTP/1.1\r\nhost: elsewhere.test\r\nconnection: close\r\n\r\n",
  );
  t.match(head, /^HTTP\/1\.1 200/);
  t.equal(echo.seen.at(-1)?.url, "/a/./b/../c?x=1");
});

t.test("an h2c Upgrade is served as plain HTTP/1.1, the Upgrade header dropped", async (t) => {
  const gg = await startGraygate(t, config([canaryRoute("h2c", echo.url, echo.url)]));
  const port = Number(new URL(gg.proxy).port);
  const { head, body } = await rawExchange(
    port,
    "GET /h2c HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
  );
  t.match(head, /^HTTP\/1\.1 200/);
  t.match(body, /"url":"\/h2c"/);
  const seen = echo.seen.at(-1)?.headers ?? {};
  t.equal(seen.upgrade, undefined);
  t.equal(seen["http2-settings"], undefined);
});

t.test(
  "a version header written in capitals is sent lower-cased and replaces the client's",
  async (t) => {
    const gg = await startGraygate(
      t,
      config([canaryRoute("named", echo.url, echo.url)], {
        server: { versionHeader: "X-Version" },
      }),
    );
    const answer = await send(gg, "/", { headers: { "x-version": "spoofed" } });
    t.equal(answer.headers["x-version"], "stable");
    t.equal(echo.seen.at(-1)?.headers["x-version"], "stable", "the client's copy is replaced");
  },
);

t.test("a canary whose TLS handshake fails falls back to stable", async (t) => {
  // A server with no certificate at all: every handshake fails before a byte of HTTP.
  const broken = createHttpsServer({}, (_req, res) => res.end("never"));
  await new Promise<void>((resolve) => broken.listen(0, "127.0.0.1", resolve));
  t.teardown(() => broken.close());
  const canary = `https://127.0.0.1:${(broken.address() as AddressInfo).port}`;
  const gg = await startGraygate(t, config([canaryRoute("tls", echo.url, canary)]));
  const answer = await send(gg, "/", { headers: { "x-canary": "always" } });
  t.equal(answer.status, 200);
  t.equal(answer.headers["x-graygate-version"], "stable");
});

t.test("an upgrade the upstream refuses (403) reaches the client, counted as 403", async (t) => {
  const refusing = await startRawUpstream(t, (socket) => {
    socket.once("data", () => {
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\nconnection: close\r\n\r\nno, ws");
    });
  });
  const gg = await startGraygate(t, config([canaryRoute("refuse", refusing.url, refusing.url)]));
  const port = Number(new URL(gg.proxy).port);
  const { head } = await rawExchange(
    port,
    "GET /socket HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  );
  t.match(head, /^HTTP\/1\.1 403/);
  t.match(head.toLowerCase(), /x-graygate-version: stable/);
  const metrics = await (await fetch(`${gg.admin}/metrics`)).text();
  t.match(metrics, /graygate_requests_total\{route="refuse",version="stable",[^}]*code="403"\} 1/);
});

t.test("two Host headers: 400, never forwarded (RFC 9112 §3.2)", async (t) => {
  const gg = await startGraygate(t, config([canaryRoute("hosts", echo.url, echo.url)]));
  const before = echo.seen.length;
  const { head, body } = await rawExchange(
    Number(new URL(gg.proxy).port),
    "GET /twice HTTP/1.1\r\nHost: a.test\r\nhost: b.test\r\nconnection: close\r\n\r\n",
  );
  t.match(head, /^HTTP\/1\.1 400/);
  t.match(body, /"error":"bad_request"/);
  t.equal(echo.seen.length, before, "the upstream saw nothing");
});
