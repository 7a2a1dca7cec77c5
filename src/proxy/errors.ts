/** graygate's own error answers: JSON, with the route, version and request id (SPEC §4). */
import type { ServerResponse } from "node:http";
import type { UpstreamErrorReason } from "../observe/metrics.ts";

export type ErrorCode =
  | "no_route"
  | "upstream_unreachable"
  | "no_healthy_target"
  | "upstream_timeout"
  | "bad_request";

export const ERROR_STATUS: Record<ErrorCode, number> = {
  no_route: 404,
  upstream_unreachable: 502,
  no_healthy_target: 503,
  upstream_timeout: 504,
  bad_request: 400,
};

const MESSAGES: Record<ErrorCode, string> = {
  no_route: "no route matches this request",
  upstream_unreachable: "the upstream could not be reached",
  no_healthy_target: "no healthy target is left for this upstream",
  upstream_timeout: "the upstream did not answer in time",
  bad_request: "the request cannot be forwarded",
};

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
    message: MESSAGES[code],
    route: detail.route,
    version: detail.version,
    requestId: detail.requestId,
  });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "cache-control": "no-store",
    "x-request-id": detail.requestId,
  };
  if (detail.versionHeader !== "" && detail.version !== "none") {
    headers[detail.versionHeader] = detail.version;
  }
  return { status: ERROR_STATUS[code], headers, body };
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
      return { reason: "timeout", code: "upstream_timeout", notDelivered: true };
    case "UND_ERR_HEADERS_TIMEOUT":
      return { reason: "timeout", code: "upstream_timeout", notDelivered: false };
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return { reason: "reset", code: "upstream_unreachable", notDelivered: false };
    default:
      return { reason: "other", code: "upstream_unreachable", notDelivered: false };
  }
}
