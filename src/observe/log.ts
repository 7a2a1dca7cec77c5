/**
 * Logging with pino: JSON lines on stdout. Access lines carry no query
 * values, cookies or authorization headers: only what `AccessEntry` names.
 */
import pino, { type Logger } from "pino";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** GRAYGATE_LOG_LEVEL, when it names a level, wins over the config's. */
export function effectiveLevel(configured: LogLevel, env = process.env): LogLevel {
  const fromEnv = env.GRAYGATE_LOG_LEVEL?.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(fromEnv ?? "")
    ? (fromEnv as LogLevel)
    : configured;
}

/**
 * A logger that writes through an asynchronous destination (the
 * request path never waits on stdout); `flush` before exit.
 */
export function createLogger(level: LogLevel): { logger: Logger; flush: () => void } {
  // Asynchronous writes, batched by sonic-boom while one is in flight; no minimum
  // length, so a quiet server still writes each line at once.
  const destination = pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    logger,
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // Not ready yet or already closed: nothing buffered to lose.
      }
    },
  };
}

/** One request, as the access log writes it. */
export interface AccessEntry {
  msg: "request";
  method: string;
  /** Without the query string. */
  path: string;
  status: number;
  route: string;
  version: string;
  rule: string;
  /** The upstream target that served, or "" when none did. */
  target: string;
  /** Milliseconds, to the microsecond. */
  duration: number;
  /** Response body bytes sent. */
  bytes: number;
  requestId: string;
  client: string;
}
