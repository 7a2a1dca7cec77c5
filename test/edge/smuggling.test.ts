/**
 * Request smuggling and malformed input, on raw sockets: each case gets its
 * 4xx (or 505) as graygate's JSON error, the connection closes, and the
 * upstream receives not one byte.
 */
import t, { type Test } from "tap";
import {
  canaryRoute,
  config,
  type Graygate,
  startGraygate,
  startRecorder,
  stillServing,
} from "../proxy/helpers.ts";
import { rawRequest } from "./helpers.ts";

const POST = "POST /submit HTTP/1.1\r\nHost: api.test\r\n";
const GET = "GET /page HTTP/1.1\r\nHost: api.test\r\n";
const CHUNKED = `${POST}Transfer-Encoding: chunked\r\n\r\n`;

/** [what, raw request, status]: every one refused before it can reach an upstream. */
const CORPUS: [string, string, number][] = [
  // Content-Length and Transfer-Encoding together, or either one twice.
  ["CL then TE", `${POST}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ["TE then CL", `${POST}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`, 400],
  ["duplicate Content-Length", `${POST}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`, 400],
  ["two Content-Lengths", `${POST}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`, 400],
  ["Content-Length list", `${POST}Content-Length: 4, 4\r\n\r\nabcd`, 400],
  ["signed Content-Length", `${POST}Content-Length: +4\r\n\r\nabcd`, 400],
  ["negative Content-Length", `${POST}Content-Length: -1\r\n\r\n`, 400],
  ["Content-Length overflow", `${POST}Content-Length: 99999999999999999999999\r\n\r\n`, 400],
  // Transfer-Encoding variants.
  ["TE xchunked", `${POST}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 400],
  ["TE chunked, identity", `${POST}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 400],
  ["TE identity", `${POST}Transfer-Encoding: identity\r\n\r\nabcd`, 400],
  ["TE gzip, chunked", `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 400],
  ["TE chunked, chunked", `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 400],
  [
    "duplicate TE",
    `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "TE then TE identity",
    `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
    400,
  ],
  ["TE with a vertical tab", `${POST}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n`, 400],
  ["TE obs-fold", `${POST}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, 400],
  ["obs-fold in another header", `${GET}X-Note: a\r\n b\r\n\r\n`, 400],
  ["Transfer_Encoding", `${POST}Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ["Content_Length", `${POST}Content_Length: 4\r\n\r\nabcd`, 400],
  [
    "TE in HTTP/1.0",
    "POST /submit HTTP/1.0\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  // Header syntax.
  ["space before the colon (TE)", `${POST}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400],
  ["space before the colon", `${GET}X-Note : a\r\n\r\n`, 400],
  ["header without a colon", `${GET}X-Note\r\n\r\n`, 400],
  ["empty header name", `${GET}: a\r\n\r\n`, 400],
  ["space before the first header", "GET /page HTTP/1.1\r\n Host: api.test\r\n\r\n", 400],
  // Line endings.
  ["bare LF line endings", "GET /page HTTP/1.1\nHost: api.test\n\n", 400],
  ["bare LF after a header", `GET /page HTTP/1.1\r\nHost: api.test\nX-Note: a\r\n\r\n`, 400],
  ["bare CR after the request line", "GET /page HTTP/1.1\rHost: api.test\r\n\r\n", 400],
  ["bare CR in a value", `${GET}X-Note: a\rb\r\n\r\n`, 400],
  // NUL and control bytes.
  ["NUL in a value", `${GET}X-Note: a\x00b\r\n\r\n`, 400],
  ["NUL in a name", `${GET}X\x00Note: a\r\n\r\n`, 400],
  ["control byte in a value", `${GET}X-Note: a\x01b\r\n\r\n`, 400],
  ["DEL in a value", `${GET}X-Note: a\x7fb\r\n\r\n`, 400],
  ["NUL in the path", "GET /a\x00b HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  ["control byte in the path", "GET /a\x01b HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  ["space in the path", "GET /a b HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  // Chunked bodies.
  ["chunk-size overflow", `${CHUNKED}FFFFFFFFFFFFFFFFF1\r\nab\r\n0\r\n\r\n`, 400],
  ["negative chunk size", `${CHUNKED}-1\r\nab\r\n0\r\n\r\n`, 400],
  ["chunk size not hex", `${CHUNKED}2x\r\nab\r\n0\r\n\r\n`, 400],
  ["bare LF after a chunk size", `${CHUNKED}2\nab\r\n0\r\n\r\n`, 400],
  ["chunk data without its CRLF", `${CHUNKED}2\r\nabX0\r\n\r\n`, 400],
  ["oversized chunk extensions", `${CHUNKED}2;${"e".repeat(20_000)}\r\nab\r\n0\r\n\r\n`, 413],
  // Host.
  ["two Host headers", "GET /page HTTP/1.1\r\nHost: a.test\r\nhost: b.test\r\n\r\n", 400],
  ["no Host in HTTP/1.1", "GET /page HTTP/1.1\r\n\r\n", 400],
  ["Host with a space", "GET /page HTTP/1.1\r\nHost: a b\r\n\r\n", 400],
  ["Host with userinfo", "GET /page HTTP/1.1\r\nHost: user@api.test\r\n\r\n", 400],
  ["Host with a path", "GET /page HTTP/1.1\r\nHost: api.test/x\r\n\r\n", 400],
  [
    "absolute-form naming another host",
    "GET http://internal.test/page HTTP/1.1\r\nHost: api.test\r\n\r\n",
    400,
  ],
  // Request lines.
  ["HTTP/0.9", "GET /page\r\n\r\n", 400],
  ["HTTP/1.2", "GET /page HTTP/1.2\r\nHost: api.test\r\n\r\n", 400],
  ["HTTP/2.0 in text", "GET /page HTTP/2.0\r\nHost: api.test\r\n\r\n", 505],
  ["lower-case method", "get /page HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  ["unknown method", "BREW /page HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  ["asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: api.test\r\n\r\n", 400],
  [
    "authority-form CONNECT",
    "CONNECT internal.test:443 HTTP/1.1\r\nHost: internal.test\r\n\r\n",
    405,
  ],
  // Limits.
  ["headers over maxHeaderBytes", `${GET}X-Big: ${"b".repeat(20_000)}\r\n\r\n`, 431],
  [
    "more header fields than maxHeaderCount",
    `${GET}${Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`,
    431,
  ],
  [
    "an expectation other than 100-continue",
    `${POST}Expect: teapot\r\nContent-Length: 2\r\n\r\nab`,
    417,
  ],
];

const recorder = await startRecorder(t);
const route = canaryRoute("api", recorder.url, recorder.url);

async function corpus(t: Test, gg: Graygate) {
  for (const [what, bytes, status] of CORPUS) {
    const before = recorder.seen.bytes;
    const answer = await rawRequest(gg.proxyPort, bytes);
    t.equal(answer.status, status, `${what}: ${status}`, { text: answer.text.slice(0, 300) });
    t.match(answer.text, /\r\ncontent-type: application\/json\r\n/i, `${what}: a JSON error`);
    t.match(answer.body, /^\{"error":"[a-z_]+"/, `${what}: graygate's error body`);
    t.ok(answer.closed, `${what}: the connection is closed`);
    t.equal(recorder.seen.bytes, before, `${what}: the upstream received nothing`);
  }
}

t.test("every case of the corpus is refused and never forwarded", async (t) => {
  const gg = await startGraygate(t, config([route]));
  await corpus(t, gg);
  t.equal(recorder.seen.requests.length, 0, "no request reached the upstream");
  await stillServing(t, gg, "/page");
});

t.test("NODE_OPTIONS=--insecure-http-parser does not loosen the parser", async (t) => {
  const gg = await startGraygate(t, config([route]), {
    NODE_OPTIONS: "--insecure-http-parser",
  });
  await corpus(t, gg);
});

t.test("what is well-formed is forwarded, re-framed", async (t) => {
  const gg = await startGraygate(t, config([route]));
  const cases: [string, string, string][] = [
    ["TE in capitals", `${POST}Transfer-Encoding: CHUNKED\r\n\r\n2\r\nab\r\n0\r\n\r\n`, "ab"],
    ["a small chunk extension", `${CHUNKED}2;name=value\r\nab\r\n0\r\n\r\n`, "ab"],
    ["a trailer field", `${CHUNKED}2\r\nab\r\n0\r\nX-Checksum: 1\r\n\r\n`, "ab"],
    ["a body on GET", `${GET}Content-Length: 3\r\n\r\nabc`, "abc"],
  ];
  for (const [what, bytes, body] of cases) {
    const answer = await rawRequest(
      gg.proxyPort,
      `${bytes.replace("\r\n", "\r\nConnection: close\r\n")}`,
    );
    t.equal(answer.status, 200, `${what}: 200`);
    const seen = recorder.seen.requests.at(-1);
    t.equal(seen?.body.toString(), body, `${what}: the body arrives`);
    t.notOk(JSON.stringify(seen?.headers).includes("x-checksum"), `${what}: no trailer forwarded`);
  }
  const before = recorder.seen.requests.length;
  const answer = await rawRequest(
    gg.proxyPort,
    `${GET}X-Note: caf\xe9\r\nX_Forwarded_For: 10.9.9.9\r\nX-Custom_Key: k\r\nConnection: close\r\n\r\n`,
  );
  t.equal(answer.status, 200, "obs-text and underscores in other headers: forwarded");
  const seen = recorder.seen.requests[before];
  t.equal(seen?.headers["x-note"], "caf\xe9", "an obs-text value is passed on as received");
  t.equal(seen?.headers.x_forwarded_for, undefined, "an underscored X-Forwarded-For is dropped");
  t.equal(seen?.headers["x-custom_key"], "k", "other underscored headers pass");
});
