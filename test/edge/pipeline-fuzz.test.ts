/**
 * Random pipelines of good and bad requests on one connection each: the
 * process survives, every answer comes in the order of its request, the
 * first bad request is answered with graygate's error and the connection
 * closed, and the upstream receives exactly the good requests before it.
 * Seeded: GRAYGATE_FUZZ_SEED replays a run, GRAYGATE_PIPELINES sets how many.
 */
import t from "tap";
import { canaryRoute, config, startGraygate, stillServing } from "../proxy/helpers.ts";
import { pipelined, seededRandom, startWitness } from "./helpers.ts";

const SEED = Number(process.env.GRAYGATE_FUZZ_SEED ?? Date.now() % 1_000_000);
const PIPELINES = Number(process.env.GRAYGATE_PIPELINES ?? 1000);
const CONCURRENCY = 8;

const next = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;

const H = "Host: api.test\r\n";
const KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/** Good requests: each names its path, so that its answer (x-seen) can be matched. */
const GOOD: ((path: string) => string)[] = [
  (p) => `GET ${p} HTTP/1.1\r\n${H}\r\n`,
  (p) => `GET /slow${p} HTTP/1.1\r\n${H}X-Note: a\r\n\r\n`,
  (p) => `POST ${p} HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello`,
  (p) => `POST /slow${p} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  (p) => `PUT ${p} HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok`,
  (p) => `DELETE ${p}?q=1 HTTP/1.1\r\n${H}User-Agent: a\r\nUser-Agent: b\r\n\r\n`,
];

/** Bad requests: every one refused by graygate (or its parser). */
const BAD: ((path: string) => string)[] = [
  (p) => `POST ${p} HTTP/1.1\r\n${H}Expect: teapot\r\nContent-Length: 0\r\n\r\n`,
  (p) => `GET ${p} HTTP/1.1\r\n${H}Host: other.test\r\n\r\n`,
  (p) => `GET ${p} HTTP/1.1\r\n\r\n`,
  (p) => `POST ${p} HTTP/1.1\r\n${H}Content_Length: 3\r\n\r\nabc`,
  (p) =>
    `POST ${p} HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  (p) => `POST ${p} HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
  (p) => `POST ${p} HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  () => `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
  (p) => `GET http://internal.test${p} HTTP/1.1\r\n${H}\r\n`,
  (p) => `GET ${p} HTTP/1.1\r\n${H}Authorization: a\r\nAuthorization: b\r\n\r\n`,
  (p) => `GET ${p} RTSP/1.0\r\n${H}\r\n`,
  (p) => `GET ${p}#f HTTP/1.1\r\n${H}\r\n`,
  (p) => `GET ${p} HTTP/1.1\r\n${H}X-Bad: a\x00b\r\n\r\n`,
  (p) => `GET ${p} HTTP/1.1\r\n${H}X-Bad : a\r\n\r\n`,
  (p) => `GET ${p} HTTP/1.1\n${H}\n`,
  (p) => `POST ${p} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n`,
  (p) => `GET ${p} HTTP/2.0\r\n${H}\r\n`,
  () => "CONNECT internal.test:443 HTTP/1.1\r\nHost: internal.test:443\r\n\r\n",
  (p) =>
    `GET ${p} HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n${KEY}Content-Length: 4\r\n\r\nDATA`,
  (p) => `BREW ${p} HTTP/1.1\r\n${H}\r\n`,
];

interface Pipeline {
  bytes: string[];
  /** The bad request's path, if any: it must never reach the upstream. */
  badPath: string | undefined;
  /** The good requests' paths before the first bad request, in order. */
  answered: string[];
  /** Whether a bad request ends it. */
  refused: boolean;
}

function pipeline(id: number): Pipeline {
  const length = 1 + Math.floor(next() * 6);
  const bytes: string[] = [];
  const answered: string[] = [];
  let refused = false;
  let badPath: string | undefined;
  for (let i = 0; i < length; i++) {
    const path = `/p${id}-${i}`;
    if (next() < 0.3) {
      bytes.push(pick(BAD)(path));
      refused = true;
      badPath = path;
      // Whatever follows a refusal must never be forwarded: add a good request or two after it.
      bytes.push(pick(GOOD)(`/after${id}-${i}`));
      break;
    }
    const request = pick(GOOD)(path);
    bytes.push(request);
    answered.push(request.split(" ")[1]?.replace(/\?.*/, "") ?? path);
  }
  return { bytes, answered, refused, badPath };
}

t.test(`${PIPELINES} random pipelines (seed ${SEED})`, async (t) => {
  const witness = await startWitness(t);
  const gg = await startGraygate(t, config([canaryRoute("api", witness.url, witness.url)]));
  // A warm pool: the upstream connections exist before the first pipeline.
  for (let i = 0; i < 4; i++)
    await pipelined(gg.proxyPort, `GET /warm HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 1);
  let failures = 0;
  let id = 0;
  const badPaths = new Set<string>();
  const worker = async () => {
    while (id < PIPELINES && failures < 5) {
      const mine = id++;
      const { bytes, answered, refused, badPath } = pipeline(mine);
      if (badPath !== undefined) badPaths.add(badPath);
      const split = next() < 0.25;
      // A refused pipeline is read until graygate closes it; a good one until its last answer.
      const reply = await pipelined(
        gg.proxyPort,
        split ? bytes : bytes.join(""),
        refused ? Number.POSITIVE_INFINITY : answered.length,
      );
      const seen = reply.answers
        .slice(0, answered.length)
        .map((a) => a.headers["x-seen"]?.replace(/\?.*/, ""));
      const problems: string[] = [];
      if (JSON.stringify(seen) !== JSON.stringify(answered))
        problems.push("answers out of order or missing");
      if (refused) {
        const error = reply.answers[answered.length];
        if (error === undefined || error.status < 400 || !/^\{"error":"/.test(error.body)) {
          problems.push("no error answer for the bad request");
        }
        if (reply.answers.length !== answered.length + 1)
          problems.push("answers after the refusal");
        if (!reply.closed) problems.push("not closed after the refusal");
      } else if (reply.answers.length !== answered.length) {
        problems.push("answer count");
      }
      if (problems.length > 0) {
        failures++;
        t.fail(`pipeline ${mine}: ${problems.join(", ")}`, {
          split,
          sent: bytes.join("").slice(0, 800),
          got: JSON.stringify(reply.text.slice(0, 1500)),
          sentJson: JSON.stringify(bytes.join("").slice(0, 1500)),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  t.equal(failures, 0, "every pipeline answered in order, refusals last and closed");
  // The upstream saw the good requests before each refusal, and never one after it.
  t.notOk(/\/after\d/.test(witness.seen.text), "nothing after a refusal reached the upstream");
  const forwardedBad = witness.seen.urls.filter((url) => badPaths.has(url.replace(/\?.*/, "")));
  t.strictSame(forwardedBad, [], "no bad request reached the upstream");
  t.equal(witness.seen.parseErrors, 0, "the upstream's strict parser refused nothing it received");
  await stillServing(t, gg, "/");
});
