/**
 * WebSocket upgrades: routed by the same table, then tunnelled. The
 * upstream's 101 is relayed only when it is a valid handshake for the
 * client's key (RFC 6455 §4.2.2); another answer is relayed as an HTTP
 * answer and the connection closed; a broken socket on either side never
 * throws out of the process. An upgrade waits for every answer pipelined
 * before it on its connection (connection.ts).
 */
import { createHash } from "node:crypto";
import {
  type ClientRequest,
  type IncomingMessage,
  request as requestHttp,
  STATUS_CODES,
} from "node:http";
import { request as requestHttps } from "node:https";
import { isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { NO_MATCH, STABLE } from "../config/names.ts";
import { HOP_BY_HOP_HEADERS } from "../net/hop-by-hop.ts";
import { methodLabel, type UpstreamErrorReason } from "../observe/metrics.ts";
import { hostOf } from "../routing/facts.ts";
import { ClientConnection } from "./connection.ts";
import {
  classifyUpstreamError,
  type ErrorCode,
  UPGRADE_ANSWER_TIMEOUT,
  UPGRADE_CONNECT_TIMEOUT,
  writeRawError,
} from "./errors.ts";
import { afterFailure, firstTarget } from "./forwarding.ts";
import { CLIENT_CLOSED, type Gateway, requestFacts, requestTarget } from "./gateway.ts";
import { asksUpgrade, requestIdOf, upstreamRequestHeaders } from "./headers.ts";
import { foreignProtocol, requestProblem, upgradeProblem } from "./request-checks.ts";
import type { UpstreamTarget } from "./upstreams.ts";

/** Upgrade requests whose request line named another protocol than HTTP (RTSP/1.1, say). */
const foreignUpgrades = new WeakSet<IncomingMessage>();

/**
 * Node's shouldUpgradeCallback: only WebSocket upgrades go to the tunnel; any
 * other Upgrade (h2c) is served as plain HTTP/1.1, its Upgrade header dropped
 * as hop-by-hop. Called while the parser still holds the request line, so the
 * protocol check happens here (Node frees the parser before "upgrade").
 */
export function shouldUpgrade(req: IncomingMessage): boolean {
  if (!/^websocket$/i.test(req.headers.upgrade ?? "")) return false;
  if (foreignProtocol(req)) foreignUpgrades.add(req);
  return true;
}

/** RFC 6455 §1.3: the accept value is base64(SHA-1(key + this GUID)). */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export function websocketAccept(key: string): string {
  return createHash("sha1")
    .update(key + WEBSOCKET_GUID)
    .digest("base64");
}

/** An upstream's 101 that completes the client's handshake; anything else opens no tunnel. */
export function validHandshake(res: IncomingMessage, key: string): boolean {
  const headers = res.headers;
  if (res.statusCode !== 101) return false;
  if (headers.upgrade?.toLowerCase() !== "websocket") return false;
  if (!asksUpgrade(headers.connection)) return false;
  // A 101 has no body (RFC 9110 §15.2.2): framing fields on one say the upstream is confused.
  if (headers["transfer-encoding"] !== undefined || headers["content-length"] !== undefined) {
    return false;
  }
  return headers["sec-websocket-accept"] === websocketAccept(key);
}

/**
 * The upstream's fields less hop-by-hop, the version header and (`framed`:
 * graygate writes the framing itself) Content-Length, as raw header lines.
 */
function headerLines(rawHeaders: readonly string[], versionHeader: string, framed = false): string {
  let lines = "";
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(name) || name === versionHeader) continue;
    if (framed && name === "content-length") continue;
    lines += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return lines;
}

function versionLine(versionHeader: string, version: string): string {
  return versionHeader === "" ? "" : `${versionHeader}: ${version}\r\n`;
}

/** Host and port to connect to, from a target's origin ("http://[::1]:8080"). */
function endpoint(origin: string): { host: string; port: number; secure: boolean } {
  const url = new URL(origin);
  const secure = url.protocol === "https:";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === "" ? (secure ? 443 : 80) : Number(url.port), secure };
}

/** The TLS server name for a tunnel: configured, else the Host sent (a name, not an address). */
function serverName(via: UpstreamTarget, host: string, sentHost: string | undefined): string {
  if (via.tls.serverName !== undefined) return via.tls.serverName;
  const name = sentHost === undefined ? "" : hostOf(sentHost);
  return name !== "" && isIP(name) === 0 ? name : host;
}

export class UpgradeHandler {
  private readonly gateway: Gateway;
  /** Client sockets of open tunnels: a drain ends them last. */
  private readonly sockets = new Set<Duplex>();

  constructor(gateway: Gateway) {
    this.gateway = gateway;
  }

  /** Ends every tunnel: the last step of a drain. */
  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    const connection = ClientConnection.of(req.socket);
    if (connection.closing) {
      // Pipelined behind an answer that closes the connection: never served.
      connection.afterAnswers(() => socket.destroy());
      return;
    }
    // After an upgrade the connection is no longer HTTP: nothing more is parsed on it.
    connection.closing = true;
    connection.afterAnswers(() => this.start(req, socket, head));
  };

  private start(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const gateway = this.gateway;
    const runtime = gateway.runtime;
    const metrics = gateway.metrics;
    const start = performance.now();
    const requestId = requestIdOf(req.headers);
    const versionHeader = runtime.config.server.versionHeader;
    const target = requestTarget(req.url);
    const problem =
      target === undefined
        ? "bad_request"
        : (requestProblem(req, gateway.maxHeaderCount, target.authority) ??
          (foreignUpgrades.has(req) ? "http_version_not_supported" : upgradeProblem(req)));
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
    const key = req.headers["sec-websocket-key"] as string;
    const { facts, peer } = requestFacts(req, target, runtime.table);
    const decision = runtime.table.decide(facts);
    const route = decision.compiled;
    const method = methodLabel(req.method ?? "GET");
    let recorded = false;
    const record = (status: number, version: string, upstream: string, targetUrl: string) => {
      if (recorded) return;
      recorded = true;
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
    const fail = (code: ErrorCode, version: string, upstream: string, targetUrl: string) => {
      const status = writeRawError(socket, code, {
        route: route?.name ?? NO_MATCH,
        version: route === undefined ? NO_MATCH : version,
        requestId,
        versionHeader,
      });
      record(status, version, upstream, targetUrl);
    };
    if (route === undefined) {
      fail("no_route", NO_MATCH, NO_MATCH, "");
      return;
    }
    let version = decision.version;
    let upstreamName = decision.upstream;
    const countError = (reason: UpstreamErrorReason) =>
      metrics.countUpstreamError(metrics.version(route.name, version, upstreamName), reason);
    // The same policy as HTTP's (forwarding.ts), carried out with a tunnel.
    let fellBack = false;
    let retried = false;
    const canFallBack = () => !fellBack && route.fallback && version !== STABLE;
    const fallBack = () => {
      metrics.countFallback(route.name, version, STABLE);
      fellBack = true;
      version = STABLE;
      upstreamName = route.stableUpstream;
    };
    /** The target to try: the version's, else stable's, else none (counted as no_healthy_target). */
    const choose = (): UpstreamTarget | undefined => {
      for (;;) {
        const picked = firstTarget(runtime.upstreams.get(upstreamName), canFallBack());
        if (picked !== "fall back" && picked !== undefined) return picked;
        countError("no_healthy_target");
        if (picked === undefined) return undefined;
        fallBack();
      }
    };
    const upstreamTarget = choose();
    if (upstreamTarget === undefined) {
      fail("no_healthy_target", version, upstreamName, "");
      return;
    }
    metrics.countFeatures(decision.features);
    let upstreamRequest: ClientRequest | undefined;
    socket.once("close", () => {
      upstreamRequest?.destroy();
      record(CLIENT_CLOSED, version, upstreamName, "");
    });
    const timeouts = runtime.config.server.timeouts;
    const sentHost = target.hostHeader ?? req.headers.host;

    const tunnel = (via: UpstreamTarget) => {
      const headers = upstreamRequestHeaders(
        req.headers,
        req.rawHeaders,
        versionHeader,
        {
          version,
          rule: decision.rule,
          features: decision.featuresHeader,
          requestId,
          peer,
          proto: gateway.proto,
          host: sentHost,
        },
        true,
      );
      const { host, port, secure } = endpoint(via.origin);
      const options = {
        host,
        port,
        method: "GET",
        path: target.url,
        // A flat list: sent as it is, every copy of a field, with no Host added.
        headers,
        agent: false,
        // As undici does for HTTP: the name to verify (and send as SNI) is tls.serverName, else
        // the Host sent, else the target's host (Node's default).
        ...(secure ? { ca: via.tls.ca, servername: serverName(via, host, sentHost) } : {}),
      };
      const outgoing = secure ? requestHttps(options) : requestHttp(options);
      upstreamRequest = outgoing;
      let answered = false;
      // The connect timeout, then the answer timeout: an upstream that takes the
      // connection but never answers must not hold the client.
      const giveUp = (code: string, message: string, ms: number) =>
        setTimeout(() => outgoing.destroy(Object.assign(new Error(message), { code })), ms);
      let timer = giveUp(
        UPGRADE_CONNECT_TIMEOUT,
        "the upstream did not accept the connection in time",
        timeouts.upstreamConnect,
      );
      outgoing.once("socket", (upstreamSocket: Socket) => {
        upstreamSocket.once("connect", () => {
          clearTimeout(timer);
          timer = giveUp(
            UPGRADE_ANSWER_TIMEOUT,
            "the upstream did not answer the upgrade in time",
            timeouts.upstreamResponse,
          );
        });
      });
      const answer = () => {
        answered = true;
        clearTimeout(timer);
        via.answered();
      };

      outgoing.on(
        "upgrade",
        (res: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer) => {
          answer();
          upstreamSocket.on("error", () => upstreamSocket.destroy());
          if (socket.destroyed) {
            upstreamSocket.destroy();
            return;
          }
          if (!validHandshake(res, key)) {
            upstreamSocket.destroy();
            countError("other");
            gateway.logger.warn(
              { requestId, target: via.url, status: res.statusCode },
              "websocket upstream answered with an invalid handshake",
            );
            fail("upstream_invalid_answer", version, upstreamName, via.url);
            return;
          }
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n${headerLines(res.rawHeaders, versionHeader)}${versionLine(versionHeader, version)}\r\n`,
          );
          record(101, version, upstreamName, via.url);
          const client = socket as Socket;
          // Node's keep-alive timer may be armed on a connection that served earlier requests.
          client.setTimeout?.(0);
          upstreamSocket.setTimeout(0);
          upstreamSocket.setNoDelay(true);
          if (upstreamHead.length > 0) socket.write(upstreamHead);
          if (head.length > 0) upstreamSocket.write(head);
          socket.pipe(upstreamSocket).pipe(socket);
          socket.once("close", () => upstreamSocket.destroy());
          upstreamSocket.once("close", () => socket.destroy());
        },
      );

      outgoing.on("response", (res: IncomingMessage) => {
        answer();
        if (res.statusCode === 101 || socket.destroyed) {
          // A 101 Node did not take for an upgrade (no Upgrade field): no tunnel.
          res.destroy();
          if (!socket.destroyed) {
            countError("other");
            fail("upstream_invalid_answer", version, upstreamName, via.url);
          }
          return;
        }
        // The upgrade was declined (403, 426, …): relayed as an HTTP answer, then closed.
        const status = res.statusCode ?? 502;
        const length = res.headers["content-length"];
        const framing =
          length !== undefined && res.headers["transfer-encoding"] === undefined
            ? `content-length: ${length}\r\n`
            : "";
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n${headerLines(res.rawHeaders, versionHeader, true)}${versionLine(versionHeader, version)}${framing}connection: close\r\n\r\n`,
        );
        record(status, version, upstreamName, via.url);
        res.on("error", () => socket.destroy());
        res.pipe(socket);
      });

      outgoing.on("error", (error: Error) => {
        clearTimeout(timer);
        if (answered || socket.destroyed) return;
        const { reason, code, notDelivered } = classifyUpstreamError(error);
        countError(reason);
        if (notDelivered) via.connectFailed();
        const next = afterFailure(
          { unsent: notDelivered, reset: reason === "reset" },
          via,
          runtime.upstreams.get(upstreamName),
          { method: "GET", resendable: !retried, canFallBack: canFallBack() },
        );
        if (next === "fall back") {
          fallBack();
          const stable = choose();
          if (stable === undefined) fail("no_healthy_target", version, upstreamName, "");
          else tunnel(stable);
          return;
        }
        if (next !== "fail") {
          retried = true;
          tunnel(next.retry);
          return;
        }
        gateway.logger.warn(
          { requestId, target: via.url, err: error.message },
          "websocket upstream failed",
        );
        fail(code, version, upstreamName, via.url);
      });
      outgoing.end();
    };
    tunnel(upstreamTarget);
  }
}
