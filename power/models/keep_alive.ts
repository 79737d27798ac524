/**
 * Ollama's `keep_alive`: how long a model stays loaded after a request. Seconds as a number,
 * or a duration such as `5m`, `30s`, `1h`; negative keeps the model loaded until unloaded;
 * 0 unloads it right after the request.
 */
import { ValidationError } from "@a3s/common";

const DAY_MS = 86_400_000;
/** The longest keep-alive a request may ask for; anything longer is a mistake, not a plan. */
export const KEEP_ALIVE_LIMIT_MS: number = 365 * DAY_MS;
/** {@linkcode KEEP_ALIVE_LIMIT_MS} in words, for messages and the API reference. */
export const KEEP_ALIVE_LIMIT_TEXT = "365 days";

const DURATION = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds `value` asks for (Infinity for "forever"), or undefined when it is no duration. */
function millisecondsOf(value: string | number): number | undefined {
  if (typeof value === "number") return value < 0 ? Infinity : value * 1000;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  return n < 0 ? Infinity : n * UNIT_MS[match[2] ?? "s"];
}

/**
 * Why `value` is not an acceptable keep-alive, or undefined when it is.
 *
 * @example
 * ```ts
 * import { keepAliveProblem } from "@a3s/power";
 * console.log(keepAliveProblem("1000h")); // undefined
 * console.log(keepAliveProblem("99999999h")); // "must be at most 365 days ..."
 * ```
 */
export function keepAliveProblem(value: string | number): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return "must be a finite number";
  const ms = millisecondsOf(value);
  if (ms === undefined) return `'${value}' is not a duration such as 5m`;
  if (ms !== Infinity && ms > KEEP_ALIVE_LIMIT_MS) {
    return `must be at most ${KEEP_ALIVE_LIMIT_TEXT} (a negative value keeps the model loaded)`;
  }
  return undefined;
}

/**
 * Parses a keep-alive into milliseconds, Infinity meaning "until unloaded"; `fallbackMs` when
 * unset. A malformed or absurd value is a 400 naming `keep_alive`.
 *
 * @example
 * ```ts
 * import { parseKeepAlive } from "@a3s/power";
 * console.log(parseKeepAlive("5m", 0)); // 300000
 * ```
 */
export function parseKeepAlive(value: string | number | undefined, fallbackMs: number): number {
  if (value === undefined || value === "") return fallbackMs;
  const problem = keepAliveProblem(value);
  if (problem) throw new ValidationError(`keep_alive: ${problem}`, "keep_alive");
  return millisecondsOf(value)!;
}
