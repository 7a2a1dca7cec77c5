/**
 * One connection, one order (docs/SECURITY.md): every answer goes out in the
 * order of its request, a refusal closes the connection after the answers
 * before it, and nothing read after a refusal reaches an upstream. Each case
 * is pipelined behind a slow good request and followed by a smuggled one;
 * what the upstream's own strict parser received is the judge.
 */
import { createHash } from "node:crypto";
import t from "tap";
import {
  canaryRoute,
  config,
  startGraygate,
  startRawUpstream,
  stillServing,
} from "../proxy/helpers.ts";
import { pipelined, startWitness } from "./helpers.ts";

const witness = await startWitness(t);
const gg = await startGraygate(t, config([canaryRoute("api", witness.url, witness.url)]));

const SLOW = "GET /slow HTTP/1.1\r\nHost: api.test\r\n\r\n";
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: api.test\r\n\r\n";
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const WS = `Host: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n`;

/** [what, the refused request, its status]: each pipelined between SLOW and SMUGGLED. */
const REFUSED: [string, string, number][] = [
  [
    "an unsupported Expect (the crash)",
    "POST /b HTTP/1.1\r\nHost: api.test\r\nExpect: teapot\r\nContent-Length: 0\r\n\r\n",
    417,
  ],
  ["two Host headers", "GET /b HTTP/1.1\r\nHost: api.test\r\nHost: other.test\r\n\r\n", 400],
  ["a Host with userinfo", "GET /b HTTP/1.1\r\nHost: user@api.test\r\n\r\n", 400],
  ["no Host", "GET /b HTTP/1.1\r\n\r\n", 400],
  ["Content_Length", "POST /b HTTP/1.1\r\nHost: api.test\r\nContent_Length: 4\r\n\r\n", 400],
  [
    "Transfer_Encoding",
    "POST /b HTTP/1.1\r\nHost: api.test\r\nTransfer_Encoding: chunked\r\n\r\n",
    400,
  ],
  [
    "HTTP/1.0 with Transfer-Encoding",
    "POST /b HTTP/1.0\r\nHost: api.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  [
    "Transfer-Encoding: gzip, chunked",
    "POST /b HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  ["OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  [
    "absolute-form naming another host",
    "GET http://internal.test/b HTTP/1.1\r\nHost: api.test\r\n\r\n",
    400,
  ],
  [
    "two Authorization",
    "GET /b HTTP/1.1\r\nHost: api.test\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
    400,
  ],
  [
    "two Proxy-Authorization",
    "GET /b HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: a\r\nproxy-authorization: b\r\n\r\n",
    400,
  ],
  [
    "two Content-Type",
    "POST /b HTTP/1.1\r\nHost: api.test\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
    400,
  ],
  ["an RTSP request line", "GET /b RTSP/1.0\r\nHost: api.test\r\n\r\n", 505],
  ["an ICE request line", "SOURCE /b ICE/1.0\r\nHost: api.test\r\n\r\n", 505],
  ["a fragment in the target", "GET /b#frag HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  [
    "a WebSocket upgrade with a Content-Length",
    `GET /ws HTTP/1.1\r\n${WS}Content-Length: 5\r\n\r\nhello`,
    400,
  ],
  [
    "a WebSocket upgrade with a chunked body",
    `GET /ws HTTP/1.1\r\n${WS}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    400,
  ],
  [
    "a parse error (control byte)",
    "GET /b HTTP/1.1\r\nHost: api.test\r\nX-Note: a\x01b\r\n\r\n",
    400,
  ],
  ["a parse error (bare LF)", "GET /b HTTP/1.1\nHost: api.test\n\n", 400],
  ["CONNECT", "CONNECT internal.test:443 HTTP/1.1\r\nHost: internal.test:443\r\n\r\n", 405],
  ["a WebSocket upgrade on an RTSP request line", `GET /ws RTSP/1.1\r\n${WS}\r\n`, 505],
];

t.test(
  "a refusal behind a pending answer: in order, then closed, nothing more forwarded",
  async (t) => {
    for (const [what, bytes, status] of REFUSED) {
      const before = witness.seen.urls.length;
      const reply = await pipelined(gg.proxyPort, SLOW + bytes + SMUGGLED, 3);
      t.strictSame(
        reply.answers.map((a) => a.status),
        [200, status],
        `${what}: the slow answer first, then ${status}`,
        { text: reply.text.slice(0, 600) },
      );
      t.equal(
        reply.answers[0]?.headers["x-seen"],
        "/slow",
        `${what}: the first answer is the slow request's`,
      );
      t.match(reply.answers[1]?.body, /^\{"error":"[a-z_]+"/, `${what}: graygate's JSON error`);
      t.equal(reply.answers[1]?.headers.connection, "close", `${what}: Connection: close`);
      t.ok(reply.closed, `${what}: the connection is closed`);
      t.strictSame(
        witness.seen.urls.slice(before),
        ["/slow"],
        `${what}: only the good request was forwarded`,
      );
    }
    t.notOk(witness.seen.text.includes("/smuggled"), "no smuggled byte reached the upstream");
    t.equal(witness.seen.parseErrors, 0, "the upstream's parser never failed");
    await stillServing(t, gg, "/");
  },
);

t.test("a refusal first on the connection: answered, closed, nothing forwarded", async (t) => {
  for (const [what, bytes, status] of REFUSED) {
    const before = witness.seen.urls.length;
    const reply = await pipelined(gg.proxyPort, bytes + SMUGGLED, 2);
    t.strictSame(
      reply.answers.map((a) => a.status),
      [status],
      `${what}: ${status} alone`,
    );
    t.ok(reply.closed, `${what}: closed`);
    t.equal(witness.seen.urls.length, before, `${what}: nothing forwarded`);
  }
});

t.test(
  "Connection: close and HTTP/1.0 end the connection: what follows is not forwarded",
  async (t) => {
    for (const first of [
      "GET /slow HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n",
      "GET /slow HTTP/1.0\r\nHost: api.test\r\n\r\n",
      // A declined upgrade: Node's parser reads nothing after it.
      "GET /slow HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    ]) {
      const before = witness.seen.urls.length;
      const reply = await pipelined(gg.proxyPort, first + SMUGGLED, 2);
      t.strictSame(
        reply.answers.map((a) => a.status),
        [200],
        "one answer",
      );
      t.ok(reply.closed, "then closed");
      t.strictSame(
        witness.seen.urls.slice(before),
        ["/slow"],
        "the pipelined request is never forwarded",
      );
    }
  },
);

t.test("good pipelined requests are answered in order", async (t) => {
  const requests = ["/slow-1", "/fast-2", "/slow-3", "/fast-4"]
    .map((path) => `GET ${path} HTTP/1.1\r\nHost: api.test\r\n\r\n`)
    .join("");
  const reply = await pipelined(gg.proxyPort, requests, 4);
  t.strictSame(
    reply.answers.map((a) => a.headers["x-seen"]),
    ["/slow-1", "/fast-2", "/slow-3", "/fast-4"],
  );
  t.notOk(reply.closed, "the connection stays open");
});

t.test(
  "Host: a Connection header cannot remove it; absolute-form sends its authority",
  async (t) => {
    const mark = witness.seen.text.length;
    await pipelined(
      gg.proxyPort,
      "GET /h1 HTTP/1.1\r\nHost: api.test\r\nConnection: close, host\r\n\r\n",
      1,
    );
    await pipelined(
      gg.proxyPort,
      "GET http://api.test:8443/h2?q=1 HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n",
      1,
    );
    const text = witness.seen.text.slice(mark);
    t.match(text, /^GET \/h1 HTTP\/1\.1\r\n(?:[^\r]*\r\n)*host: api\.test\r\n/im, "Host kept");
    t.match(
      text,
      /GET \/h2\?q=1 HTTP\/1\.1\r\n(?:[^\r]*\r\n)*host: api\.test:8443\r\n/i,
      "the authority",
    );
    t.match(text, /x-forwarded-host: api\.test:8443\r\n/i, "X-Forwarded-Host is the authority too");
  },
);

t.test("other repeated fields reach the upstream as received, every copy", async (t) => {
  const mark = witness.seen.text.length;
  const reply = await pipelined(
    gg.proxyPort,
    "GET /rep HTTP/1.1\r\nHost: api.test\r\nUser-Agent: one\r\nUser-Agent: two\r\nX-Tag: a\r\nX-Tag: b\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n",
    1,
  );
  t.equal(reply.status, 200);
  const text = witness.seen.text.slice(mark);
  t.match(
    text,
    /user-agent: one\r\nuser-agent: two\r\n/i,
    "both User-Agent (Node keeps only the first)",
  );
  t.match(text, /x-tag: a\r\nx-tag: b\r\n/i, "both X-Tag, not joined");
  t.match(text, /cookie: a=1\r\ncookie: b=2\r\n/i, "both Cookie");
});

/** An upstream that answers a WebSocket upgrade with `head`, then echoes what it reads. */
async function upgrader(head: (accept: string) => string) {
  const received: string[] = [];
  const upstream = await startRawUpstream(t, (socket) => {
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      received.push(chunk.toString("latin1"));
      const key = /sec-websocket-key: ([^\r]+)/i.exec(text)?.[1];
      if (key !== undefined && text.includes("\r\n\r\n") && !text.includes("SENT")) {
        text += "SENT";
        const accept = createHash("sha1")
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        socket.write(head(accept));
      }
    });
  });
  return { ...upstream, received };
}

t.test("an upstream's 101 opens a tunnel only when it is a valid handshake", async (t) => {
  const cases: [string, (accept: string) => string, boolean][] = [
    [
      "valid",
      (a) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      true,
    ],
    [
      "no Sec-WebSocket-Accept",
      () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      false,
    ],
    [
      "a wrong Sec-WebSocket-Accept",
      () =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
      false,
    ],
    [
      "no Upgrade",
      (a) =>
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      false,
    ],
    [
      "another protocol",
      (a) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      false,
    ],
    [
      "a chunked body",
      (a) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      false,
    ],
  ];
  for (const [what, head, valid] of cases) {
    const upstream = await upgrader(head);
    const proxy = await startGraygate(t, config([canaryRoute("ws", upstream.url, upstream.url)]));
    const reply = await pipelined(
      proxy.proxyPort,
      `GET /ws HTTP/1.1\r\n${WS}\r\nTUNNEL-DATA`,
      valid ? 99 : 1,
      1000,
    );
    const sent = upstream.received.join("");
    if (valid) {
      t.match(reply.text, /^HTTP\/1\.1 101 /, `${what}: 101 relayed`);
      t.ok(sent.includes("TUNNEL-DATA"), `${what}: the client's bytes reach the upstream`);
    } else {
      t.equal(reply.status, 502, `${what}: 502`, { text: reply.text });
      t.match(reply.answers[0]?.body, /"error":"upstream_invalid_answer"/, `${what}: the reason`);
      t.notOk(sent.includes("TUNNEL-DATA"), `${what}: no tunnel`);
    }
  }
});

t.test("a WebSocket upgrade behind a pending answer waits its turn", async (t) => {
  const upstream = await upgrader(
    (a) =>
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
  );
  const proxy = await startGraygate(
    t,
    config([
      canaryRoute("slow", witness.url, witness.url, { match: { path: "/slow" } }),
      canaryRoute("ws", upstream.url, upstream.url),
    ]),
  );
  const reply = await pipelined(proxy.proxyPort, `${SLOW}GET /ws HTTP/1.1\r\n${WS}\r\n`, 99, 1000);
  t.match(
    reply.text,
    /^HTTP\/1\.1 200 [\s\S]*\r\n\r\n\/slowHTTP\/1\.1 101 /,
    "the 200 first, then the 101",
  );
});

t.test("an early answer to a request whose body is all in keeps the connection", async (t) => {
  const proxy = await startGraygate(
    t,
    config([canaryRoute("only", witness.url, witness.url, { match: { path: "/only" } })]),
  );
  const reply = await pipelined(
    proxy.proxyPort,
    "POST /nowhere HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\n\r\nhelloGET /only HTTP/1.1\r\nHost: api.test\r\n\r\n",
    2,
  );
  t.strictSame(
    reply.answers.map((a) => a.status),
    [404, 200],
    "404 for the unrouted POST, then the next request is served",
  );
  t.equal(reply.answers[1]?.headers["x-seen"], "/only");
});

t.test(
  "an HTTP/1.0 answer Node cannot keep alive ends the connection before the next",
  async (t) => {
    const before = witness.seen.urls.length;
    const reply = await pipelined(
      gg.proxyPort,
      `GET /unframed HTTP/1.0\r\nHost: api.test\r\nConnection: keep-alive\r\n\r\n${SMUGGLED}`,
      2,
    );
    t.ok(reply.closed, "closed after the first answer");
    t.match(reply.text, /^HTTP\/1\.1 200 [\s\S]*\/unframed$/, "the first answer, then nothing");
    t.strictSame(witness.seen.urls.slice(before), ["/unframed"], "the second never forwarded");
  },
);

t.test("an answer broken mid-body while queued: the answers before it, then the cut", async (t) => {
  for (const [what, later] of [
    ["a smuggled request", SMUGGLED],
    ["a parse error", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n"],
    ["CONNECT", "CONNECT internal.test:443 HTTP/1.1\r\nHost: internal.test:443\r\n\r\n"],
    ["a WebSocket upgrade", `GET /ws HTTP/1.1\r\n${WS}\r\n`],
  ] as const) {
    const before = witness.seen.urls.length;
    const reply = await pipelined(
      gg.proxyPort,
      [`${SLOW}GET /break HTTP/1.1\r\nHost: api.test\r\n\r\n`, later],
      99,
      3000,
      250,
    );
    t.equal(
      reply.answers[0]?.headers["x-seen"],
      "/slow",
      `${what}: the slow answer is whole, first`,
    );
    t.notMatch(
      reply.text,
      /HTTP\/1\.1 (?:4|101)/,
      `${what}: nothing answered after the broken one`,
    );
    t.ok(reply.closed, `${what}: the connection is cut`);
    t.strictSame(
      witness.seen.urls.slice(before).sort(),
      ["/break", "/slow"],
      `${what}: nothing more forwarded`,
    );
  }
});

t.test("packets of junk after a parse error add nothing and cut nothing", async (t) => {
  const junk = Array.from({ length: 40 }, () => "JUNK\r\n\r\n");
  const reply = await pipelined(
    gg.proxyPort,
    [`${SLOW}GET /x HTTP/1.1\r\nBad Header\r\n\r\n`, ...junk],
    99,
    3000,
    5,
  );
  t.strictSame(
    reply.answers.map((a) => a.status),
    [200, 400],
    "the slow answer, then one 400",
  );
  t.ok(reply.closed, "then closed");
  t.notMatch(gg.stderr, /MaxListenersExceededWarning/, "no listeners pile up");
});

t.test("a request line of another protocol in a later packet is refused too", async (t) => {
  const before = witness.seen.urls.length;
  const reply = await pipelined(
    gg.proxyPort,
    [SLOW, `GET /b RTSP/1.0\r\nHost: api.test\r\n\r\n${SMUGGLED}`],
    3,
    3000,
    50,
  );
  t.strictSame(
    reply.answers.map((a) => a.status),
    [200, 505],
  );
  t.strictSame(witness.seen.urls.slice(before), ["/slow"]);
});
