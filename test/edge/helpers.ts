/** Raw-socket clients for the edge tests: bytes in, the answer and whether the connection closed. */
import { connect, type Socket } from "node:net";
import type { Test } from "tap";
import { startUpstream } from "../proxy/helpers.ts";

export interface RawAnswer {
  /** The status of the first response, or 0 when none came. */
  status: number;
  /** Everything the server sent, as latin1. */
  text: string;
  /** The first response's body (what follows the blank line). */
  body: string;
  /** The server closed the connection (rather than the client giving up). */
  closed: boolean;
}

/**
 * Writes `bytes` (latin1, so that any byte can be sent) on a new connection,
 * in one write or, given several pieces, one write each `gapMs` apart, and
 * collects the reply until the server closes, `enough(text)` holds, or
 * `waitMs` passes. Resolves to the reply and whether the server closed.
 */
function exchangeBytes(
  port: number,
  bytes: string | readonly string[],
  waitMs: number,
  enough: (text: string) => boolean = () => false,
  gapMs = 5,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (enough(Buffer.concat(chunks).toString("latin1"))) socket.destroy();
    });
    socket.on("end", () => {
      closed = true;
    });
    socket.on("error", () => {
      closed = true;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    });
    const pieces = typeof bytes === "string" ? [bytes] : bytes;
    let at = 0;
    const write = () => {
      if (at >= pieces.length || socket.destroyed) return;
      socket.write(Buffer.from(pieces[at++] as string, "latin1"));
      if (at < pieces.length) setTimeout(write, gapMs);
    };
    write();
  });
}

/** Writes `bytes` on a new connection and collects the reply until the server closes or `waitMs` passes. */
export async function rawRequest(port: number, bytes: string, waitMs = 3000): Promise<RawAnswer> {
  const { text, closed } = await exchangeBytes(port, bytes, waitMs);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const end = text.indexOf("\r\n\r\n");
  return {
    status: status === null ? 0 : Number(status[1]),
    text,
    body: end === -1 ? "" : text.slice(end + 4),
    closed,
  };
}

/** The statuses of every response in a raw reply (pipelined answers). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** One response of a pipelined reply. */
export interface PipelinedAnswer {
  status: number;
  /** Header fields, names in lower case (the last copy of each). */
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits a raw reply into its final responses (each framed by Content-Length,
 * as graygate's errors and the test upstreams' answers are; interim 1xx
 * answers are skipped); a tail that is not a whole response is left out.
 */
export function splitAnswers(text: string): PipelinedAnswer[] {
  const answers: PipelinedAnswer[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end === -1) break;
    const lines = text.slice(at, end).split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (status === null) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    // An interim answer (100 Continue) has no body and is not the request's answer.
    const length = code < 200 ? 0 : Number(headers["content-length"] ?? 0);
    if (text.length < end + 4 + length) break;
    if (code >= 200) {
      answers.push({ status: code, headers, body: text.slice(end + 4, end + 4 + length) });
    }
    at = end + 4 + length;
  }
  return answers;
}

/**
 * Writes `bytes` (in one write, or each piece in its own, `gapMs` apart) and
 * reads until the server closes, `answers` whole responses have come, or
 * `waitMs` passes.
 */
export async function pipelined(
  port: number,
  bytes: string | readonly string[],
  answers: number,
  waitMs = 3000,
  gapMs = 5,
): Promise<RawAnswer & { answers: PipelinedAnswer[] }> {
  const { text, closed } = await exchangeBytes(
    port,
    bytes,
    waitMs,
    (reply) => splitAnswers(reply).length >= answers,
    gapMs,
  );
  const split = splitAnswers(text);
  return {
    status: split[0]?.status ?? 0,
    text,
    body: split[0]?.body ?? "",
    closed,
    answers: split,
  };
}

/** mulberry32: small, seeded, good enough to pick bytes and requests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An upstream that tells what reached it, judged by its own strict parser:
 * every byte, and each request it parsed whole, in arrival order. Each is
 * answered 200 with `x-seen: URL` (so that a client can match answers to
 * requests); a path starting `/slow` is answered after 200 ms, so that later
 * pipelined answers would have to overtake it; `/unframed` has no
 * Content-Length; `/break` resets the connection mid-body.
 */
export async function startWitness(t: Test) {
  const seen = { bytes: 0, text: "", parseErrors: 0, urls: [] as string[] };
  const upstream = await startUpstream(t, (req, res) => {
    req.resume();
    req.on("end", () => {
      const url = req.url ?? "";
      seen.urls.push(url);
      const answer = () => {
        res.setHeader("x-seen", url);
        res.end(url);
      };
      if (url.startsWith("/slow")) setTimeout(answer, 200);
      else if (url.startsWith("/unframed")) {
        // No Content-Length: chunked to an HTTP/1.1 client, close-delimited to an HTTP/1.0 one.
        res.setHeader("x-seen", url);
        res.write(url);
        res.end();
      } else if (url.startsWith("/break")) {
        // Headers and a part of the body, then the connection is reset.
        res.writeHead(200, { "x-seen": url, "content-length": "100" });
        res.write("abc");
        setTimeout(() => res.socket?.destroy(), 50);
      } else answer();
    });
  });
  upstream.server.on("connection", (socket: Socket) => {
    socket.on("data", (chunk: Buffer) => {
      seen.bytes += chunk.length;
      seen.text += chunk.toString("latin1");
    });
  });
  upstream.server.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
    if (error.code !== "ECONNRESET" && error.code !== "HPE_INVALID_EOF_STATE") seen.parseErrors++;
    socket.destroy();
  });
  return { ...upstream, seen };
}
