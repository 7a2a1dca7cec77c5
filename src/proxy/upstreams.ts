/**
 * Upstreams and their targets: one keep-alive undici Pool per target, round
 * robin over the targets that are available. Pools are owned by a
 * `PoolRegistry` keyed by origin and TLS settings, so that a new config which
 * keeps a target keeps its warm connections.
 *
 * A target is available when its active health check (health.ts) says it is
 * healthy and passive ejection has not taken it out: after
 * `outlierDetection.consecutiveFailures` connections in a row that could not
 * be made, it is ejected for `baseEjectionTime`, doubled at each ejection in
 * a row up to `maxEjectionTime`; a response, or a passing probe, ends that.
 */
import { readFileSync } from "node:fs";
import { Pool } from "undici";
import type { Config } from "../config/schema.ts";
import { parseTarget } from "../config/target.ts";

/** How an https target's certificate is checked (verification is always on). */
export interface TlsSettings {
  /** PEM CA bundle; undefined: Node's bundled roots. */
  ca: string | undefined;
  /** SNI and the name the certificate must carry; undefined: the target's host. */
  serverName: string | undefined;
}

export interface PoolSettings extends TlsSettings {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export interface EjectionSettings {
  /** Connect failures in a row that eject a target; 0: never. */
  consecutiveFailures: number;
  baseMs: number;
  maxMs: number;
}

/** Why a target's availability changed: told to the runtime's listener (metrics, log). */
export type AvailabilityCause = "health" | "ejected" | "readmitted";

export class UpstreamTarget {
  /** As written in the config: the metric label and the log field. */
  readonly url: string;
  readonly origin: string;
  readonly pool: Pool;
  readonly tls: TlsSettings;
  readonly ejection: EjectionSettings;
  /** The active health check's verdict (true without one). */
  healthy = true;
  /** Taken out by passive ejection, until its timer readmits it. */
  ejected = false;
  /** healthy && !ejected: what the round robin reads. */
  available = true;
  /** Connect failures since the last success. */
  connectFailures = 0;
  /** Ejections in a row: each doubles the next one's length. */
  ejections = 0;
  /** When the current ejection ends (Date.now() ms), 0 when not ejected. */
  ejectedUntil = 0;
  /** Told when `available` changes. */
  onChange: ((target: UpstreamTarget, cause: AvailabilityCause) => void) | undefined;
  private readmitTimer: NodeJS.Timeout | undefined;

  constructor(
    url: string,
    origin: string,
    pool: Pool,
    tls: TlsSettings,
    ejection: EjectionSettings,
  ) {
    this.url = url;
    this.origin = origin;
    this.pool = pool;
    this.tls = tls;
    this.ejection = ejection;
  }

  /** The active check's verdict. */
  setHealthy(healthy: boolean): void {
    this.healthy = healthy;
    this.update("health");
  }

  /**
   * A probe passed: a passive ejection ends (as in Envoy), whatever the
   * active check's own verdict, which needs `healthyAfter` passes in a row.
   */
  probePassed(healthyNow: boolean): void {
    if (this.ejected) this.readmit(false);
    if (healthyNow) this.healthy = true;
    this.update("health");
  }

  /** A connection to this target could not be made (refused, timed out, TLS failed). */
  connectFailed(): void {
    const { consecutiveFailures, baseMs, maxMs } = this.ejection;
    if (consecutiveFailures === 0 || this.ejected) return;
    if (++this.connectFailures < consecutiveFailures) return;
    const ms = Math.min(maxMs, baseMs * 2 ** Math.min(this.ejections, 30));
    this.ejections++;
    this.eject(Date.now() + ms);
  }

  /** An answer came back: the connection works. */
  answered(): void {
    if (this.connectFailures !== 0 || this.ejections !== 0) {
      this.connectFailures = 0;
      this.ejections = 0;
    }
  }

  /** Takes over what an older copy of this target (from the previous config) knew. */
  inherit(previous: UpstreamTarget): void {
    this.healthy = previous.healthy;
    this.connectFailures = previous.connectFailures;
    this.ejections = previous.ejections;
    if (previous.ejected && previous.ejectedUntil > Date.now()) this.eject(previous.ejectedUntil);
    this.available = this.healthy && !this.ejected;
  }

  /** Ends the readmission timer: this copy of the target is no longer used. */
  stop(): void {
    clearTimeout(this.readmitTimer);
    this.readmitTimer = undefined;
  }

  private eject(until: number): void {
    this.ejected = true;
    this.ejectedUntil = until;
    clearTimeout(this.readmitTimer);
    this.readmitTimer = setTimeout(() => this.readmit(true), Math.max(0, until - Date.now()));
    this.readmitTimer.unref();
    this.update("ejected");
  }

  /**
   * Back into the round robin. After an ejection ran out, one more failure
   * ejects again (for twice as long); a success clears the slate.
   */
  private readmit(notify: boolean): void {
    this.stop();
    this.ejected = false;
    this.ejectedUntil = 0;
    this.connectFailures = Math.max(0, this.ejection.consecutiveFailures - 1);
    if (notify) this.update("readmitted");
  }

  private update(cause: AvailabilityCause): void {
    const available = this.healthy && !this.ejected;
    if (available === this.available) return;
    this.available = available;
    this.onChange?.(this, cause);
  }
}

export class Upstream {
  readonly name: string;
  readonly targets: readonly UpstreamTarget[];
  private next = 0;

  constructor(name: string, targets: readonly UpstreamTarget[]) {
    this.name = name;
    this.targets = targets;
  }

  /** The next available target, round robin; undefined when none is. */
  pick(): UpstreamTarget | undefined {
    const targets = this.targets;
    const n = targets.length;
    if (n === 1) {
      const only = targets[0] as UpstreamTarget;
      return only.available ? only : undefined;
    }
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const target = targets[index] as UpstreamTarget;
      if (target.available) {
        this.next = (index + 1) % n;
        return target;
      }
    }
    return undefined;
  }

  /** Another available target than `failed` (for a retry), or undefined. */
  pickOther(failed: UpstreamTarget): UpstreamTarget | undefined {
    return this.pickWhere((target) => target !== failed && target.available);
  }

  /**
   * When every healthy target is passively ejected and there is nowhere else
   * to go: one of them anyway (as Envoy's panic mode does), since refusing
   * outright would turn a blip into an outage for the whole ejection time.
   */
  pickEjected(): UpstreamTarget | undefined {
    return this.pickWhere((target) => target.healthy);
  }

  /** Round robin over the targets that pass `accept` (the rare paths: pick() is the hot one). */
  private pickWhere(accept: (target: UpstreamTarget) => boolean): UpstreamTarget | undefined {
    const targets = this.targets;
    const n = targets.length;
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const target = targets[index] as UpstreamTarget;
      if (accept(target)) {
        this.next = (index + 1) % n;
        return target;
      }
    }
    return undefined;
  }
}

function poolKey(origin: string, settings: PoolSettings): string {
  return JSON.stringify([origin, settings]);
}

/** Pools by origin and settings, shared by the configs that use them. */
export class PoolRegistry {
  private readonly pools = new Map<string, Pool>();

  get(origin: string, settings: PoolSettings): Pool {
    const key = poolKey(origin, settings);
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        connectTimeout: settings.connectTimeoutMs,
        headersTimeout: settings.responseTimeoutMs,
        // Streams (SSE, long downloads) may be idle for long: no body timeout.
        bodyTimeout: 0,
        keepAliveTimeout: settings.keepAliveTimeoutMs,
        connect: origin.startsWith("https:")
          ? {
              rejectUnauthorized: true,
              ...(settings.ca === undefined ? {} : { ca: settings.ca }),
              ...(settings.serverName === undefined ? {} : { servername: settings.serverName }),
            }
          : {},
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes the pools not in `keep`: lets their requests finish, then closes. */
  async retain(keep: ReadonlySet<Pool>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, pool] of this.pools) {
      if (!keep.has(pool)) {
        this.pools.delete(key);
        closing.push(pool.close());
      }
    }
    await Promise.allSettled(closing);
  }

  /** Closes every pool; with `force`, aborts what is still running. */
  async closeAll(force = false): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((pool) => (force ? pool.destroy() : pool.close())));
  }
}

/** The TLS settings of an upstream's connections (also used by WebSocket tunnels). */
function tlsSettings(upstream: Config["upstreams"][string]): TlsSettings {
  return {
    ca: upstream.tls?.ca === undefined ? undefined : readFileSync(upstream.tls.ca, "utf8"),
    serverName: upstream.tls?.serverName,
  };
}

/** The upstreams of one config, with their pools from the registry. */
export function buildUpstreams(config: Config, registry: PoolRegistry): Map<string, Upstream> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const tls = tlsSettings(upstream);
    const settings: PoolSettings = {
      connectTimeoutMs: config.server.timeouts.upstreamConnect,
      responseTimeoutMs: config.server.timeouts.upstreamResponse,
      keepAliveTimeoutMs: 4000,
      ...tls,
    };
    const outlier = upstream.outlierDetection;
    const ejection: EjectionSettings = {
      consecutiveFailures: outlier.consecutiveFailures,
      baseMs: outlier.baseEjectionTime,
      maxMs: outlier.maxEjectionTime,
    };
    const targets = upstream.targets.map((url) => {
      const { origin } = parseTarget(url);
      return new UpstreamTarget(url, origin, registry.get(origin, settings), tls, ejection);
    });
    upstreams.set(name, new Upstream(name, targets));
  }
  return upstreams;
}
