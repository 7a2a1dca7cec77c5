/**
 * What graygate refuses to forward beyond what Node's strict parser already
 * refuses (CL with TE, duplicate Content-Length, bad chunk sizes, bare CR or
 * LF, control bytes, obs-fold, a space before the colon, oversized chunk
 * extensions): requests Node lets through that an upstream could read
 * another way, which is how requests are smuggled.
 */
import type { IncomingMessage } from "node:http";
import { hostOf } from "../routing/facts.ts";
import type { ErrorCode } from "./errors.ts";

/** RFC 3986 host (reg-name or IP literal) with an optional port; empty is allowed (RFC 9112 §3.2). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

/** How many Host fields a request carries (names compared without allocating). */
export function hostCount(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (
      name.length === 4 &&
      (name.charCodeAt(0) | 32) === 104 &&
      (name.charCodeAt(1) | 32) === 111 &&
      (name.charCodeAt(2) | 32) === 115 &&
      (name.charCodeAt(3) | 32) === 116
    ) {
      count++;
    }
  }
  return count;
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
  // RFC 9112 §3.2: more than one Host is a 400 (Node keeps the first and goes on).
  if (hostCount(raw) > 1) return "bad_request";
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
  return undefined;
}
