/**
 * graygate's own error answers: JSON, with the route, version and request
 * id (README, "What a request gets"; docs/ERRORS.md).
 */
import { type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { NO_MATCH, REQUEST_ID_HEADER } from "../config/names.ts";
import type { UpstreamErrorReason } from "../observe/metrics.ts";

/**
 * Every error graygate answers itself, the proxy's and the admin API's: its
 * code (the `error` field), status and message. docs/ERRORS.md lists each
 * one, and a test holds the two together.
 */
export const ERRORS = {
  // Routing and upstreams.
  no_route: { status: 404, message: "no route matches this request" },
  upstream_unreachable: { status: 502, message: "the upstream could not be reached" },
  upstream_invalid_answer: {
    status: 502,
    message: "the upstream's answer is not a valid WebSocket handshake",
  },
  no_healthy_target: { status: 503, message: "no healthy target is left for this upstream" },
  upstream_timeout: { status: 504, message: "the upstream did not answer in time" },
  // Requests refused before routing.
  bad_request: {
    status: 400,
    message: "the request is malformed or ambiguous and cannot be forwarded",
  },
  method_not_allowed: {
    status: 405,
    message: "the method is not served here (no CONNECT: graygate is a reverse proxy)",
  },
  request_timeout: { status: 408, message: "the request did not arrive in time" },
  content_too_large: { status: 413, message: "the request's chunk extensions are too large" },
  expectation_failed: { status: 417, message: "only the expectation 100-continue is supported" },
  header_fields_too_large: {
    status: 431,
    message: "the request has too many header fields, or they are too large",
  },
  http_version_not_supported: {
    status: 505,
    message: "only HTTP/1.0 and HTTP/1.1 are served here",
  },
  // The admin API.
  unauthorized: { status: 401, message: "a valid Bearer token is required" },
  not_found: { status: 404, message: "no such admin endpoint" },
  internal: { status: 500, message: "the request failed inside graygate" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorDetail {
  route: string;
  version: string;
  requestId: string;
  versionHeader: string;
}

/** The status, headers and JSON body of one of graygate's own errors. */
export function errorAnswer(
  code: ErrorCode,
  detail: ErrorDetail,
): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({
    error: code,
    message: ERRORS[code].message,
    route: detail.route,
    version: detail.version,
    requestId: detail.requestId,
  });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "cache-control": "no-store",
    [REQUEST_ID_HEADER]: detail.requestId,
  };
  if (detail.versionHeader !== "" && detail.version !== NO_MATCH) {
    headers[detail.versionHeader] = detail.version;
  }
  return { status: ERRORS[code].status, headers, body };
}

export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  detail: ErrorDetail,
): { status: number; bytes: number } {
  const { status, headers, body } = errorAnswer(code, detail);
  res.writeHead(status, headers);
  res.end(body);
  return { status, bytes: Number(headers["content-length"]) };
}

/**
 * Writes one of graygate's JSON errors as a raw HTTP/1.1 response on a
 * socket no ServerResponse owns (a parse error, an upgrade, CONNECT), then
 * closes it.
 */
export function writeRawError(socket: Duplex, code: ErrorCode, detail: ErrorDetail): number {
  const { status, headers, body } = errorAnswer(code, detail);
  if (socket === null || socket.destroyed || !socket.writable) {
    socket.destroy();
    return status;
  }
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  socket.end(`${head}connection: close\r\n\r\n${body}`);
  // Fully closed once written: a client still sending must not keep a half-open socket.
  if (socket.writableFinished) socket.destroy();
  else socket.once("finish", () => socket.destroy());
  return status;
}

/** Node's and OpenSSL's codes for a TLS connection that could not be made. */
const TLS_FAILURE =
  /^(?:ERR_SSL_|ERR_TLS_|EPROTO$|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|HOSTNAME_MISMATCH$)/;

/** The code of the error a WebSocket upgrade gets when the upstream does not answer in time. */
export const UPGRADE_ANSWER_TIMEOUT = "GRAYGATE_UPGRADE_ANSWER_TIMEOUT";
/** The same when the upstream does not accept the connection in time. */
export const UPGRADE_CONNECT_TIMEOUT = "GRAYGATE_UPGRADE_CONNECT_TIMEOUT";

/** The reason label and the answer for an upstream failure seen before any response byte. */
export function classifyUpstreamError(error: Error): {
  reason: UpstreamErrorReason;
  code: ErrorCode;
  /** The request never reached the upstream: safe to send elsewhere. */
  notDelivered: boolean;
} {
  const code = (error as { code?: string }).code ?? "";
  switch (code) {
    case "ECONNREFUSED":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { reason: "refused", code: "upstream_unreachable", notDelivered: true };
    case "UND_ERR_CONNECT_TIMEOUT":
    case UPGRADE_CONNECT_TIMEOUT:
      return { reason: "timeout", code: "upstream_timeout", notDelivered: true };
    case "UND_ERR_HEADERS_TIMEOUT":
    case UPGRADE_ANSWER_TIMEOUT:
      return { reason: "timeout", code: "upstream_timeout", notDelivered: false };
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return { reason: "reset", code: "upstream_unreachable", notDelivered: false };
    default:
      // A certificate that fails verification, or a handshake that fails: nothing was sent.
      if (TLS_FAILURE.test(code)) {
        return { reason: "other", code: "upstream_unreachable", notDelivered: true };
      }
      return { reason: "other", code: "upstream_unreachable", notDelivered: false };
  }
}
