/**
 * `graygate serve`: load the config, open the proxy and admin listeners, and
 * drain on SIGTERM/SIGINT (readiness off, stop accepting, let in-flight
 * requests finish within `server.drain`, exit 0; a second signal exits at once).
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
import { type AddressInfo, isIPv4 } from "node:net";
import type { Duplex } from "node:stream";
import { type AdminState, createAdminServer } from "../admin/server.ts";
import { parseListen } from "../config/listen.ts";
import { type LoadedConfig, loadConfigFile } from "../config/load.ts";
import { NO_MATCH } from "../config/names.ts";
import type { Problem } from "../config/problems.ts";
import type { Config } from "../config/schema.ts";
import { ConfigWatcher } from "../config/watch.ts";
import { createLogger, effectiveLevel, type Logger } from "../observe/log.ts";
import { Metrics } from "../observe/metrics.ts";
import { ClientConnection } from "../proxy/connection.ts";
import { type ErrorCode, writeRawError } from "../proxy/errors.ts";
import { Gateway } from "../proxy/gateway.ts";
import { expectsContinue } from "../proxy/request-checks.ts";
import { shouldUpgrade, UpgradeHandler } from "../proxy/upgrade.ts";
import { PoolRegistry } from "../proxy/upstreams.ts";
import { adminHost } from "./admin-host.ts";
import { buildRuntime, Reloader, startHealthChecks, stopHealthChecks } from "./reload.ts";

export interface ServeOptions {
  configFile: string;
  /** Replaces the logger built from the config (tests, the demo). */
  logger?: Logger;
  /** false: no file watch (SIGHUP and POST /-/reload still reload). */
  watch?: boolean;
  /** "worker": the proxy listener only; the primary validates, watches and serves admin. */
  role?: "single" | "worker";
  /** A config already loaded and validated (a worker gets it from its primary). */
  loaded?: LoadedConfig;
}

export interface RunningServer {
  readonly proxy: AddressInfo;
  /** Undefined in a worker: its primary has the admin listener. */
  readonly admin: AddressInfo | undefined;
  readonly gateway: Gateway;
  readonly state: AdminState;
  readonly reloader: Reloader;
  /** Drains and closes everything; resolves when done. */
  stop(): Promise<void>;
}

export type StartResult = { ok: true; server: RunningServer } | { ok: false; problems: Problem[] };

/** "http://127.0.0.1:8080", "http://[::1]:9090". */
export function addressText(address: AddressInfo, scheme: string): string {
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

export function listenOn(server: Server, address: string): Promise<AddressInfo> {
  const parsed = parseListen(address);
  if (parsed === undefined) throw new Error(`bad listen address "${address}"`);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: parsed.port, host: parsed.host }, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
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
  /** Answers `code` on the connection in its turn, once; later errors only close it. */
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

export async function startServer(options: ServeOptions): Promise<StartResult> {
  let loaded = options.loaded;
  if (loaded === undefined) {
    const result = await loadConfigFile(options.configFile);
    if (!result.ok) return { ok: false, problems: result.problems };
    loaded = result.loaded;
  }
  const config = loaded.config;
  const worker = options.role === "worker";
  const { logger, flush, access } =
    options.logger === undefined
      ? createLogger(effectiveLevel(config.log.level))
      : { logger: options.logger, flush: () => {}, access: undefined };

  const metrics = new Metrics({ role: worker ? "requests" : "all" });
  const pools = new PoolRegistry();
  const runtime = buildRuntime(loaded, pools);
  metrics.configLoaded(loaded.hash, "success", false);
  metrics.setTargets(runtime.upstreams);
  startHealthChecks(runtime, metrics, logger);

  const proto = config.server.tls === undefined ? "http" : "https";
  const gateway = new Gateway(runtime, metrics, logger, proto, access);
  const upgrades = new UpgradeHandler(gateway);
  const state: AdminState = { readiness: "starting" };
  const proxy = proxyServer(config);
  proxy.on("request", gateway.handle);
  proxy.on("upgrade", upgrades.handle);
  answerClientErrors(proxy, gateway);
  const reloader = new Reloader({
    file: options.configFile,
    gateway,
    pools,
    metrics,
    logger,
    applyServerSettings: (next) => applyTimeouts(proxy, next),
  });

  // A worker's primary owns the admin listener, the watch and SIGHUP.
  const admin = worker
    ? undefined
    : createAdminServer(adminHost(gateway, state, reloader, metrics, logger));
  const watcher =
    worker || options.watch === false
      ? undefined
      : new ConfigWatcher(options.configFile, () => void reloader.reload("watch"));
  await watcher?.start();
  let stopping: Promise<void> | undefined;
  // Kept through the drain: without a listener, SIGHUP's default action ends the process.
  const onHangup = () => {
    if (stopping === undefined) void reloader.reload("signal");
  };
  if (!worker) process.on("SIGHUP", onHangup);

  const proxyAddress = await listenOn(proxy, config.server.listen);
  let adminAddress: AddressInfo | undefined;
  if (admin !== undefined) {
    try {
      adminAddress = await listenOn(admin, config.admin.listen);
    } catch (error) {
      proxy.close();
      await watcher?.close();
      throw error;
    }
    warnIfAdminExposed(config, logger);
  }
  state.readiness = "ready";
  if (worker) {
    logger.debug({ pid: process.pid, proxy: addressText(proxyAddress, proto) }, "worker serving");
  } else {
    logger.info(
      {
        // The bound addresses: a port of 0 in the config shows as the real one.
        proxy: addressText(proxyAddress, proto),
        admin: addressText(adminAddress as AddressInfo, "http"),
        hash: loaded.hash,
        file: loaded.file,
      },
      "graygate serving",
    );
  }

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      state.readiness = "draining";
      gateway.draining = true;
      stopHealthChecks(gateway.runtime);
      await watcher?.close();
      const drainMs = gateway.runtime.config.server.drain;
      logger.info({ inFlight: gateway.inFlight, drainMs }, "draining");
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
      proxy.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs);
      });
      await Promise.race([gateway.whenIdle(), deadline]);
      clearTimeout(timer);
      // Idle now means no request left; at the deadline this also cuts the late ones.
      proxy.closeAllConnections();
      upgrades.closeAll();
      await closed;
      if (admin !== undefined) {
        admin.closeAllConnections();
        await new Promise<void>((resolve) => admin.close(() => resolve()));
      }
      await pools.closeAll(true);
      logger.info("stopped");
      flush();
    })();
    return stopping;
  };

  return {
    ok: true,
    server: { proxy: proxyAddress, admin: adminAddress, gateway, state, reloader, stop },
  };
}

export function warnIfAdminExposed(config: Config, logger: Logger): void {
  if (config.admin.token !== undefined && config.admin.token !== "") return;
  const host = parseListen(config.admin.listen)?.host;
  const loopback =
    host === "localhost" ||
    host === "::1" ||
    (host !== undefined && isIPv4(host) && host.startsWith("127."));
  if (!loopback) {
    logger.warn(
      { admin: config.admin.listen },
      "the admin listener is not on loopback and has no token",
    );
  }
}

/** Serves until SIGTERM or SIGINT, then drains; resolves to the exit status. */
export function runUntilSignal(server: RunningServer): Promise<number> {
  return onShutdownSignal(server.stop);
}

/**
 * On the first SIGTERM or SIGINT, runs `stop` and resolves 0 (1 if it
 * fails); a second signal exits at once with status 1, after `beforeForcedExit`.
 */
export function onShutdownSignal(
  stop: () => Promise<void>,
  beforeForcedExit: () => void = () => {},
): Promise<number> {
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        process.stderr.write(`graygate: second ${signal}, exiting now\n`);
        beforeForcedExit();
        process.exit(1);
      }
      signalled = true;
      stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
