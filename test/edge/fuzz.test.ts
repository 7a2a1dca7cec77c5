/**
 * Random request lines, header names and values through a real socket:
 * graygate answers every one, forwards nothing a strict parser would refuse,
 * and stays up. Seeded: GRAYGATE_FUZZ_SEED replays a run, GRAYGATE_FUZZ_CASES
 * sets how many cases.
 */
import t from "tap";
import {
  canaryRoute,
  config,
  startGraygate,
  startRecorder,
  stillServing,
} from "../proxy/helpers.ts";
import { rawRequest, seededRandom } from "./helpers.ts";

const SEED = Number(process.env.GRAYGATE_FUZZ_SEED ?? Date.now() % 1_000_000);
const CASES = Number(process.env.GRAYGATE_FUZZ_CASES ?? 3000);
const CONCURRENCY = 24;

const next = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
const chance = (p: number) => next() < p;

const TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** Bytes that break HTTP framing or syntax, weighted in among the ordinary ones. */
const NASTY = [
  "\r",
  "\n",
  "\r\n",
  "\x00",
  "\x01",
  "\x7f",
  " ",
  "\t",
  ":",
  ";",
  ",",
  "\xff",
  "\x85",
  "%",
  "\\",
  '"',
  "/",
];
const METHODS = [
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "TRACE",
  "CONNECT",
  "get",
  "G ET",
  "",
  "PROPFIND",
  "\x00GET",
];
const VERSIONS = [
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/1.2",
  "HTTP/2.0",
  "HTTP/0.9",
  "http/1.1",
  "HTTP/1.1 ",
  "HTTP/11",
  "",
  "HTTP/1.1\x00",
];
const NAMES = [
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "expect",
  "trailer",
  "te",
  "x-forwarded-for",
  "forwarded",
  "x-request-id",
  "x-graygate-version",
  "cookie",
  "__proto__",
  "constructor",
  "Content_Length",
  "transfer_encoding",
];

function text(alphabet: string, max: number): string {
  let out = "";
  const length = Math.floor(next() * max);
  for (let i = 0; i < length; i++) {
    out += chance(0.08) ? pick(NASTY) : (alphabet[Math.floor(next() * alphabet.length)] as string);
  }
  return out;
}

function randomByte(): string {
  return String.fromCharCode(Math.floor(next() * 256));
}

function headerLine(): string {
  const name = chance(0.3) ? pick(NAMES) : text(TOKEN, 24);
  let value = chance(0.5) ? text(`${TOKEN} =/?`, 40) : "";
  if (name === "content-length" && chance(0.7)) value = String(Math.floor(next() * 8));
  if (name === "transfer-encoding" && chance(0.5))
    value = pick(["chunked", "CHUNKED", "gzip, chunked"]);
  if (name === "host" && chance(0.6)) value = pick(["a.test", "a.test:80", "[::1]", "", "a b"]);
  if (chance(0.05)) value += randomByte();
  const separator = chance(0.9) ? ": " : pick([":", " : ", "\t:", ""]);
  return `${name}${separator}${value}\r\n`;
}

/** One random request: mostly almost-valid, so that the parser goes deep before it objects. */
function randomRequest(): string {
  const method = chance(0.8) ? pick(METHODS.slice(0, 8)) : pick(METHODS);
  const target = chance(0.8)
    ? `/${text(`${TOKEN}/?=&`, 30)}`
    : pick([
        "*",
        "http://a.test/x",
        "https://evil.test/",
        "a.test:443",
        "",
        "//x",
        "/%00",
        "/\x80",
      ]);
  const version = chance(0.85) ? "HTTP/1.1" : pick(VERSIONS);
  let request = `${method} ${target} ${version}\r\n`;
  if (chance(0.9)) request += "Host: a.test\r\n";
  const headers = Math.floor(next() * 8);
  for (let i = 0; i < headers; i++) request += headerLine();
  request += "\r\n";
  if (chance(0.3)) request += text(`${TOKEN}\r\n`, 60);
  return request;
}

t.test(`${CASES} random requests (seed ${SEED}) are all answered`, async (t) => {
  const recorder = await startRecorder(t);
  const gg = await startGraygate(
    t,
    config([canaryRoute("fuzz", recorder.url, recorder.url)], {
      // Short: a request that asks for more bytes than it sends is answered 408 soon, and an
      // answered connection closes soon.
      server: { timeouts: { headers: "500ms", request: "1s", keepAlive: "200ms" } },
    }),
  );
  const unanswered: string[] = [];
  const seen = new Map<number, number>();
  const refusedIds = new Set<string>();
  let index = 0;
  const worker = async () => {
    while (index < CASES) {
      index++;
      const request = randomRequest();
      const answer = await rawRequest(gg.proxyPort, request, 5000);
      seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
      if (answer.status === 0) unanswered.push(JSON.stringify(request));
      const id = /\r\nx-request-id: ([^\r]*)/i.exec(answer.text)?.[1];
      if (answer.status >= 400 && id !== undefined) refusedIds.add(id);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  t.strictSame(unanswered.slice(0, 5), [], "every request got an HTTP answer", {
    seed: SEED,
    unanswered: unanswered.length,
  });
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
  t.equal(recorder.seen.parseErrors, 0, "nothing forwarded was malformed for a strict parser");
  // A body that stops short (Content-Length: 7, two bytes, then silence) was streamed as it
  // came, so the upstream saw an unfinished request when graygate aborted it: each of those
  // clients was answered with an error carrying the same request id.
  t.comment(`cut short upstream: ${recorder.seen.cutShortIds.length}`);
  t.strictSame(
    recorder.seen.cutShortIds.filter((id) => !refusedIds.has(id)),
    [],
    "every request the upstream saw cut short was refused to its client",
  );
  t.ok(recorder.seen.requests.length > 0, "some of them were well-formed and forwarded");
  await stillServing(t, gg, "/after-the-fuzz");
});
