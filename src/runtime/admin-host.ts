/**
 * The admin listener's view of this process (admin/server.ts declares what
 * it needs): the config in force, metrics, readiness and reload. One for a
 * single process and for the primary of workers.
 */
import type { AdminHost, AdminState } from "../admin/server.ts";
import { formatProblem } from "../config/problems.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { Gateway } from "../proxy/gateway.ts";
import type { Reloader } from "./reload.ts";

export function adminHost(
  gateway: Gateway,
  state: AdminState,
  reloader: Reloader,
  metrics: Metrics,
  logger: Logger,
): AdminHost {
  return {
    state,
    renderMetrics: (accept) => metrics.render(accept),
    current: () => {
      const runtime = gateway.runtime;
      return {
        hash: runtime.loaded.hash,
        loadedAt: runtime.loadedAt,
        file: runtime.loaded.file,
        source: runtime.loaded.source,
        token: runtime.config.admin.token,
        table: runtime.table,
      };
    },
    reload: async () => {
      const outcome = await reloader.reload("api");
      return outcome.result === "rejected"
        ? { ok: false, problems: outcome.problems.map(formatProblem) }
        : { ok: true, hash: outcome.hash };
    },
    logError: (message) => logger.error({ err: message }, "admin request failed"),
  };
}
