/**
 * Upstreams and their targets: one keep-alive undici Pool per target, round
 * robin over the targets that are up. Pools are owned by a `PoolRegistry`
 * keyed by origin and TLS settings, so that a new config which keeps a target
 * keeps its warm connections.
 */
import { readFileSync } from "node:fs";
import { Pool } from "undici";
import type { Config } from "../config/schema.ts";
import { parseTarget } from "../config/target.ts";

export interface PoolSettings {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  keepAliveTimeoutMs: number;
  ca: string | undefined;
  serverName: string | undefined;
}

export class UpstreamTarget {
  /** As written in the config: the metric label and the log field. */
  readonly url: string;
  readonly origin: string;
  readonly pool: Pool;
  up = true;

  constructor(url: string, origin: string, pool: Pool) {
    this.url = url;
    this.origin = origin;
    this.pool = pool;
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

  /** The next target that is up, round robin; undefined when none is. */
  pick(): UpstreamTarget | undefined {
    const targets = this.targets;
    const n = targets.length;
    for (let i = 0; i < n; i++) {
      const target = targets[(this.next + i) % n] as UpstreamTarget;
      if (target.up) {
        this.next = (this.next + i + 1) % n;
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

/** The upstreams of one config, with their pools from the registry. */
export function buildUpstreams(config: Config, registry: PoolRegistry): Map<string, Upstream> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const settings: PoolSettings = {
      connectTimeoutMs: config.server.timeouts.upstreamConnect,
      responseTimeoutMs: config.server.timeouts.upstreamResponse,
      keepAliveTimeoutMs: 4000,
      ca: upstream.tls?.ca === undefined ? undefined : readFileSync(upstream.tls.ca, "utf8"),
      serverName: upstream.tls?.serverName,
    };
    const targets = upstream.targets.map((url) => {
      const { origin } = parseTarget(url);
      return new UpstreamTarget(url, origin, registry.get(origin, settings));
    });
    upstreams.set(name, new Upstream(name, targets));
  }
  return upstreams;
}
