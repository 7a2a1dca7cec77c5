/**
 * The admin listener (README, "Admin API"): metrics, health, readiness, the running
 * config (secrets redacted) and explain. Loopback by default.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ERRORS, type ErrorCode } from "../proxy/errors.ts";
import { type ExplainRequest, explain } from "../routing/explain.ts";
import type { RouteTable } from "../routing/table.ts";

export type Readiness = "starting" | "ready" | "draining";

export interface AdminState {
  readiness: Readiness;
}

/** The config in force, as the admin API shows it. */
export interface AdminView {
  readonly hash: string;
  readonly loadedAt: Date;
  readonly file: string;
  /** The file as written (before `${VAR}` interpolation). */
  readonly source: unknown;
  /** admin.token, if set. */
  readonly token: string | undefined;
  readonly table: RouteTable;
}

/**
 * What the admin listener needs of the process it serves, declared here so
 * that admin depends on nothing above it: runtime provides it, for a single
 * process and for the primary of workers alike.
 */
export interface AdminHost {
  readonly state: AdminState;
  /** /metrics in the format `accept` asks for. */
  renderMetrics(accept: string | undefined): Promise<{ contentType: string; body: string }>;
  current(): AdminView;
  /** Re-reads the config file: its hash, or the located problems (FILE:LINE:COL: …). */
  reload(): Promise<{ ok: true; hash: string } | { ok: false; problems: readonly string[] }>;
  /** A failure of the admin listener itself. */
  logError(message: string): void;
}

const REDACTED = "[redacted]";

/** One of the catalog's errors (docs/ERRORS.md), with what went wrong when there is more to say. */
function fail(res: ServerResponse, code: ErrorCode, detail?: string): void {
  const { status, message } = ERRORS[code];
  json(res, status, {
    error: code,
    message: detail === undefined ? message : `${message}: ${detail}`,
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

/** A bare environment reference with no default (or an empty one) shows nothing secret. */
const BARE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-)?\}$/;

/**
 * The config as the operator wrote it, before `${VAR}` interpolation (so
 * values from the environment show as their references), and the admin
 * token hidden unless it is a bare reference: written literally or as a
 * reference's default, it is a secret in the file.
 */
export function redactedConfig(source: unknown): unknown {
  const copy = structuredClone(source) as Record<string, unknown> | null;
  const admin = copy?.admin as Record<string, unknown> | undefined;
  if (admin !== undefined && typeof admin.token === "string" && admin.token !== "") {
    if (!BARE_REFERENCE.test(admin.token)) admin.token = REDACTED;
  }
  return copy;
}

/** `/explain?path=…&method=…&host=…&header=Name:value&cookie=a=b&query=k=v&ip=…` */
export function explainRequestOf(params: URLSearchParams): ExplainRequest | string {
  const path = params.get("path");
  if (path === null || !path.startsWith("/")) return 'path is required and must start with "/"';
  const headers: [string, string][] = [];
  for (const header of params.getAll("header")) {
    const colon = header.indexOf(":");
    if (colon <= 0) return `header must be "Name:value", got "${header}"`;
    headers.push([header.slice(0, colon), header.slice(colon + 1)]);
  }
  const request: ExplainRequest = { path, headers };
  const method = params.get("method");
  const host = params.get("host");
  const ip = params.get("ip");
  if (method !== null) request.method = method;
  if (host !== null) request.host = host;
  if (ip !== null) request.ip = ip;
  const cookies = params.getAll("cookie");
  if (cookies.length > 0) request.cookie = cookies.join("; ");
  const queries = params.getAll("query");
  if (queries.length > 0) request.query = queries.join("&");
  return request;
}

/**
 * Whether a request may POST: always when no token is set, else only with
 * `Authorization: Bearer <token>`, compared in constant time (digests of
 * equal length, so neither length nor content leaks through timing).
 */
export function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined || token === "") return true;
  const header = req.headers.authorization ?? "";
  const presented = /^Bearer (.+)$/i.exec(header)?.[1] ?? "";
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(presented), digest(token)) && presented !== "";
}

export function createAdminServer(host: AdminHost): Server {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? "/", "http://admin");
      const method = req.method ?? "GET";
      const read = method === "GET" || method === "HEAD";
      switch (url.pathname) {
        case "/metrics": {
          if (!read) return fail(res, "method_not_allowed", "use GET");
          const { contentType, body } = await host.renderMetrics(req.headers.accept);
          res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
          res.end(body);
          return;
        }
        case "/healthz":
          return json(res, 200, { status: "ok" });
        case "/readyz": {
          const readiness = host.state.readiness;
          return json(res, readiness === "ready" ? 200 : 503, { status: readiness });
        }
        case "/config": {
          const current = host.current();
          return json(res, 200, {
            hash: current.hash,
            loadedAt: current.loadedAt.toISOString(),
            source: current.file,
            config: redactedConfig(current.source),
          });
        }
        case "/-/reload": {
          if (method !== "POST") return fail(res, "method_not_allowed", "use POST");
          if (!authorized(req, host.current().token)) {
            res.setHeader("www-authenticate", 'Bearer realm="graygate"');
            return fail(res, "unauthorized");
          }
          req.resume();
          const outcome = await host.reload();
          // The problems themselves, as the README's admin table has it: {errors: [FILE:LINE:COL: …]}.
          if (!outcome.ok) return json(res, 400, { errors: outcome.problems });
          return json(res, 200, { hash: outcome.hash });
        }
        case "/explain": {
          const request = explainRequestOf(url.searchParams);
          if (typeof request === "string") return fail(res, "bad_request", request);
          return json(res, 200, explain(host.current().table, request).result);
        }
        default:
          return fail(res, "not_found", url.pathname);
      }
    } catch (error) {
      host.logError((error as Error).message);
      if (!res.headersSent) fail(res, "internal");
      else res.destroy();
    }
  });
}
