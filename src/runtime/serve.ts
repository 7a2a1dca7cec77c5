/**
 * `graygate serve`: load the config, open the proxy and admin listeners, and
 * drain on SIGTERM/SIGINT (readiness off, stop accepting, let in-flight
 * requests finish within `server.drain`, exit 0; a second signal exits at once).
 * The proxy's HTTP/1 listener itself is proxy/listener-h1.ts.
 */
import type { Server } from "node:http";
import { type AddressInfo, isIPv4 } from "node:net";
import { type AdminState, createAdminServer } from "../admin/server.ts";
import { parseListen } from "../config/listen.ts";
import { type LoadedConfig, loadConfigFile } from "../config/load.ts";
import type { Problem } from "../config/problems.ts";
import type { Config } from "../config/schema.ts";
import { ConfigWatcher } from "../config/watch.ts";
import { createLogger, effectiveLevel, type Logger } from "../observe/log.ts";
import { Metrics } from "../observe/metrics.ts";
import { Gateway } from "../proxy/gateway.ts";
import { createH1Listener } from "../proxy/listener-h1.ts";
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
  const state: AdminState = { readiness: "starting" };
  const listener = createH1Listener(config, gateway);
  const proxy = listener.server;
  const reloader = new Reloader({
    file: options.configFile,
    gateway,
    pools,
    metrics,
    logger,
    applyServerSettings: (next) => listener.applySettings(next),
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
      listener.upgrades.closeAll();
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
