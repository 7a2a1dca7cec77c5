/**
 * `server.workers: N | auto` with node:cluster. The primary validates the
 * config once, owns the watcher, SIGHUP and the admin listener, and sends
 * each good config (its text) to every worker; workers only proxy. /metrics
 * sums the workers' metrics with the primary's. A worker that dies is
 * replaced; a drain reaches every worker.
 */
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import { type AdminState, createAdminServer } from "../admin/server.ts";
import { type LoadedConfig, loadConfigText } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { ConfigWatcher } from "../config/watch.ts";
import { createLogger, effectiveLevel } from "../observe/log.ts";
import { Metrics } from "../observe/metrics.ts";
import { Gateway } from "../proxy/gateway.ts";
import { PoolRegistry } from "../proxy/upstreams.ts";
import { adminHost } from "./admin-host.ts";
import { buildRuntime, Reloader } from "./reload.ts";
import {
  addressText,
  listenOn,
  onShutdownSignal,
  startServer,
  warnIfAdminExposed,
} from "./serve.ts";

type Json = MetricObjectWithValues<MetricValue<string>>[];

type ToWorker =
  | { type: "config"; file: string; text: string }
  | { type: "metrics"; id: number }
  | { type: "drain" };

type ToPrimary =
  | { type: "hello" }
  | { type: "listening"; proxy: string }
  | { type: "metrics"; id: number; metrics: Json };

export function workerCount(config: Config): number {
  return config.server.workers === "auto" ? availableParallelism() : config.server.workers;
}

/**
 * A worker: waits for its config from the primary, then proxies until told
 * to drain. Messages that arrive while it starts (a newer config, a drain, a
 * metrics request) are queued, not lost, and handled once it serves.
 */
export async function runWorker(): Promise<number> {
  const send = (message: ToPrimary) => process.send?.(message);
  const queue: ToWorker[] = [];
  let handle: ((message: ToWorker) => void) | undefined;
  let firstConfig: ((message: { file: string; text: string }) => void) | undefined;
  const configured = new Promise<{ file: string; text: string }>((resolve) => {
    firstConfig = resolve;
  });
  process.on("message", (message: ToWorker) => {
    if (handle !== undefined) return handle(message);
    if (message.type === "config" && firstConfig !== undefined) {
      firstConfig(message);
      firstConfig = undefined;
      return;
    }
    queue.push(message);
  });
  // Ask for the config only now that a listener is in place to receive it.
  send({ type: "hello" });
  // The primary owns reloads; a SIGHUP to the whole group must not end a worker.
  process.on("SIGHUP", () => {});
  let drainAsked = false;
  const askDrain = () => {
    drainAsked = true;
  };
  // Ctrl-C reaches the whole process group: drain as the primary asks anyway.
  process.on("SIGTERM", askDrain);
  process.on("SIGINT", askDrain);

  const first = await configured;
  const loadedResult = loadConfigText(first.text, first.file);
  if (!loadedResult.ok) return 1; // the primary validated it: only a changed environment gets here
  let started: Awaited<ReturnType<typeof startServer>>;
  try {
    started = await startServer({
      configFile: first.file,
      loaded: loadedResult.loaded,
      role: "worker",
    });
  } catch (error) {
    process.stderr.write(
      `${first.file}: worker ${process.pid} cannot start: ${(error as Error).message}\n`,
    );
    return 1;
  }
  if (!started.ok) return 1;
  const server = started.server;
  send({ type: "listening", proxy: addressText(server.proxy, server.gateway.proto) });
  return new Promise<number>((resolve) => {
    const drain = () => {
      server.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    handle = (message: ToWorker) => {
      if (message.type === "config") {
        const next = loadConfigText(message.text, message.file);
        if (next.ok) server.reloader.apply(next.loaded, "primary");
      } else if (message.type === "metrics") {
        void server.gateway.metrics.text.getMetricsAsJSON().then((metrics) => {
          send({ type: "metrics", id: message.id, metrics: metrics as Json });
        });
      } else if (message.type === "drain") {
        drain();
      }
    };
    for (const message of queue.splice(0)) handle(message);
    process.off("SIGTERM", askDrain);
    process.off("SIGINT", askDrain);
    process.on("SIGTERM", drain);
    process.on("SIGINT", drain);
    process.on("disconnect", drain);
    if (drainAsked) drain();
  });
}

/** The primary of `count` workers; resolves to the exit status. */
export async function runPrimary(loaded: LoadedConfig, count: number): Promise<number> {
  const config = loaded.config;
  const { logger, flush } = createLogger(effectiveLevel(config.log.level));
  const metrics = new Metrics({ role: "config" });
  const pools = new PoolRegistry(); // for explain and /config only: no requests go through it
  const proto = config.server.tls === undefined ? "http" : "https";
  const gateway = new Gateway(buildRuntime(loaded, pools), metrics, logger, proto);
  metrics.configLoaded(loaded.hash, "success", false);
  const state: AdminState = { readiness: "starting" };
  const workers = new Map<Worker, { listening: boolean }>();
  let current = loaded;
  let stopping = false;
  let announced = false;

  const broadcast = (message: ToWorker) => {
    for (const worker of workers.keys()) if (worker.isConnected()) worker.send(message);
  };
  const reloader = new Reloader({
    file: loaded.file,
    gateway,
    pools,
    metrics,
    logger,
    applyServerSettings: () => {},
    healthChecks: false,
    onApplied: (next) => {
      current = next;
      broadcast({ type: "config", file: next.file, text: next.text });
    },
  });

  let nextId = 0;
  const pending = new Map<number, { left: number; parts: Json[]; done: () => void }>();
  metrics.gatherWorkers = () =>
    new Promise((resolve) => {
      const id = ++nextId;
      const targets = [...workers.keys()].filter((w) => w.isConnected());
      const entry = { left: targets.length, parts: [] as Json[], done: () => {} };
      const timer = setTimeout(() => entry.done(), 2000);
      entry.done = () => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(entry.parts);
      };
      if (targets.length === 0) return entry.done();
      pending.set(id, entry);
      for (const worker of targets) worker.send({ type: "metrics", id } satisfies ToWorker);
    });

  let admin: ReturnType<typeof createAdminServer> | undefined;
  const fork = () => {
    const worker = cluster.fork();
    workers.set(worker, { listening: false });
    // An IPC write to a dying worker fails with EPIPE: that is not the primary's end.
    worker.on("error", (error: Error) =>
      logger.warn({ pid: worker.process.pid, err: error.message }, "worker channel error"),
    );
    worker.on("message", (message: ToPrimary) => {
      if (message.type === "listening") everListened = true;
      if (message.type === "hello") {
        worker.send({ type: "config", file: current.file, text: current.text } satisfies ToWorker);
      } else if (message.type === "listening") {
        const entry = workers.get(worker);
        if (entry !== undefined) entry.listening = true;
        if ([...workers.values()].every((w) => w.listening) && !stopping) state.readiness = "ready";
        if (!announced && admin !== undefined) {
          announced = true;
          const address = admin.address();
          logger.info(
            {
              proxy: message.proxy,
              admin:
                typeof address === "object" && address !== null ? addressText(address, "http") : "",
              hash: current.hash,
              file: current.file,
              workers: count,
            },
            "graygate serving",
          );
        }
      } else if (message.type === "metrics") {
        const entry = pending.get(message.id);
        if (entry !== undefined) {
          entry.parts.push(message.metrics);
          if (--entry.left === 0) entry.done();
        }
      }
    });
  };

  cluster.setupPrimary({ exec: process.argv[1] as string, args: process.argv.slice(2) });
  let everListened = false;
  let failedAtStart: ((status: number) => void) | undefined;
  cluster.on("exit", (worker, code, signal) => {
    const wasListening = workers.get(worker)?.listening === true;
    workers.delete(worker);
    if (stopping) return;
    if (!wasListening && !everListened) {
      // The first workers cannot start (a port taken, a file missing): forking more would loop.
      logger.error({ pid: worker.process.pid, code, signal }, "a worker failed to start; stopping");
      failedAtStart?.(1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
    state.readiness = [...workers.values()].every((w) => w.listening)
      ? state.readiness
      : "starting";
    fork();
  });

  admin = createAdminServer(adminHost(gateway, state, reloader, metrics, logger));
  await listenOn(admin, config.admin.listen);
  warnIfAdminExposed(config, logger);
  const watcher = new ConfigWatcher(loaded.file, () => void reloader.reload("watch"));
  await watcher.start();
  // Kept through the drain: without a listener, SIGHUP's default action ends the process.
  const onHangup = () => {
    if (!stopping) void reloader.reload("signal");
  };
  process.on("SIGHUP", onHangup);
  for (let i = 0; i < count; i++) fork();

  const killWorkers = () => {
    for (const worker of workers.keys()) worker.process.kill("SIGKILL");
  };
  const stop = async () => {
    stopping = true;
    state.readiness = "draining";
    await watcher.close();
    const drainMs = current.config.server.drain;
    logger.info({ workers: workers.size, drainMs }, "draining workers");
    const exits = [...workers.keys()].map(
      (worker) =>
        new Promise<void>((done) => (worker.isDead() ? done() : worker.once("exit", () => done()))),
    );
    broadcast({ type: "drain" });
    // Workers honour the drain budget; past it (and a margin) they are ended.
    const deadline = setTimeout(killWorkers, drainMs + 5000);
    await Promise.all(exits);
    clearTimeout(deadline);
    admin?.closeAllConnections();
    await new Promise<void>((done) => admin?.close(() => done()));
    logger.info("stopped");
    flush();
  };
  const startFailed = new Promise<number>((resolve) => {
    failedAtStart = (status) => {
      stopping = true;
      killWorkers();
      admin?.close();
      void watcher.close();
      flush();
      resolve(status);
    };
  });
  return Promise.race([onShutdownSignal(stop, killWorkers), startFailed]);
}
