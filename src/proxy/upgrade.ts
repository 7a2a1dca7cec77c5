/**
 * WebSocket (and other Upgrade) requests: routed by the same table, then
 * tunnelled by http-proxy-3. Its errors are always handled here: a broken
 * socket on either side must never throw out of the process.
 */
import { randomUUID } from "node:crypto";
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { createProxyServer } from "http-proxy-3";
import { methodLabel } from "../observe/metrics.ts";
import { NO_MATCH } from "../routing/table.ts";
import { classifyUpstreamError, UPGRADE_ANSWER_TIMEOUT, writeRawError } from "./errors.ts";
import { CLIENT_CLOSED, type Gateway, requestFacts, requestTarget } from "./gateway.ts";
import { acceptableRequestId, upstreamRequestHeaders } from "./headers.ts";
import { requestProblem } from "./request-checks.ts";
import type { UpstreamTarget } from "./upstreams.ts";

interface UpgradeState {
  version: string;
  versionHeader: string;
  headers: string[];
  /** The request target as received (http-proxy-3 would normalise it). */
  path: string;
  /** How long the upstream may take to answer the upgrade. */
  answerTimeoutMs: number;
  /** Called with the upstream's status: 101, or the answer it relays instead. */
  answered: (status: number) => void;
}

/** Skips the one `destroySoon()` that http-proxy-3 calls after its error callback. */
function holdSocket(socket: Duplex): void {
  const held = socket as Duplex & { destroySoon?: () => void };
  held.destroySoon = () => {
    delete held.destroySoon;
  };
}

export class UpgradeHandler {
  private readonly gateway: Gateway;
  private readonly states = new WeakMap<IncomingMessage, UpgradeState>();
  private readonly proxy = createProxyServer({ ws: true, xfwd: false, secure: true });
  /** Client sockets of open tunnels: a drain ends them last. */
  private readonly sockets = new Set<Duplex>();

  constructor(gateway: Gateway) {
    this.gateway = gateway;
    // http-proxy-3 rethrows errors nobody listens to: always listen.
    this.proxy.on("error", (error: Error) => {
      gateway.logger.warn({ err: error.message }, "websocket proxy error");
    });
    this.proxy.on("proxyReqWs", (proxyReq: ClientRequest, req: IncomingMessage) => {
      const state = this.states.get(req);
      if (state === undefined) return;
      // The raw path, and graygate's headers in place of what http-proxy-3 copied.
      proxyReq.path = state.path;
      for (const name of proxyReq.getHeaderNames()) proxyReq.removeHeader(name);
      const headers = state.headers;
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i] as string;
        const previous = proxyReq.getHeader(name);
        const value = headers[i + 1] as string;
        proxyReq.setHeader(name, previous === undefined ? value : [String(previous), value].flat());
      }
      // These run before http-proxy-3's own listeners write the answer to the
      // client: a 101, or any other answer (a 403, say), which it relays.
      const answer = (proxyRes: IncomingMessage) => {
        proxyReq.setTimeout(0);
        if (state.versionHeader !== "") proxyRes.headers[state.versionHeader] = state.version;
        state.answered(proxyRes.statusCode ?? 101);
      };
      // An upstream that takes the connection but never answers must not hold the client.
      proxyReq.setTimeout(state.answerTimeoutMs, () => {
        const error = new Error("the upstream did not answer the upgrade in time");
        proxyReq.destroy(Object.assign(error, { code: UPGRADE_ANSWER_TIMEOUT }));
      });
      proxyReq.on("upgrade", answer);
      proxyReq.on("response", answer);
    });
  }

  /** Ends every tunnel: the last step of a drain. */
  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const gateway = this.gateway;
    const runtime = gateway.runtime;
    const metrics = gateway.metrics;
    const start = performance.now();
    socket.on("error", () => socket.destroy());
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    const incomingId = req.headers["x-request-id"];
    const requestId = acceptableRequestId(incomingId) ? incomingId : randomUUID();
    const versionHeader = runtime.config.server.versionHeader;
    const target = requestTarget(req.url);
    const problem =
      target === undefined
        ? "bad_request"
        : requestProblem(req, gateway.maxHeaderCount, target.authority);
    if (target === undefined || problem !== undefined) {
      const status = writeRawError(socket, problem ?? "bad_request", {
        route: NO_MATCH,
        version: NO_MATCH,
        requestId,
        versionHeader,
      });
      gateway.countRefused(req.method ?? "", status, requestId, socket);
      return;
    }
    const { facts, peer } = requestFacts(req, target, runtime.table);
    const decision = runtime.table.decide(facts);
    const route = decision.compiled;
    const method = methodLabel(req.method ?? "GET");
    const record = (status: number, version: string, upstream: string, targetUrl: string) => {
      const entry = metrics.version(decision.route, version, upstream);
      metrics.countRequest(entry, method, status);
      metrics.countDecision(decision.route, decision.rule, version);
      const seconds = (performance.now() - start) / 1000;
      entry.duration.observe(seconds);
      gateway.writeAccess({
        msg: "request",
        method: req.method ?? "",
        path: target.path,
        status,
        route: decision.route,
        version,
        rule: decision.rule,
        target: targetUrl,
        duration: Math.round(seconds * 1e6) / 1000,
        bytes: 0,
        requestId,
        client: facts.clientAddress,
      });
    };
    if (route === undefined) {
      writeRawError(socket, "no_route", {
        route: NO_MATCH,
        version: NO_MATCH,
        requestId,
        versionHeader,
      });
      record(404, NO_MATCH, NO_MATCH, "");
      return;
    }
    let version = decision.version;
    let upstreamName = decision.upstream;
    let upstreamTarget = runtime.upstreams.get(upstreamName)?.pick();
    if (upstreamTarget === undefined && route.fallback && version !== "stable") {
      metrics.countFallback(route.name, version, "stable");
      version = "stable";
      upstreamName = route.stableUpstream;
      upstreamTarget = runtime.upstreams.get(upstreamName)?.pick();
    }
    if (upstreamTarget === undefined) {
      writeRawError(socket, "no_healthy_target", {
        route: route.name,
        version,
        requestId,
        versionHeader,
      });
      record(503, version, upstreamName, "");
      return;
    }
    metrics.countFeatures(decision.features);
    let answered = false;
    socket.once("close", () => {
      if (!answered) record(CLIENT_CLOSED, version, upstreamName, "");
      answered = true;
    });

    const connectTimeout = runtime.config.server.timeouts.upstreamConnect;
    const tunnel = (via: UpstreamTarget, firstHead: Buffer) => {
      const headers = upstreamRequestHeaders(
        req.headers,
        versionHeader,
        {
          version,
          rule: decision.rule,
          features: decision.featuresHeader,
          requestId,
          peer,
          proto: gateway.proto,
        },
        true,
      );
      this.states.set(req, {
        version,
        versionHeader,
        headers,
        path: target.url,
        answerTimeoutMs: runtime.config.server.timeouts.upstreamResponse,
        answered: (status) => {
          if (answered) return;
          answered = true;
          via.answered();
          record(status, version, upstreamName, via.url);
        },
      });
      this.proxy.ws(
        req,
        socket,
        firstHead,
        {
          target: via.origin,
          changeOrigin: false,
          connectTimeout,
          // The upstream's TLS settings, as for HTTP. `ssl` seeds the outgoing
          // options (a fresh object: http-proxy-3 fills it in); it takes `ca` only from here.
          ca: via.tls.ca,
          ssl: { servername: via.tls.serverName },
        },
        (error: Error) => {
          if (answered) return;
          const { reason, code, notDelivered } = classifyUpstreamError(error);
          metrics.countUpstreamError(metrics.version(route.name, version, upstreamName), reason);
          if (notDelivered) via.connectFailed();
          const stable =
            route.fallback && version !== "stable" && notDelivered
              ? runtime.upstreams.get(route.stableUpstream)?.pick()
              : undefined;
          if (stable !== undefined) {
            metrics.countFallback(route.name, version, "stable");
            version = "stable";
            upstreamName = route.stableUpstream;
            // http-proxy-3 ends the client socket right after this callback: keep it for the retry.
            // The head was already put back into the socket's buffer by the first try.
            holdSocket(socket);
            tunnel(stable, Buffer.alloc(0));
            return;
          }
          answered = true;
          gateway.logger.warn(
            { requestId, target: via.url, err: error.message },
            "websocket upstream failed",
          );
          const status = writeRawError(socket, code, {
            route: route.name,
            version,
            requestId,
            versionHeader,
          });
          record(status, version, upstreamName, via.url);
        },
      );
    };
    tunnel(upstreamTarget, head);
  };
}
