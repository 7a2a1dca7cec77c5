/**
 * Slow clients: 100 connections trickling their headers are cut off within
 * the headers timeout plus a second while other clients are served; a body
 * that trickles past the request timeout is cut off too, its upstream
 * request aborted.
 */
import { connect, type Socket } from "node:net";
import t from "tap";
import {
  canaryRoute,
  config,
  send,
  startGraygate,
  startRecorder,
  stillServing,
} from "../proxy/helpers.ts";
import { rawRequest } from "./helpers.ts";

const HEADERS_MS = 1000;
const REQUEST_MS = 2000;

interface Trickle {
  /** Milliseconds from connect to the server's close. */
  lasted: Promise<number>;
  /** What the server sent before closing. */
  answer: () => string;
}

/** Opens a connection, writes `first`, then one byte every `everyMs` until the server closes. */
function trickle(port: number, first: string, everyMs: number): Trickle {
  const socket: Socket = connect(port, "127.0.0.1");
  const started = performance.now();
  let received = "";
  let timer: NodeJS.Timeout | undefined;
  socket.on("connect", () => {
    if (first !== "") socket.write(first);
    timer = setInterval(() => socket.write("a"), everyMs);
  });
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  const lasted = new Promise<number>((resolve) => {
    socket.on("close", () => {
      clearInterval(timer);
      resolve(performance.now() - started);
    });
  });
  return { lasted, answer: () => received };
}

const recorder = await startRecorder(t);
const gg = await startGraygate(
  t,
  config([canaryRoute("slow", recorder.url, recorder.url)], {
    server: { timeouts: { headers: `${HEADERS_MS}ms`, request: `${REQUEST_MS}ms` } },
  }),
);

t.test("100 trickling connections are cut off while others are served", async (t) => {
  const slow = Array.from({ length: 100 }, (_, i) =>
    trickle(gg.proxyPort, `GET /slow/${i} HTTP/1.1\r\nHost: a.test\r\nX-Trickle: `, 100),
  );
  // Others are served while the trickles hold their connections.
  const served: number[] = [];
  for (let round = 0; round < 5; round++) {
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(gg, "/quick")));
    served.push(...answers.map((answer) => answer.status));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(served.filter((status) => status === 200).length, 50, "50 other requests answered 200");
  const lasted = await Promise.all(slow.map((s) => s.lasted));
  const longest = Math.max(...lasted);
  t.ok(
    longest <= HEADERS_MS + 1000,
    `every trickle cut off within the headers timeout plus a second (longest ${Math.round(longest)} ms)`,
  );
  t.ok(
    slow.every((s) => /^HTTP\/1\.1 408 /.test(s.answer())),
    "each was answered 408",
  );
  t.match(slow[0]?.answer(), /"error":"request_timeout"/);
  t.equal(
    recorder.seen.requests.filter((r) => r.url.startsWith("/slow/")).length,
    0,
    "none reached the upstream",
  );
  await stillServing(t, gg, "/after");
});

t.test("a connection that sends nothing is closed by the headers timeout", async (t) => {
  const silent = trickle(gg.proxyPort, "", 60_000);
  const lasted = await silent.lasted;
  t.ok(lasted <= HEADERS_MS + 1000, `closed after ${Math.round(lasted)} ms`);
});

t.test(
  "a body that trickles past the request timeout: 408, upstream request aborted",
  async (t) => {
    const before = recorder.seen.requests.length;
    const body = trickle(
      gg.proxyPort,
      "POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100000\r\n\r\nstart",
      100,
    );
    const lasted = await body.lasted;
    t.match(body.answer(), /^HTTP\/1\.1 408 /, "answered 408");
    t.match(body.answer(), /"error":"request_timeout"/);
    t.ok(lasted <= REQUEST_MS + 1000, `cut off after ${Math.round(lasted)} ms`);
    t.equal(recorder.seen.requests.length, before, "the upstream never got a whole request");
    const log = await gg.waitForLog((line) => line.msg === "request" && line.path === "/upload");
    t.equal(log.status, 408, "counted and logged as 408");
    await stillServing(t, gg, "/after");
  },
);

t.test("an idle keep-alive connection is closed by the server", async (t) => {
  const idle = await startGraygate(
    t,
    config([canaryRoute("idle", recorder.url, recorder.url)], {
      server: { timeouts: { keepAlive: "1s" } },
    }),
  );
  // One request, then nothing: the server, not the client, ends the connection.
  const answer = await rawRequest(
    idle.proxyPort,
    "GET /idle HTTP/1.1\r\nHost: a.test\r\n\r\n",
    10_000,
  );
  t.equal(answer.status, 200);
  t.match(answer.text, /\r\nkeep-alive: timeout=1\r\n/i, "the answer advertises the timeout");
  t.ok(answer.closed, "the server closed the idle connection");
});
