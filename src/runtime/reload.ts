/**
 * Reloading the config: read, validate and compile off to the side, then one
 * assignment swaps the gateway's runtime. A bad file is logged with its
 * located errors and changes nothing. Requests already running keep the
 * runtime they started with; pools the new config no longer uses are closed
 * once their requests finish (undici's close waits for them).
 */
import { readFile } from "node:fs/promises";
import {
  hashText,
  type LoadedConfig,
  type LoadResult,
  loadConfigBytes,
  loadConfigFile,
} from "../config/load.ts";
import { formatProblem, type Problem } from "../config/problems.ts";
import type { Config } from "../config/schema.ts";
import { effectiveLevel, type Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { Gateway, Runtime } from "../proxy/gateway.ts";
import { healthCheckers } from "../proxy/health.ts";
import { buildUpstreams, type PoolRegistry } from "../proxy/upstreams.ts";
import { compileTable } from "../routing/table.ts";

/** What started a reload: the watcher skips content it has already seen; the others always count. */
export type ReloadTrigger = "watch" | "signal" | "api";

export type ReloadOutcome =
  | { result: "applied"; hash: string }
  | { result: "unchanged"; hash: string }
  | { result: "rejected"; problems: Problem[] };

/** Everything a loaded config needs at run time, compiled. */
export function buildRuntime(loaded: LoadedConfig, pools: PoolRegistry): Runtime {
  return {
    loaded,
    config: loaded.config,
    table: compileTable(loaded.config),
    upstreams: buildUpstreams(loaded.config, pools),
    loadedAt: new Date(),
    health: [],
    active: 0,
  };
}

/**
 * Starts a runtime's health checkers, and reports each change of a target's
 * availability (a probe's verdict, a passive ejection) in the gauge and the log.
 */
export function startHealthChecks(runtime: Runtime, metrics: Metrics, logger: Logger): void {
  const settings = new Map(
    Object.entries(runtime.config.upstreams).map(([name, upstream]) => [
      name,
      upstream.healthCheck,
    ]),
  );
  for (const [name, upstream] of runtime.upstreams) {
    for (const target of upstream.targets) {
      target.onChange = (changed, cause) => {
        metrics.targetUp.labels(name, changed.url).set(changed.available ? 1 : 0);
        const fields = { upstream: name, target: changed.url, up: changed.available };
        if (changed.available) {
          logger.info(fields, cause === "readmitted" ? "target readmitted" : "target healthy");
        } else if (cause === "ejected") {
          const seconds = Math.round((changed.ejectedUntil - Date.now()) / 100) / 10;
          logger.warn({ ...fields, failures: changed.connectFailures, seconds }, "target ejected");
        } else {
          logger.warn(fields, "target unhealthy");
        }
      };
    }
  }
  const checkers = healthCheckers(runtime.upstreams, settings);
  runtime.health.push(...checkers);
  for (const checker of checkers) checker.start();
}

/** Stops a runtime's checkers and ejection timers: its targets report no more. */
export function stopHealthChecks(runtime: Runtime): void {
  for (const checker of runtime.health.splice(0)) checker.stop();
  for (const upstream of runtime.upstreams.values()) {
    for (const target of upstream.targets) {
      target.stop();
      target.onChange = undefined;
    }
  }
}

/** A target the new config keeps starts in the state the old one knew. */
function carryHealth(previous: Runtime, next: Runtime): void {
  for (const [name, upstream] of next.upstreams) {
    const before = previous.upstreams.get(name);
    if (before === undefined) continue;
    for (const target of upstream.targets) {
      const known = before.targets.find((t) => t.url === target.url);
      if (known !== undefined) target.inherit(known);
    }
  }
}

/** Settings read only at start: a change to them is reported, not applied. */
function restartOnlyChanges(before: Config, after: Config): string[] {
  const changed: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (before.server.listen !== after.server.listen) changed.push("server.listen");
  if (!same(before.server.tls, after.server.tls)) changed.push("server.tls");
  if (before.server.workers !== after.server.workers) changed.push("server.workers");
  if (before.server.maxHeaderBytes !== after.server.maxHeaderBytes)
    changed.push("server.maxHeaderBytes");
  if (before.server.maxHeaderCount !== after.server.maxHeaderCount)
    changed.push("server.maxHeaderCount");
  if (before.admin.listen !== after.admin.listen) changed.push("admin.listen");
  return changed;
}

export interface ReloaderOptions {
  file: string;
  gateway: Gateway;
  pools: PoolRegistry;
  metrics: Metrics;
  logger: Logger;
  /** Applies what can change on a live listener (its timeouts). */
  applyServerSettings: (config: Config) => void;
  /** Told of each config applied (the primary passes it on to its workers). */
  onApplied?: (loaded: LoadedConfig) => void;
  /** false on a primary: its workers check the targets. */
  healthChecks?: boolean;
}

export class Reloader {
  private readonly options: ReloaderOptions;
  /** Reloads run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The hash of the last content read, good or bad: the watcher skips it. */
  private lastSeen: string;

  constructor(options: ReloaderOptions) {
    this.options = options;
    this.lastSeen = options.gateway.runtime.loaded.hash;
  }

  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.run(trigger));
    this.queue = next.catch(() => {});
    return next;
  }

  private async run(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { file, metrics, logger } = this.options;
    let result: LoadResult;
    if (trigger === "watch") {
      const bytes = await readFile(file).catch(() => undefined);
      // Missing for a moment (a rename-save, a re-create): wait for the file to be back.
      if (bytes === undefined) return { result: "unchanged", hash: this.lastSeen };
      // The bytes' hash before parsing: the poll comes every 2 s, and parsing a
      // large file each time would stall requests for nothing.
      const seen = hashText(bytes);
      if (seen === this.lastSeen) return { result: "unchanged", hash: seen };
      result = loadConfigBytes(bytes, file);
    } else {
      result = await loadConfigFile(file);
    }
    const hash = result.ok ? result.loaded.hash : result.hash;
    if (hash !== undefined) this.lastSeen = hash;

    if (!result.ok) {
      metrics.configLoaded("", "failure", true);
      logger.error(
        { trigger, file, errors: result.problems.map(formatProblem) },
        "config rejected: the running config keeps serving",
      );
      return { result: "rejected", problems: result.problems };
    }

    return this.apply(result.loaded, trigger);
  }

  /** Swaps in a config that has been validated (here, or by the primary). */
  apply(loaded: LoadedConfig, trigger: ReloadTrigger | "primary"): ReloadOutcome {
    const { file, gateway, pools, metrics, logger } = this.options;
    this.lastSeen = loaded.hash;
    let runtime: Runtime;
    try {
      runtime = buildRuntime(loaded, pools);
    } catch (error) {
      // A file the config names (a CA bundle) cannot be read: as bad as a bad config.
      const problem: Problem = {
        file,
        line: 1,
        col: 1,
        path: "(file)",
        message: (error as Error).message,
      };
      metrics.configLoaded("", "failure", true);
      logger.error({ trigger, file, errors: [formatProblem(problem)] }, "config rejected");
      return { result: "rejected", problems: [problem] };
    }
    const previous = gateway.runtime;
    carryHealth(previous, runtime);
    gateway.runtime = runtime;
    if (this.options.healthChecks !== false) {
      stopHealthChecks(previous);
      startHealthChecks(runtime, metrics, logger);
    }
    logger.level = effectiveLevel(loaded.config.log.level);
    this.options.applyServerSettings(loaded.config);
    metrics.configLoaded(loaded.hash, "success", true);
    metrics.setTargets(runtime.upstreams);

    const restartOnly = restartOnlyChanges(previous.config, loaded.config);
    if (restartOnly.length > 0) {
      logger.warn({ settings: restartOnly }, "these settings change only at the next start");
    }
    logger.info({ trigger, hash: loaded.hash, previous: previous.loaded.hash }, "config reloaded");

    // Pools only the old runtime used close after its last request: until
    // then a fallback there must still find its stable pool open.
    gateway.retire(previous, (live) => {
      const inUse = new Set(
        live.flatMap((r) => [...r.upstreams.values()].flatMap((u) => u.targets.map((t) => t.pool))),
      );
      void pools.retain(inUse);
    });
    this.options.onApplied?.(loaded);
    return { result: "applied", hash: loaded.hash };
  }
}
