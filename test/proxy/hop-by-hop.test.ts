/** README, "What a request gets": hop-by-hop headers are removed in both directions (raw sockets on the far side). */
import t from "tap";
import {
  canaryRoute,
  config,
  headerNames,
  rawExchange,
  startEcho,
  startGraygate,
  startRawUpstream,
} from "./helpers.ts";

/** An upstream that answers with its own bytes, hop-by-hop headers included. */
const raw = await startRawUpstream(t, (socket) => {
  socket.once("data", () => {
    socket.write(
      "HTTP/1.1 200 OK\r\n" +
        "Connection: x-up-secret\r\n" +
        "X-Up-Secret: 1\r\n" +
        "Keep-Alive: timeout=77, max=999\r\n" +
        "Proxy-Connection: keep-alive\r\n" +
        "X-Up-Kept: yes\r\n" +
        "X-Graygate-Version: forged\r\n" +
        "Content-Length: 2\r\n\r\nok",
    );
  });
});
const echo = await startEcho(t, "stable");
const gg = await startGraygate(
  t,
  config([
    canaryRoute("raw", raw.url, raw.url, { match: { path: { prefix: "/raw" } } }),
    canaryRoute("echo", echo.url, echo.url),
  ]),
);

t.test("request hop-by-hop headers never reach the upstream", async (t) => {
  const { head, body } = await rawExchange(
    gg.proxyPort,
    "GET /hop HTTP/1.1\r\n" +
      "Host: example.test\r\n" +
      "Connection: keep-alive, x-secret\r\n" +
      "X-Secret: 1\r\n" +
      "Keep-Alive: timeout=30\r\n" +
      "TE: trailers\r\n" +
      "Proxy-Connection: keep-alive\r\n" +
      "Trailer: x-checksum\r\n" +
      "Upgrade: h2c\r\n" +
      "X-Kept: yes\r\n\r\n",
  );
  t.match(head, /^HTTP\/1\.1 200 /);
  t.equal(JSON.parse(body).url, "/hop");
  const seen = echo.seen.at(-1)?.headers ?? {};
  t.equal(seen["x-kept"], "yes", "an end-to-end header passes");
  for (const name of ["x-secret", "keep-alive", "te", "proxy-connection", "trailer", "upgrade"]) {
    t.notOk(name in seen, `${name} removed`, { seen });
  }
  t.notMatch(String(seen.connection), "x-secret", "the client's Connection header is not passed");
});

t.test("response hop-by-hop headers never reach the client", async (t) => {
  const { head, body } = await rawExchange(
    gg.proxyPort,
    "GET /raw HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n",
  );
  t.match(head, /^HTTP\/1\.1 200 /);
  t.equal(body, "ok");
  const names = headerNames(head);
  t.ok(names.includes("x-up-kept"), "an end-to-end header passes", { head });
  for (const name of ["x-up-secret", "keep-alive", "proxy-connection"]) {
    t.notOk(names.includes(name), `${name} removed`, { head });
  }
  t.notMatch(head, /x-up-secret/i, "nothing names the upstream's Connection tokens");
  t.notMatch(head, /max=999/, "the upstream's Keep-Alive is not passed");
  t.match(
    head,
    /\r\nx-graygate-version: stable\r\n/i,
    "graygate's version header replaces the upstream's",
  );
  t.notMatch(head, /forged/);
});
