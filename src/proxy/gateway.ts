/**
 * The request handler: facts → decision (from the table the request started
 * with) → an upstream target → undici, streaming both ways → metrics and one
 * access line. Errors graygate makes itself are JSON (errors.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { LoadedConfig } from "../config/load.ts";
import { DEFAULT_RULE, NO_MATCH, STABLE } from "../config/names.ts";
import type { Config } from "../config/schema.ts";
import { normalizeAddress } from "../net/cidr.ts";
import type { AccessEntry, AccessWriter, Logger } from "../observe/log.ts";
import { type Metrics, methodLabel, type VersionMetrics } from "../observe/metrics.ts";
import { clientAddress, hostOf } from "../routing/facts.ts";
import type { CompiledRoute, Decision, RouteTable } from "../routing/table.ts";
import { breakAnswer, ClientConnection, type ServedRequest } from "./connection.ts";
import { classifyUpstreamError, ERRORS, type ErrorCode, sendError } from "./errors.ts";
import { afterFailure, firstTarget } from "./forwarding.ts";
import {
  asksUpgrade,
  clientResponseHeaders,
  requestIdOf,
  upstreamRequestHeaders,
} from "./headers.ts";
import type { HealthChecker } from "./health.ts";
import { requestProblem } from "./request-checks.ts";
import type { Upstream, UpstreamTarget } from "./upstreams.ts";

/** Everything one loaded config owns; requests keep the one they started with. */
export interface Runtime {
  readonly loaded: LoadedConfig;
  readonly config: Config;
  readonly table: RouteTable;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly loadedAt: Date;
  /** Its health checkers, once started (see runtime/reload.ts). */
  readonly health: HealthChecker[];
  /** Requests running on it: a replaced runtime's pools close when this is 0. */
  active: number;
}

/** A request as graygate reads its target: origin-form, or absolute-form turned into it. */
export interface RequestTarget {
  /** What goes upstream: path and query, unchanged. */
  url: string;
  path: string;
  query: string;
  /** For an absolute-form target: its host, lower case, without the port. */
  authority?: string;
  /** For an absolute-form target: its authority as the Host to send (host[:port]). */
  hostHeader?: string;
}

export function requestTarget(url: string | undefined): RequestTarget | undefined {
  if (url === undefined || url === "") return undefined;
  // A fragment is never sent in a request (RFC 9112 §3.2): one that is, is refused.
  if (url.indexOf("#") !== -1) return undefined;
  if (url.charCodeAt(0) === 47 /* / */) {
    const mark = url.indexOf("?");
    return mark === -1
      ? { url, path: url, query: "" }
      : { url, path: url.slice(0, mark), query: url.slice(mark + 1) };
  }
  // Absolute-form (RFC 9112 §3.2.2): forwarded in origin-form, never to the host it names,
  // with its authority as the Host.
  if (/^https?:\/\//i.test(url)) {
    // The raw path from the first "/" after the authority: never normalised.
    const authorityStart = url.indexOf("//") + 2;
    const slash = url.indexOf("/", authorityStart);
    const rest = slash === -1 ? "/" : url.slice(slash);
    if (!URL.canParse(url)) return undefined;
    const hostPort = new URL(url).host;
    const authority = hostOf(hostPort);
    const mark = rest.indexOf("?");
    return mark === -1
      ? { url: rest, path: rest, query: "", authority, hostHeader: hostPort }
      : {
          url: rest,
          path: rest.slice(0, mark),
          query: rest.slice(mark + 1),
          authority,
          hostHeader: hostPort,
        };
  }
  return undefined;
}

/** Client gave up: nginx's 499, so that the metrics and log tell it from a server error. */
export const CLIENT_CLOSED = 499;

class ClientClosedError extends Error {
  constructor() {
    super("client closed the connection");
    this.name = "ClientClosedError";
  }
}

/** The upstream's answer could not be relayed (Node refused its status line or headers). */
class UnrelayableAnswerError extends Error {
  constructor(cause: unknown) {
    super(`the upstream's answer cannot be relayed: ${(cause as Error).message}`, { cause });
    this.name = "UnrelayableAnswerError";
  }
}

/** Errors of undici's own making: nothing was wrong with the target's connection. */
const NOT_CONNECTION_FAILURES = new Set([
  "UND_ERR_INVALID_ARG",
  "UND_ERR_DESTROYED",
  "UND_ERR_CLOSED",
  "UND_ERR_ABORTED",
]);

/** Node closes the connection after this answer (its `_last`: Connection: close went out). */
function closesAfter(res: ServerResponse): boolean {
  return !res.shouldKeepAlive || (res as ServerResponse & { _last?: boolean })._last === true;
}

/** A request Node's parser took for an upgrade (Connection: upgrade) that graygate declined. */
function declinedUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade !== undefined && asksUpgrade(req.headers.connection);
}

export class Gateway {
  /** Swapped whole on reload; a request reads it once, at its start. */
  runtime: Runtime;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly proto: "http" | "https";
  /** Set by a drain: responses then close their connections (no next request to drop). */
  draining = false;
  /** Requests being served (for drain). */
  inFlight = 0;
  /**
   * server.maxHeaderCount as the listener was started with: Node's own limit
   * (one more) is fixed per connection, so a reload does not change it.
   */
  readonly maxHeaderCount: number;
  /** Writes one access line (logger.info unless the logger's own writer is given). */
  private readonly access: AccessWriter;
  private idleWaiters: (() => void)[] = [];
  private readonly retired = new Map<Runtime, (live: readonly Runtime[]) => void>();

  constructor(
    runtime: Runtime,
    metrics: Metrics,
    logger: Logger,
    proto: "http" | "https",
    access: AccessWriter = (entry) => logger.info(entry),
  ) {
    this.runtime = runtime;
    this.metrics = metrics;
    this.logger = logger;
    this.proto = proto;
    this.access = access;
    this.maxHeaderCount = runtime.config.server.maxHeaderCount;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const connection = ClientConnection.of(req.socket);
    // Behind an HTTP/1.0 request not yet answered, Node may still close the connection after
    // that answer (one of unknown length cannot be kept alive): it closes, and this one drops.
    const before = connection.served.at(-1);
    if (!connection.closing && before?.mayCloseAfter() === true) before.closeAfterAnswer();
    if (connection.closing) {
      // Parsed behind an answer that closes this connection: its client never sees an answer.
      connection.drop();
      this.logger.debug(
        { method: req.method, path: req.url, client: req.socket.remoteAddress },
        "request dropped: pipelined behind an answer that closes the connection",
      );
      return;
    }
    const runtime = this.runtime;
    const start = performance.now();
    this.inFlight++;
    runtime.active++;
    const exchange = new Exchange(this, runtime, connection, req, res, start);
    connection.admit(exchange, res);
    if (declinedUpgrade(req)) {
      // A declined upgrade (h2c, or anything but WebSocket): Node's parser stops reading after
      // it, so the connection ends with this answer.
      res.shouldKeepAlive = false;
    }
    // Node closes after this answer (HTTP/1.0, Connection: close): nothing after it is served.
    if (!res.shouldKeepAlive) connection.closing = true;
    exchange.begin();
    // Closed before this request was handled: its "close" is gone already.
    if (req.socket.destroyed) exchange.clientClosed();
  };

  /** Resolves when no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * A runtime a reload replaced: once its last request is done, `release` is
   * told which runtimes still hold pools (so that a fallback on the old one
   * never meets a closed pool).
   */
  retire(runtime: Runtime, release: (live: readonly Runtime[]) => void): void {
    this.retired.set(runtime, release);
    if (runtime.active === 0) this.released(runtime);
  }

  private released(runtime: Runtime): void {
    const release = this.retired.get(runtime);
    this.retired.delete(runtime);
    release?.([this.runtime, ...this.retired.keys()]);
  }

  requestDone(runtime: Runtime): void {
    if (--runtime.active === 0 && this.retired.has(runtime)) this.released(runtime);
    if (--this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  writeAccess(entry: AccessEntry): void {
    if (this.runtime.config.log.access) this.access(entry);
  }

  /** A request refused before any routing (a parse error, CONNECT): counted and logged as one. */
  countRefused(method: string, status: number, requestId: string, socket: Duplex): void {
    const metrics = this.metrics;
    metrics.countRequest(
      metrics.version(NO_MATCH, NO_MATCH, NO_MATCH),
      methodLabel(method),
      status,
    );
    this.writeAccess({
      msg: "request",
      method,
      path: "",
      status,
      route: NO_MATCH,
      version: NO_MATCH,
      rule: DEFAULT_RULE,
      target: "",
      duration: 0,
      bytes: 0,
      requestId,
      client: normalizeAddress((socket as Socket).remoteAddress ?? ""),
    });
  }
}

/** Facts for `decide` from a Node request. */
export function requestFacts(
  req: IncomingMessage,
  target: RequestTarget,
  table: RouteTable,
): { facts: Parameters<RouteTable["decide"]>[0]; peer: string } {
  const peer = normalizeAddress(req.socket.remoteAddress ?? "");
  const forwarded = req.headers["x-forwarded-for"];
  const client = clientAddress(
    peer,
    Array.isArray(forwarded) ? forwarded.join(",") : forwarded,
    table.trustedProxies,
  );
  return {
    peer,
    facts: {
      method: req.method ?? "GET",
      host: hostOf(req.headers.host),
      path: target.path,
      query: target.query,
      headers: req.headers,
      clientAddress: client.address,
      trustedPeer: client.trustedPeer,
    },
  };
}

/**
 * One request's trip: also undici's dispatch handler for the upstream
 * request, so each request costs one object, not a closure per event.
 */
class Exchange implements Dispatcher.DispatchHandler, ServedRequest {
  private readonly gateway: Gateway;
  private readonly runtime: Runtime;
  private readonly connection: ClientConnection;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly start: number;
  private readonly versionHeader: string;
  private readonly method: string;
  private requestId = "";
  private peer = "";
  private client = "";
  private target: RequestTarget | undefined;
  private decision: Decision | undefined;
  private route: CompiledRoute | undefined;
  private version = NO_MATCH;
  private upstream: Upstream | undefined;
  private upstreamTarget: UpstreamTarget | undefined;
  private headers: string[] = [];
  private entry: VersionMetrics | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private bytes = 0;
  private done = false;
  private clientGone = false;
  private fellBack = false;
  private retried = false;
  private hasBody = false;
  /** undici calls onRequestStart only on a connected socket: before it, nothing was sent. */
  private requestStarted = false;

  constructor(
    gateway: Gateway,
    runtime: Runtime,
    connection: ClientConnection,
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
  ) {
    this.gateway = gateway;
    this.runtime = runtime;
    this.connection = connection;
    this.req = req;
    this.res = res;
    this.start = start;
    this.versionHeader = runtime.config.server.versionHeader;
    this.method = methodLabel(req.method ?? "GET");
  }

  begin(): void {
    const { req, runtime } = this;
    this.requestId = requestIdOf(req.headers);
    const target = requestTarget(req.url);
    const problem =
      target === undefined
        ? "bad_request"
        : requestProblem(req, this.gateway.maxHeaderCount, target.authority);
    if (target === undefined || problem !== undefined) {
      // Whatever follows on this connection cannot be trusted to be framed as it looks.
      this.closeAfterAnswer();
      this.fail(problem ?? "bad_request");
      return;
    }
    this.target = target;
    const { facts, peer } = requestFacts(req, target, runtime.table);
    this.peer = peer;
    this.client = facts.clientAddress;
    const decision = runtime.table.decide(facts);
    this.decision = decision;
    if (decision.compiled === undefined) {
      this.fail("no_route");
      return;
    }
    this.route = decision.compiled;
    this.gateway.metrics.countFeatures(decision.features);
    const length = req.headers["content-length"];
    this.hasBody =
      (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
    this.send(decision.version, decision.upstream);
  }

  /** Its request's body is still arriving: a parse error or timeout on the connection is its own. */
  get bodyPending(): boolean {
    return !this.done && !this.req.complete;
  }

  /** An HTTP/1.0 request whose answer is not yet made: Node may close after it. */
  mayCloseAfter(): boolean {
    return this.req.httpVersionMinor === 0 && !this.res.headersSent;
  }

  /** This answer closes the connection, and nothing read after it is forwarded. */
  closeAfterAnswer(): void {
    this.res.shouldKeepAlive = false;
    this.connection.closing = true;
  }

  /**
   * Node closes the connection after a final answer to a 100-continue
   * request it sent no 100 for, lest the client still send the body; once the
   * body is all in (pipelined, or none), nothing more can come, and closing
   * would leave the requests parsed behind it unanswered.
   */
  private beforeAnswer(): void {
    const res = this.res as ServerResponse & { _expect_continue?: boolean };
    if (res._expect_continue === true && this.req.complete) res._expect_continue = false;
  }

  /** Cuts an answer under way (in its turn), the connection's last. */
  private breakAnswer(error?: Error): void {
    this.connection.closing = true;
    breakAnswer(this.res, error);
  }

  /** The client broke its request after the headers: answer `code` and stop the upstream request. */
  reject(code: ErrorCode): void {
    if (this.done) return;
    this.closeAfterAnswer();
    const res = this.res;
    if (res.headersSent) {
      // The answer is under way: only a broken response can tell the client.
      this.breakAnswer();
      this.finish(ERRORS[code].status);
    } else {
      this.fail(code);
    }
    this.controller?.abort(new ClientClosedError());
  }

  /** Sends the request to a version's upstream (first try, or the fallback). */
  private send(version: string, upstreamName: string): void {
    const gateway = this.gateway;
    const route = this.route as CompiledRoute;
    const upstream = this.runtime.upstreams.get(upstreamName);
    this.version = version;
    this.upstream = upstream;
    this.entry = gateway.metrics.version(route.name, version, upstreamName);
    this.entry.inFlight.inc();
    const picked = firstTarget(upstream, this.canFallBack());
    if (picked === "fall back" || picked === undefined) {
      gateway.metrics.countUpstreamError(this.entry, "no_healthy_target");
      if (picked === undefined) this.fail("no_healthy_target");
      else this.fallBack();
      return;
    }
    const decision = this.decision as Decision;
    const target = this.target as RequestTarget;
    this.headers = upstreamRequestHeaders(
      this.req.headers,
      this.req.rawHeaders,
      this.versionHeader,
      {
        version,
        rule: decision.rule,
        features: decision.featuresHeader,
        requestId: this.requestId,
        peer: this.peer,
        proto: gateway.proto,
        host: target.hostHeader ?? this.req.headers.host,
      },
      false,
    );
    this.dispatch(picked);
  }

  private dispatch(target: UpstreamTarget): void {
    this.upstreamTarget = target;
    this.requestStarted = false;
    this.controller = undefined;
    target.pool.dispatch(
      {
        path: (this.target as RequestTarget).url,
        method: this.req.method ?? "GET",
        headers: this.headers,
        body: this.hasBody ? this.req : null,
      },
      this,
    );
  }

  /** The request body, if any, has not been read: the request can still go elsewhere. */
  private bodyUntouched(): boolean {
    return !this.clientGone && !(this.hasBody && this.req.readableDidRead);
  }

  /** To stable, once, when the route allows it and the request body is still unread. */
  private canFallBack(): boolean {
    const route = this.route as CompiledRoute;
    return !this.fellBack && route.fallback && this.version !== STABLE && this.bodyUntouched();
  }

  private fallBack(): void {
    const route = this.route as CompiledRoute;
    this.fellBack = true;
    this.gateway.metrics.countFallback(route.name, this.version, STABLE);
    this.entry?.inFlight.dec();
    this.send(STABLE, route.stableUpstream);
  }

  /** The client's connection closed. */
  clientClosed(): void {
    if (this.done || this.res.writableFinished) return;
    this.clientGone = true;
    // Without a controller yet, onRequestStart aborts when undici gets that far.
    this.controller?.abort(new ClientClosedError());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.requestStarted = true;
    if (this.clientGone || this.done) controller.abort(new ClientClosedError());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    // Informational answers (100, 103) are not the response: wait for the final one.
    if (statusCode < 200) return;
    (this.upstreamTarget as UpstreamTarget).answered();
    this.status = statusCode;
    const res = this.res;
    if (this.gateway.draining) this.closeAfterAnswer();
    const out = clientResponseHeaders(headers, this.versionHeader, this.version);
    this.beforeAnswer();
    try {
      if (statusMessage !== undefined && statusMessage !== "") {
        res.writeHead(statusCode, statusMessage, out);
      } else {
        res.writeHead(statusCode, out);
      }
      // Node may close after this answer on its own (a 100-continue it never sent, an
      // HTTP/1.0 answer of unknown length).
      if (closesAfter(res)) this.connection.closing = true;
    } catch (error) {
      // Node refuses to send what undici accepted: nothing went out; answer 502.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      controller.abort(new UnrelayableAnswerError(error));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      // Rare (a slow reader): the closure costs only then.
      this.res.once("drain", () => this.controller?.resume());
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.finish(this.status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.done) return;
    if (this.clientGone || error instanceof ClientClosedError) {
      this.finish(CLIENT_CLOSED);
      return;
    }
    const entry = this.entry as VersionMetrics;
    const metrics = this.gateway.metrics;
    const target = this.upstreamTarget as UpstreamTarget;
    if (this.res.headersSent) {
      // Broken mid-body: the client must see a broken response, not a short "success".
      metrics.countUpstreamError(entry, classifyUpstreamError(error).reason);
      this.gateway.logger.warn(
        { requestId: this.requestId, target: target.url, err: error.message },
        "upstream failed mid-response",
      );
      this.breakAnswer(error);
      this.finish(this.status);
      return;
    }
    const errorCode = (error as { code?: string }).code ?? "";
    if (errorCode === "UND_ERR_INVALID_ARG") {
      // undici refused the request itself (a header it will not send): the client's doing.
      this.fail("bad_request");
      return;
    }
    const { reason, code, notDelivered } = classifyUpstreamError(error);
    metrics.countUpstreamError(entry, reason);
    // Not connected (refused, timed out, TLS failed): the request never left.
    const unsent =
      notDelivered || (!this.requestStarted && !NOT_CONNECTION_FAILURES.has(errorCode));
    if (unsent) target.connectFailed();
    const next = afterFailure({ unsent, reset: reason === "reset" }, target, this.upstream, {
      method: this.req.method ?? "",
      resendable: !this.retried && this.bodyUntouched(),
      canFallBack: this.canFallBack(),
    });
    if (next === "fall back") {
      this.fallBack();
      return;
    }
    if (next !== "fail") {
      // Once per request, to another target of the same upstream.
      this.retried = true;
      this.gateway.logger.debug(
        { requestId: this.requestId, failed: target.url, retry: next.retry.url },
        "connection failed: retrying on another target",
      );
      this.dispatch(next.retry);
      return;
    }
    this.gateway.logger.warn(
      { requestId: this.requestId, target: target.url, err: error.message, reason },
      "upstream request failed",
    );
    this.fail(code);
  }

  /** Answers with graygate's own JSON error. */
  private fail(code: ErrorCode): void {
    if (this.res.headersSent || this.res.destroyed) {
      this.finish(this.res.destroyed ? CLIENT_CLOSED : this.status);
      return;
    }
    // A body still arriving that will not be read: close after answering rather than parse it
    // as a next request. One all in (unread) is discarded by Node, and the connection goes on.
    if ((this.hasBody && !this.req.complete) || this.gateway.draining) {
      this.closeAfterAnswer();
    }
    this.beforeAnswer();
    const { status, bytes } = sendError(this.res, code, {
      route: this.route?.name ?? NO_MATCH,
      version: this.route === undefined ? NO_MATCH : this.version,
      requestId: this.requestId,
      versionHeader: this.versionHeader,
    });
    // Node may close after this answer on its own (a 100-continue it never sent).
    if (closesAfter(this.res)) this.connection.closing = true;
    this.bytes = bytes;
    this.finish(status);
  }

  private finish(status: number): void {
    if (this.done) return;
    this.done = true;
    const gateway = this.gateway;
    const metrics = gateway.metrics;
    const decision = this.decision;
    this.connection.release(this);
    const seconds = (performance.now() - this.start) / 1000;
    const route = this.route?.name ?? NO_MATCH;
    const rule = decision?.rule ?? DEFAULT_RULE;
    let entry = this.entry;
    if (entry === undefined) {
      entry = metrics.version(route, this.version, this.upstream?.name ?? NO_MATCH);
    } else {
      entry.inFlight.dec();
    }
    metrics.countRequest(entry, this.method, status);
    metrics.countDecision(route, rule, this.version);
    entry.duration.observe(seconds);
    gateway.writeAccess({
      msg: "request",
      method: this.req.method ?? "",
      path: this.target?.path ?? "",
      status,
      route,
      version: this.version,
      rule,
      target: this.upstreamTarget?.url ?? "",
      duration: Math.round(seconds * 1e6) / 1000,
      bytes: this.bytes,
      requestId: this.requestId,
      client: this.client,
    });
    gateway.requestDone(this.runtime);
  }
}
