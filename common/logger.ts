/** Structured logs: one JSON object per line on stderr, so stdout stays for command output. */

/** Severity levels, lowest first; `silent` logs nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** A leveled logger whose lines carry `ts`, `level`, `msg` and any fields passed. */
export interface Logger {
  /** Logs at debug level. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at warn level. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines also carry `fields`. */
  child(fields: Record<string, unknown>): Logger;
}

/**
 * Creates a JSON-lines logger.
 *
 * @example
 * ```ts
 * import { createLogger } from "@a3s/common";
 * createLogger("info").info("started", { port: 11434 });
 * ```
 */
export function createLogger(
  level: LogLevel = "info",
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const emit = (at: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[at] < RANK[level]) return;
    const own = { ts: new Date().toISOString(), level: at, msg };
    // A field named like the line's own keys (a privacy `level`) must not turn the severity
    // pipelines filter on into something else; assigning `own` last keeps it first and intact.
    write(JSON.stringify(Object.assign({ ...own }, base, fields, own)));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}
