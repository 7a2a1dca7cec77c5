/**
 * Active health checks (`upstreams.*.healthCheck`): each target is probed
 * with GET `path` every `interval`; `unhealthyAfter` failures in a row take it
 * out of the round robin, `healthyAfter` successes put it back. A probe fails
 * on a connection error, a timeout or a status of 400 or more. Checkers
 * belong to the runtime that built them: a reload starts the new ones and
 * stops the old.
 */
import { request } from "undici";
import type { Upstream as UpstreamConfig } from "../config/schema.ts";
import type { Upstream, UpstreamTarget } from "./upstreams.ts";

type HealthSettings = NonNullable<UpstreamConfig["healthCheck"]>;

export class HealthChecker {
  private readonly target: UpstreamTarget;
  private readonly settings: HealthSettings;
  private timer: NodeJS.Timeout | undefined;
  private probe: AbortController | undefined;
  private failures = 0;
  private successes = 0;
  private stopped = true;

  constructor(target: UpstreamTarget, settings: HealthSettings) {
    this.target = target;
    this.settings = settings;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.probe?.abort();
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), delay);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const controller = new AbortController();
    this.probe = controller;
    const timeout = setTimeout(() => controller.abort(), this.settings.timeout);
    let healthy = false;
    try {
      const answer = await request(`${this.target.origin}${this.settings.path}`, {
        dispatcher: this.target.pool,
        method: "GET",
        headers: { "user-agent": "graygate-health-check" },
        signal: controller.signal,
      });
      await answer.body.dump();
      healthy = answer.statusCode < 400;
    } catch {
      healthy = false;
    } finally {
      clearTimeout(timeout);
    }
    if (this.stopped) return;
    this.record(healthy);
    this.schedule(this.settings.interval);
  }

  private record(healthy: boolean): void {
    const target = this.target;
    if (healthy) {
      this.failures = 0;
      this.successes++;
      // A passing probe ends a passive ejection (as Envoy does by default); an unhealthy target
      // needs healthyAfter of them in a row.
      const healthyNow = this.successes >= this.settings.healthyAfter;
      if (target.ejected || (!target.healthy && healthyNow)) target.probePassed(healthyNow);
    } else {
      this.successes = 0;
      this.failures++;
      if (target.healthy && this.failures >= this.settings.unhealthyAfter) {
        target.setHealthy(false);
      }
    }
  }
}

/** The checkers of the upstreams that ask for them (not started). */
export function healthCheckers(
  upstreams: ReadonlyMap<string, Upstream>,
  settings: ReadonlyMap<string, HealthSettings | undefined>,
): HealthChecker[] {
  const checkers: HealthChecker[] = [];
  for (const [name, upstream] of upstreams) {
    const check = settings.get(name);
    if (check === undefined) continue;
    for (const target of upstream.targets) checkers.push(new HealthChecker(target, check));
  }
  return checkers;
}
