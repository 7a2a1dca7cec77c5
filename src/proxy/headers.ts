/**
 * Header rules of the README's "What a request gets", both directions:
 * hop-by-hop headers (and those the Connection header names) removed,
 * forwarding headers set, graygate's own headers set with any client copies
 * dropped.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  FEATURES_HEADER,
  REQUEST_ID_HEADER,
  RULE_HEADER,
  VERSION_HEADER,
} from "../config/names.ts";
import { HOP_BY_HOP_HEADERS } from "../net/hop-by-hop.ts";

/** The names a Connection header lists (lower case); usually none. */
export function connectionTokens(
  connection: string | string[] | undefined,
): Set<string> | undefined {
  if (connection === undefined) return undefined;
  // The usual values name no header: no split, no Set.
  if (connection === "keep-alive" || connection === "close" || connection === "Keep-Alive") {
    return undefined;
  }
  const text = Array.isArray(connection) ? connection.join(",") : connection;
  let tokens: Set<string> | undefined;
  for (const part of text.split(",")) {
    const token = part.trim().toLowerCase();
    // keep-alive and close are options, not header names: nothing more to drop.
    if (token === "" || token === "keep-alive" || token === "close") continue;
    tokens ??= new Set();
    tokens.add(token);
  }
  return tokens;
}

export interface ForwardContext {
  version: string;
  rule: string;
  /** Comma-joined enabled features, "" when none. */
  features: string;
  requestId: string;
  /** The peer's address: appended to X-Forwarded-For. */
  peer: string;
  /** "http" or "https": the scheme the client used to reach graygate. */
  proto: string;
  /** The Host to send: the client's, or an absolute-form target's authority; undefined for none. */
  host: string | undefined;
}

/** Header names graygate owns on the way upstream (besides the configurable version header). */
const OWN_REQUEST_HEADERS = new Set([
  VERSION_HEADER,
  RULE_HEADER,
  FEATURES_HEADER,
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  REQUEST_ID_HEADER,
  // Node answers 100-continue itself; undici refuses to send it.
  "expect",
]);

/**
 * A header spelt with "_" where graygate's own or a hop-by-hop header has
 * "-" (x_forwarded_for): servers that fold "_" into "-" would take it for
 * the real one, so it is dropped, as nginx drops underscored headers.
 */
function shadowsOwnHeader(name: string, versionHeader: string): boolean {
  const dashed = name.replaceAll("_", "-");
  return (
    OWN_REQUEST_HEADERS.has(dashed) ||
    HOP_BY_HOP_HEADERS.has(dashed) ||
    dashed === "host" ||
    dashed === versionHeader
  );
}

/**
 * Fields a Connection header cannot make hop-by-hop: the Host the upstream
 * must see and the body's length (`Connection: close, host` would otherwise
 * send the upstream graygate's own address as the Host).
 */
const KEPT_FIELDS: ReadonlySet<string> = new Set(["host", "content-length"]);

/** Whether a client's field (name in lower case) goes upstream. Host is sent apart. */
function forwarded(name: string, named: Set<string> | undefined, versionHeader: string): boolean {
  if (
    HOP_BY_HOP_HEADERS.has(name) ||
    OWN_REQUEST_HEADERS.has(name) ||
    name === versionHeader ||
    name === "host"
  ) {
    return false;
  }
  if (named?.has(name) === true && !KEPT_FIELDS.has(name)) return false;
  return name.indexOf("_") === -1 || !shadowsOwnHeader(name, versionHeader);
}

/**
 * The upstream request's headers as undici takes them: a flat
 * [name, value, name, value, …] list. Every copy of a repeated field goes
 * as received: Node joins most repeated fields and keeps only the first of
 * some (User-Agent, Referer, …), so when it collapsed any, the list is made
 * from the raw fields instead (rare; the usual request costs nothing more).
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  versionHeader: string,
  context: ForwardContext,
  upgrade: boolean,
): string[] {
  const out: string[] = [];
  const named = connectionTokens(headers.connection);
  // Fields as Node counts them: a string stands for one raw field unless Node collapsed copies.
  let fields = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const single = typeof value === "string";
    fields += single ? 1 : value.length;
    if (!forwarded(name, named, versionHeader)) continue;
    if (single) {
      out.push(name, value);
    } else {
      for (const item of value) out.push(name, item);
    }
  }
  if (fields * 2 !== rawHeaders.length) {
    out.length = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = (rawHeaders[i] as string).toLowerCase();
      if (forwarded(name, named, versionHeader)) out.push(name, rawHeaders[i + 1] as string);
    }
  }
  if (context.host !== undefined) out.push("host", context.host);
  if (upgrade) {
    out.push("connection", "upgrade", "upgrade", String(headers.upgrade ?? ""));
  }
  const forwardedFor = headers["x-forwarded-for"];
  out.push(
    "x-forwarded-for",
    forwardedFor === undefined || forwardedFor === ""
      ? context.peer
      : `${Array.isArray(forwardedFor) ? forwardedFor.join(", ") : forwardedFor}, ${context.peer}`,
  );
  out.push("x-forwarded-proto", context.proto);
  if (context.host !== undefined) out.push("x-forwarded-host", context.host);
  if (versionHeader !== "") out.push(versionHeader, context.version);
  out.push(RULE_HEADER, context.rule);
  if (context.features !== "") out.push(FEATURES_HEADER, context.features);
  out.push(REQUEST_ID_HEADER, context.requestId);
  return out;
}

/**
 * The response's headers for Node's writeHead, as a flat [name, value, …]
 * list (Node takes it as it is, with no object in between): the upstream's
 * less hop-by-hop, plus the version.
 */
export function clientResponseHeaders(
  headers: IncomingHttpHeaders,
  versionHeader: string,
  version: string,
): string[] {
  const out: string[] = [];
  const named = connectionTokens(headers.connection);
  for (const name in headers) {
    if (HOP_BY_HOP_HEADERS.has(name) || name === versionHeader) continue;
    if (named?.has(name) === true) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === "string") {
      out.push(name, value);
    } else {
      // Set-Cookie and other repeated fields: one field line each.
      for (const item of value) out.push(name, item);
    }
  }
  if (versionHeader !== "") out.push(versionHeader, version);
  return out;
}

/** Whether a Connection header asks for an upgrade (`Connection: Upgrade`, or among others). */
export function asksUpgrade(connection: string | string[] | undefined): boolean {
  return connectionTokens(connection)?.has("upgrade") === true;
}

/** The request's id: the client's x-request-id when sane, else a new UUID. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers[REQUEST_ID_HEADER];
  return acceptableRequestId(incoming) ? incoming : randomUUID();
}

/** A valid incoming x-request-id is kept: printable ASCII, at most 200 characters. */
export function acceptableRequestId(value: string | string[] | undefined): value is string {
  return (
    typeof value === "string" &&
    value.length > 0 &&
    value.length <= 200 &&
    /^[\x21-\x7e]+$/.test(value)
  );
}
