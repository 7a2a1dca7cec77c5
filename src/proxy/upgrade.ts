/**
 * WebSocket (and other Upgrade) requests: routed by the same table, then
 * tunnelled by http-proxy-3. Its errors are always handled here: a broken
 * socket on either side must never throw out of the process.
 */
import { randomUUID } from "node:crypto";
import { type ClientRequest, type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { createProxyServer } from "http-proxy-3";
import { methodLabel } from "../observe/metrics.ts";
import { NO_MATCH } from "../routing/table.ts";
import { classifyUpstreamError, type ErrorCode, type ErrorDetail, errorAnswer } from "./errors.ts";
import { CLIENT_CLOSED, type Gateway, hostCount, requestFacts, requestTarget } from "./gateway.ts";
import { acceptableRequestId, upstreamRequestHeaders } from "./headers.ts";
import type { UpstreamTarget } from "./upstreams.ts";

interface UpgradeState {
  version: string;
  versionHeader: string;
  headers: string[];
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

/** Writes one of graygate's JSON errors as a raw HTTP response on a socket that asked to upgrade. */
function rejectUpgrade(socket: Duplex, code: ErrorCode, detail: ErrorDetail): void {
  if (socket.destroyed) return;
  const { status, headers, body } = errorAnswer(code, detail);
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n${lines.join("")}connection: close\r\n\r\n${body}`,
  );
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
      // Replace what http-proxy-3 copied from the client with graygate's headers.
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
        if (state.versionHeader !== "") proxyRes.headers[state.versionHeader] = state.version;
        state.answered(proxyRes.statusCode ?? 101);
      };
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
    if (target === undefined || hostCount(req.rawHeaders) > 1) {
      rejectUpgrade(socket, "bad_request", {
        route: NO_MATCH,
        version: NO_MATCH,
        requestId,
        versionHeader,
      });
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
      rejectUpgrade(socket, "no_route", {
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
      rejectUpgrade(socket, "no_healthy_target", {
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

    const tunnel = (target: UpstreamTarget, firstHead: Buffer) => {
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
        answered: (status) => {
          if (answered) return;
          answered = true;
          record(status, version, upstreamName, target.url);
        },
      });
      this.proxy.ws(
        req,
        socket,
        firstHead,
        { target: target.origin, changeOrigin: false },
        (error: Error) => {
          if (answered) return;
          const { reason, notDelivered } = classifyUpstreamError(error);
          metrics.countUpstreamError(metrics.version(route.name, version, upstreamName), reason);
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
            { requestId, target: target.url, err: error.message },
            "websocket upstream failed",
          );
          rejectUpgrade(socket, "upstream_unreachable", {
            route: route.name,
            version,
            requestId,
            versionHeader,
          });
          record(502, version, upstreamName, target.url);
        },
      );
    };
    tunnel(upstreamTarget, head);
  };
}
