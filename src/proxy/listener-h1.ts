/**
 * The proxy's HTTP/1 listener: Node's HTTP server with graygate's limits and
 * timeouts, requests to the gateway, WebSocket upgrades to their handler,
 * and what Node's parser refuses answered as graygate's JSON errors in the
 * connection's order. An HTTP/2 listener is its sibling; the gateway sees
 * neither's protocol details.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { NO_MATCH } from "../config/names.ts";
import type { Config } from "../config/schema.ts";
import { ClientConnection } from "./connection.ts";
import { type ErrorCode, writeRawError } from "./errors.ts";
import type { Gateway } from "./gateway.ts";
import { expectsContinue } from "./request-checks.ts";
import { shouldUpgrade, UpgradeHandler } from "./upgrade.ts";

export interface H1Listener {
  readonly server: Server;
  /** Its WebSocket tunnels (a drain ends them last). */
  readonly upgrades: UpgradeHandler;
  /** A reload's timeouts, for new connections and checks from now on. */
  applySettings(config: Config): void;
}

/** The listener for a config (server.tls: HTTPS), wired to the gateway. */
export function createH1Listener(config: Config, gateway: Gateway): H1Listener {
  const server = proxyServer(config);
  const upgrades = new UpgradeHandler(gateway);
  server.on("request", gateway.handle);
  server.on("upgrade", upgrades.handle);
  answerClientErrors(server, gateway);
  return { server, upgrades, applySettings: (next) => applyTimeouts(server, next) };
}

/** The listener timeouts of a config, as Node names them. */
function timeoutSettings(config: Config) {
  const { timeouts } = config.server;
  return {
    headersTimeout: timeouts.headers,
    requestTimeout: Math.max(timeouts.request, timeouts.headers),
    keepAliveTimeout: timeouts.keepAlive,
  };
}

/** Timeouts apply to a running listener (new connections and checks from now on). */
function applyTimeouts(server: Server, config: Config): void {
  Object.assign(server, timeoutSettings(config));
}

function proxyServer(config: Config): Server {
  const { timeouts } = config.server;
  const options = {
    maxHeaderSize: config.server.maxHeaderBytes,
    ...timeoutSettings(config),
    // Node checks the two timeouts above only this often (30 s by default).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeouts.headers / 4))),
    // Explicit, so that NODE_OPTIONS=--insecure-http-parser cannot loosen the parser.
    insecureHTTPParser: false,
    // Checked by graygate (request-checks.ts), so that the 400 is its JSON error.
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    // Only WebSocket upgrades go to the tunnel (upgrade.ts).
    shouldUpgradeCallback: shouldUpgrade,
  };
  const tls = config.server.tls;
  const server =
    tls === undefined
      ? createHttpServer(options)
      : (createHttpsServer({
          ...options,
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
          // A client that never finishes its TLS handshake is held no longer than one that never sends headers.
          handshakeTimeout: timeouts.headers,
        }) as unknown as Server);
  // Node keeps at most this many fields; one over the limit tells a request had too many (431).
  server.maxHeadersCount = config.server.maxHeaderCount + 1;
  return server;
}

/** A parse or timeout error's answer; undefined for a connection that failed (nothing to answer). */
function clientErrorCode(code: string): ErrorCode | undefined {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return "header_fields_too_large";
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return "content_too_large";
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return "request_timeout";
    default:
      return code.startsWith("HPE_") ? "bad_request" : undefined;
  }
}

/**
 * What Node's parser refused, or a client too slow, answered as graygate's
 * JSON errors (Node's own answers are bare), counted, and the connection
 * closed: after every answer queued before it on the connection, never
 * overtaking one (proxy/connection.ts).
 */
function answerClientErrors(server: Server, gateway: Gateway): void {
  const answerRaw = (socket: Duplex, code: ErrorCode, method: string) => {
    const requestId = randomUUID();
    const status = writeRawError(socket, code, {
      route: NO_MATCH,
      version: NO_MATCH,
      requestId,
      versionHeader: gateway.runtime.config.server.versionHeader,
    });
    gateway.countRefused(method, status, requestId, socket);
  };
  /** Answers `code` on the connection in its turn, once; later errors on it add nothing. */
  const answerInTurn = (socket: Duplex, code: ErrorCode, method: string) => {
    const connection = ClientConnection.of(socket);
    // An answer that closes the connection is already on its way (and later errors, as the
    // parser fails on each packet after the first, add nothing).
    if (connection.closing) return;
    connection.closing = true;
    connection.afterAnswers(() => answerRaw(socket, code, method));
  };
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    const code = clientErrorCode(error.code ?? "");
    if (code === undefined) {
      socket.destroy();
      return;
    }
    // The request being served broke its own body: its exchange answers.
    const owner = ClientConnection.peek(socket)?.bodyOwner();
    if (owner !== undefined) {
      owner.reject(code);
      return;
    }
    // A request after those already parsed: its error comes after their answers.
    answerInTurn(socket, code, "");
  });
  // Node would answer 100-continue itself, but for a response queued behind another it
  // writes the 100 into the middle of the final answer: the 100 goes out when the
  // response's turn comes, if the body is not all in by then (a pipelining client sends it
  // without waiting).
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (!expectsContinue(req)) {
      // Node's looser test took it for 100-continue: the request's checks refuse it (417).
    } else if (res.socket !== null) {
      res.writeContinue();
    } else {
      res.once("socket", () => {
        if (!res.headersSent && !req.complete) res.writeContinue();
      });
    }
    gateway.handle(req, res);
  });
  // Only 100-continue is an expectation HTTP defines: any other is refused by the request's
  // own checks, in the connection's order.
  server.on("checkExpectation", gateway.handle);
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    answerInTurn(socket, "method_not_allowed", req.method ?? "");
  });
}
