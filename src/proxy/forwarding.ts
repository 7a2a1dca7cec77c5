/**
 * The forwarding policy, one for HTTP and WebSocket (README, "What a request
 * gets"): which target of a version's upstream a request goes to, and after
 * a failure before any answer, whether it goes to another target of the same
 * upstream, falls back to stable, or fails. Each path carries the decision
 * out its own way (undici for HTTP, a tunnel for WebSocket).
 */
import type { Upstream, UpstreamTarget } from "./upstreams.ts";

/** Methods that may be sent again on another target (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
]);

/** Methods a reset before any answer may send to stable: they change nothing. */
const READ_ONLY: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** Where a request goes first: a target, stable instead, or nowhere (no_healthy_target). */
export type FirstChoice = UpstreamTarget | "fall back" | undefined;

/**
 * A version's first target: a healthy one; else stable, when the request may
 * fall back; else, with nowhere else to go, a passively ejected one (the
 * panic pick: upstreams.ts) rather than none.
 */
export function firstTarget(upstream: Upstream | undefined, canFallBack: boolean): FirstChoice {
  const picked = upstream?.pick();
  if (picked !== undefined) return picked;
  if (canFallBack) return "fall back";
  return upstream?.pickEjected();
}

export interface Failure {
  /** The request never left (refused, not connected in time, TLS failed). */
  unsent: boolean;
  /** The connection was reset before any answer. */
  reset: boolean;
}

/** What a request may still do, as its path knows it. */
export interface Chances {
  method: string;
  /** Not retried yet, and its body (if any) not read: it can be sent again. */
  resendable: boolean;
  /** The route falls back, the version is not stable, and it has not fallen back yet. */
  canFallBack: boolean;
}

/** After a failure before any answer: another target of the same upstream, stable, or the end. */
export type NextStep = { retry: UpstreamTarget } | "fall back" | "fail";

export function afterFailure(
  failure: Failure,
  failed: UpstreamTarget,
  upstream: Upstream | undefined,
  chances: Chances,
): NextStep {
  if (failure.unsent && chances.resendable && IDEMPOTENT.has(chances.method)) {
    const other = upstream?.pickOther(failed);
    if (other !== undefined) return { retry: other };
  }
  const rescuable = failure.unsent || (failure.reset && READ_ONLY.has(chances.method));
  return rescuable && chances.canFallBack ? "fall back" : "fail";
}
