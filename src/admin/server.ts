/**
 * The admin listener (SPEC §6): metrics, health, readiness, the running
 * config (secrets redacted) and explain. Loopback by default.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { formatProblem } from "../config/problems.ts";
import type { Gateway } from "../proxy/gateway.ts";
import { type ExplainRequest, explain } from "../routing/explain.ts";
import type { ReloadOutcome, ReloadTrigger } from "../runtime/reload.ts";

export type Readiness = "starting" | "ready" | "draining";

export interface AdminState {
  readiness: Readiness;
}

const REDACTED = "[redacted]";

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

export type Reload = (trigger: ReloadTrigger) => Promise<ReloadOutcome>;

export function createAdminServer(gateway: Gateway, state: AdminState, reload: Reload): Server {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? "/", "http://admin");
      const method = req.method ?? "GET";
      const read = method === "GET" || method === "HEAD";
      switch (url.pathname) {
        case "/metrics": {
          if (!read) return json(res, 405, { error: "method_not_allowed" });
          const { contentType, body } = await gateway.metrics.render(req.headers.accept);
          res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
          res.end(body);
          return;
        }
        case "/healthz":
          return json(res, 200, { status: "ok" });
        case "/readyz":
          return json(res, state.readiness === "ready" ? 200 : 503, { status: state.readiness });
        case "/config": {
          const runtime = gateway.runtime;
          return json(res, 200, {
            hash: runtime.loaded.hash,
            loadedAt: runtime.loadedAt.toISOString(),
            source: runtime.loaded.file,
            config: redactedConfig(runtime.loaded.source),
          });
        }
        case "/-/reload": {
          if (method !== "POST")
            return json(res, 405, { error: "method_not_allowed", message: "use POST" });
          if (!authorized(req, gateway.runtime.config.admin.token)) {
            res.setHeader("www-authenticate", 'Bearer realm="graygate"');
            return json(res, 401, {
              error: "unauthorized",
              message: "a valid Bearer token is required",
            });
          }
          req.resume();
          const outcome = await reload("api");
          if (outcome.result === "rejected") {
            return json(res, 400, { errors: outcome.problems.map(formatProblem) });
          }
          return json(res, 200, { hash: outcome.hash });
        }
        case "/explain": {
          const request = explainRequestOf(url.searchParams);
          if (typeof request === "string")
            return json(res, 400, { error: "bad_request", message: request });
          return json(res, 200, explain(gateway.runtime.table, request).result);
        }
        default:
          return json(res, 404, {
            error: "not_found",
            message: `no admin endpoint ${url.pathname}`,
          });
      }
    } catch (error) {
      gateway.logger.error({ err: (error as Error).message }, "admin request failed");
      if (!res.headersSent) json(res, 500, { error: "internal", message: "admin request failed" });
      else res.destroy();
    }
  });
}
