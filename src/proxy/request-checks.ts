/**
 * What graygate refuses to forward beyond what Node's strict parser already
 * refuses (CL with TE, duplicate Content-Length, bad chunk sizes, bare CR or
 * LF, control bytes, obs-fold, a space before the colon, oversized chunk
 * extensions): requests Node lets through that an upstream could read
 * another way, which is how requests are smuggled.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { hostOf } from "../routing/facts.ts";
import type { ErrorCode } from "./errors.ts";

/** RFC 3986 host (reg-name or IP literal) with an optional port; empty is allowed (RFC 9112 §3.2). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

/** `name` spelt as `lower` in any case (header names are tokens: only letters fold). */
function nameIs(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 32) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The fields a request may carry once: Node keeps the first copy of each and
 * drops the rest, so graygate and an upstream that reads the last (or joins
 * them) would disagree on who is asking, for what host, with which body.
 * One pass over the raw fields, compared by length first, nothing allocated.
 */
export function repeatsSingleField(rawHeaders: readonly string[]): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    let bit = 0;
    switch (name.length) {
      case 4:
        if (nameIs(name, "host")) bit = 1;
        break;
      case 12:
        if (nameIs(name, "content-type")) bit = 2;
        break;
      case 13:
        if (nameIs(name, "authorization")) bit = 4;
        break;
      case 14:
        if (nameIs(name, "content-length")) bit = 8;
        break;
      case 19:
        if (nameIs(name, "proxy-authorization")) bit = 16;
        break;
    }
    if (bit === 0) continue;
    if ((seen & bit) !== 0) return true;
    seen |= bit;
  }
  return false;
}

/** The request-line bytes Node's parser is reading, while it emits the request. */
interface ParserBuffer {
  getCurrentBuffer(): Buffer;
}

/** The parser's input last copied on a connection, and where its next request line may start. */
interface InputScan {
  bytesRead: number;
  input: Buffer;
  from: number;
}

const SCAN = Symbol("graygate.inputScan");
type ScannedSocket = Socket & { parser?: ParserBuffer | null; [SCAN]?: InputScan };

/**
 * llhttp also parses `RTSP/1.x` and `ICE/1.0` request lines and reports them
 * as HTTP/1.x, and Node does not say which protocol it read. While the
 * request is emitted, the parser's current input holds its request line
 * (unless the line came in an earlier packet than the end of the header
 * block): find the line, and refuse one whose protocol is not `HTTP/`.
 * Requests pipelined in one packet share one copy of it, each searched from
 * where the last one checked ended. Only synchronous within Node's "request"
 * event (or shouldUpgradeCallback).
 */
export function foreignProtocol(req: IncomingMessage): boolean {
  const socket = req.socket as ScannedSocket;
  const parser = socket.parser;
  if (parser === undefined || parser === null) return false;
  let scan = socket[SCAN];
  const bytesRead = socket.bytesRead;
  // A TLS socket's count is of encrypted bytes, read apart from the parser's input: no reuse.
  if (scan === undefined || scan.bytesRead !== bytesRead || (socket as TLSSocket).encrypted) {
    scan = { bytesRead, input: parser.getCurrentBuffer(), from: 0 };
    socket[SCAN] = scan;
  }
  const input = scan.input;
  const line = `${req.method} ${req.url} `;
  // This request's own line is followed by its version, HTTP/1.x; the same line with another
  // HTTP version is another request's (looked past); with another protocol, it is refused.
  const minor = 48 + req.httpVersionMinor; // "0" or "1"
  let at = input.indexOf(line, scan.from, "latin1");
  while (at !== -1) {
    const end = at + line.length;
    if (
      input[end] !== 72 || // H
      input[end + 1] !== 84 || // T
      input[end + 2] !== 84 || // T
      input[end + 3] !== 80 || // P
      input[end + 4] !== 47 // /
    ) {
      return true;
    }
    if (input[end + 5] === 49 && input[end + 6] === 46 && input[end + 7] === minor) {
      scan.from = end;
      return false;
    }
    at = input.indexOf(line, end, "latin1");
  }
  return false;
}

/**
 * The one expectation HTTP/1.1 defines, and nothing around it: Node's own
 * test also takes `x 100-continue` or `100-continue, foo` for it.
 */
const CONTINUE = /^100-continue$/i;

/** Whether a request's Expect is exactly 100-continue (so that a 100 may be sent). */
export function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && CONTINUE.test(expect);
}

/**
 * Why this request must not be forwarded, or undefined. `authority` is the
 * host (lower case, no port) of an absolute-form target.
 */
export function requestProblem(
  req: IncomingMessage,
  maxHeaderCount: number,
  authority: string | undefined,
): ErrorCode | undefined {
  const raw = req.rawHeaders;
  // Node keeps at most maxHeaderCount + 1 fields (serve.ts): one more says there were too many.
  if (raw.length > 2 * maxHeaderCount) return "header_fields_too_large";
  if (req.httpVersionMajor !== 1) {
    // HTTP/0.9 has no headers to route on; 2.0 and above are not spoken on this listener.
    return req.httpVersionMajor > 1 ? "http_version_not_supported" : "bad_request";
  }
  // RFC 9112 §3.2: more than one Host is a 400 (Node keeps the first and goes on); and the
  // other fields Node keeps one copy of that decide who asks and what the body is.
  if (repeatsSingleField(raw)) return "bad_request";
  const headers = req.headers;
  const host = headers.host;
  if (host === undefined) {
    // HTTP/1.1 requires Host (RFC 9112 §3.2); HTTP/1.0 may go without.
    if (req.httpVersionMinor !== 0) return "bad_request";
  } else if (!HOST_VALUE.test(host)) {
    return "bad_request";
  }
  // An absolute-form target names its host: a Host that disagrees is ambiguous (RFC 9112 §3.2.2).
  if (authority !== undefined && hostOf(host) !== authority) {
    return "bad_request";
  }
  // Framing headers spelt with "_": servers that fold "_" into "-" (CGI, WSGI
  // and others) would frame the body where Node saw none.
  if (headers.content_length !== undefined || headers.transfer_encoding !== undefined) {
    return "bad_request";
  }
  const transferEncoding = headers["transfer-encoding"];
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing. And a
    // coding other than chunked alone (gzip, chunked) would be lost: graygate
    // re-frames the body it forwards.
    if (req.httpVersionMinor === 0) return "bad_request";
    if (transferEncoding.length !== 7 || transferEncoding.toLowerCase() !== "chunked") {
      return "bad_request";
    }
  }
  // Only 100-continue is an expectation HTTP/1.1 defines (RFC 9110 §10.1.1); HTTP/1.0 ignores Expect.
  if (headers.expect !== undefined && req.httpVersionMinor === 1 && !expectsContinue(req)) {
    return "expectation_failed";
  }
  // RTSP/1.0 and ICE/1.0 read as HTTP/1.0. Checking every request line would cost a copy of
  // the parser's input per request (about a tenth of graygate's CPU, load/RESULTS.md), so an
  // HTTP/1.1-looking line is checked only for an upgrade (upgrade.ts); docs/SECURITY.md.
  if (req.httpVersionMinor === 0 && foreignProtocol(req)) return "http_version_not_supported";
  return undefined;
}

/** RFC 6455 §4.1: base64 of 16 bytes. */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{22}==$/;

/**
 * What a WebSocket upgrade must be beyond any request (RFC 6455 §4.1): GET
 * on HTTP/1.1 with a key, and no body. Body bytes would otherwise reach the
 * upstream as tunnel data, read as frames: a request smuggled in a body.
 */
export function upgradeProblem(req: IncomingMessage): ErrorCode | undefined {
  if (req.method !== "GET" || req.httpVersionMinor !== 1) return "bad_request";
  const headers = req.headers;
  const length = headers["content-length"];
  if (headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")) {
    return "bad_request";
  }
  const key = headers["sec-websocket-key"];
  return typeof key === "string" && WEBSOCKET_KEY.test(key) ? undefined : "bad_request";
}
