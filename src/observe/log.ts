/**
 * Logging with pino: JSON lines on stdout, buffered. Access lines carry no query
 * values, cookies or authorization headers: only what `AccessEntry` names.
 */
import pino, { type Logger } from "pino";
import { LineWriter } from "./line-writer.ts";

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

/** Writes one access line. */
export type AccessWriter = (entry: AccessEntry) => void;

/**
 * A logger that writes through a buffered destination (line-writer.ts: lines
 * go out in batches of 16 KiB or every 100 ms, a pipe is never waited on),
 * and `access`, which writes an access line with the JSON `logger.info(entry)`
 * would give, without pino's generic serialisation (a tenth of its cost).
 * What is buffered is written at exit; `flush` writes it now.
 */
export function createLogger(level: LogLevel): {
  logger: Logger;
  flush: () => void;
  access: AccessWriter;
} {
  const destination = new LineWriter(1);
  const flush = () => {
    try {
      destination.flushSync();
    } catch {
      // stdout is gone: nothing left to write to.
    }
  };
  // process.exit(), an uncaught error, the end of the event loop: what is buffered still goes out.
  process.once("exit", flush);
  const logger = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  destination.onDropped = (lines) => {
    logger.warn({ lines }, "log lines dropped: stdout is not read fast enough");
  };
  return {
    logger,
    flush,
    access: (entry) => {
      // Access lines are info lines: none when the level is above info.
      if (logger.levelVal <= INFO) destination.write(accessLine(entry, Date.now()));
    },
  };
}

/** pino's number for "info". */
const INFO = 30;

let isoMs = -1;
let isoText = "";

/** pino's isoTime, computed once per millisecond (toISOString costs half a microsecond). */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** What JSON.stringify would escape: control characters, quote, backslash, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes exactly these
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A JSON string literal; plain text (the usual case) without JSON.stringify. */
export function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** The access line exactly as pino writes `logger.info(entry)` with the options above. */
export function accessLine(entry: AccessEntry, now: number): string {
  return (
    `{"level":"info","time":"${isoTime(now)}","msg":"request","method":${jsonString(entry.method)}` +
    `,"path":${jsonString(entry.path)},"status":${entry.status},"route":${jsonString(entry.route)}` +
    `,"version":${jsonString(entry.version)},"rule":${jsonString(entry.rule)}` +
    `,"target":${jsonString(entry.target)},"duration":${entry.duration},"bytes":${entry.bytes}` +
    `,"requestId":${jsonString(entry.requestId)},"client":${jsonString(entry.client)}}\n`
  );
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
