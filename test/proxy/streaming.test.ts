/** README, "What a request gets": bodies stream both ways, byte-exact and unbuffered; broken streams stay broken. */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import t from "tap";
import {
  canaryRoute,
  config,
  nothingInFlight,
  open,
  send,
  sha256,
  startEcho,
  startGraygate,
  startRawUpstream,
  startUpstream,
  stillServing,
} from "./helpers.ts";

const MB = 1024 * 1024;
const download = randomBytes(20 * MB);

/** The SSE stream's second half waits for this. */
let releaseSse = () => {};
const sseReleased = new Promise<void>((resolve) => {
  releaseSse = resolve;
});
let sseFinished = false;

/** How the slow stream ended: whether the upstream got to finish it. */
let slowClosed: (finished: boolean) => void = () => {};
const slowEnd = new Promise<boolean>((resolve) => {
  slowClosed = resolve;
});

const upstream = await startUpstream(t, (req, res) => {
  if (req.url === "/upload") {
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    const framing = req.headers["transfer-encoding"];
    req.on("end", () => res.end(JSON.stringify({ sha: hash.digest("hex"), bytes, framing })));
  } else if (req.url === "/download") {
    res.end(download);
  } else if (req.url === "/sse") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("data: first\n\n");
    void sseReleased.then(() => {
      sseFinished = true;
      res.end("data: second\n\n");
    });
  } else if (req.url === "/slow") {
    res.writeHead(200, { "content-type": "text/plain" });
    let ticks = 0;
    const timer = setInterval(() => {
      res.write(`tick ${++ticks}\n`);
      if (ticks === 1000) res.end();
    }, 20);
    res.on("close", () => {
      clearInterval(timer);
      slowClosed(res.writableFinished);
    });
  }
});
/** Promises 1000 bytes, sends 10, then breaks the connection: closes it, or resets it (RST). */
const breaking = (how: "destroy" | "resetAndDestroy") =>
  startRawUpstream(t, (socket) => {
    socket.once("data", () => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789", () =>
        socket[how](),
      );
    });
  });
const broken = await breaking("destroy");
const reset = await breaking("resetAndDestroy");
const echo = await startEcho(t, "stable");
const gg = await startGraygate(
  t,
  config([
    canaryRoute("broken", broken.url, broken.url, { match: { path: "/broken" } }),
    canaryRoute("reset", reset.url, reset.url, { match: { path: "/reset" } }),
    canaryRoute("ok", echo.url, echo.url, { match: { path: "/ok" } }),
    canaryRoute("streams", upstream.url, upstream.url),
  ]),
);

t.test("a 5 MB chunked upload arrives byte-exact", async (t) => {
  const data = randomBytes(5 * MB);
  const chunks = Array.from({ length: 80 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
  const answer = await send(gg, "/upload", { method: "POST", body: Readable.from(chunks) });
  t.equal(answer.status, 200);
  t.strictSame(
    JSON.parse(answer.text),
    { sha: sha256(data), bytes: data.length, framing: "chunked" },
    "same bytes, still chunked upstream (not buffered to learn a length)",
  );
});

t.test("a 20 MB download arrives byte-exact", async (t) => {
  const response = await open(gg, "/download");
  t.equal(response.statusCode, 200);
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of response.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  t.equal(bytes, download.length);
  t.equal(hash.digest("hex"), sha256(download));
});

t.test("SSE: the first event reaches the client before the upstream finishes", async (t) => {
  const response = await open(gg, "/sse", { headers: { accept: "text/event-stream" } });
  t.equal(response.statusCode, 200);
  t.match(response.headers["content-type"], /^text\/event-stream/);
  response.body.setEncoding("utf8");
  const events = response.body[Symbol.asyncIterator]();
  let text = "";
  for (let next = await events.next(); next.done !== true; next = await events.next()) {
    text += next.value as string;
    if (text.includes("\n\n")) break;
  }
  t.equal(text, "data: first\n\n", "the first event, alone");
  t.notOk(sseFinished, "the upstream has not finished yet");
  releaseSse();
  for (let next = await events.next(); next.done !== true; next = await events.next()) {
    text += next.value as string;
  }
  t.equal(text, "data: first\n\ndata: second\n\n");
});

for (const [path, what] of [
  ["/broken", "closes"],
  ["/reset", "resets"],
] as const) {
  t.test(
    `an upstream that ${what} mid-body gives a broken response, never a short 200`,
    async (t) => {
      const id = `${what}-1`;
      await t.rejects(async () => {
        const response = await open(gg, path, { headers: { "x-request-id": id } });
        const body = Buffer.from(await response.body.arrayBuffer());
        t.fail(`a complete body of ${body.length} bytes with status ${response.statusCode}`);
      }, "reading the response fails");
      await gg.waitForLog((line) => line.msg === "request" && line.requestId === id);
      await nothingInFlight(t, gg);
      await stillServing(t, gg, "/ok");
    },
  );
}

t.test("a client that goes away mid-response aborts the upstream request", async (t) => {
  const abort = new AbortController();
  const headers = { "x-request-id": "gone-1" };
  const response = await open(gg, "/slow", { signal: abort.signal, headers });
  t.equal(response.statusCode, 200);
  const chunks = response.body[Symbol.asyncIterator]();
  t.match(String((await chunks.next()).value), /^tick 1\n/);
  abort.abort();
  t.equal(await slowEnd, false, "the upstream saw its request close before it finished");
  await gg.waitForLog((line) => line.msg === "request" && line.requestId === "gone-1");
  await nothingInFlight(t, gg);
  await stillServing(t, gg, "/ok");
});
