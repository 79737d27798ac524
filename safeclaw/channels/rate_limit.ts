/**
 * A platform's "too fast, come back in N seconds". Telegram, Slack, Discord and Feishu each say
 * how long to wait when they rate-limit a bot; the hub retried after its own fixed delays, which
 * are shorter, so the retries were refused too and the reply was lost.
 */

/**
 * The wait after a refusal for rate from a platform that gives no time (DingTalk, WeCom): their
 * limits count per minute.
 */
export const RATE_WINDOW_MS = 60_000;

/**
 * A send the platform refused for coming too fast, with how long it asked to wait. Adapters
 * throw it; the hub waits that long (within its bounds) before the next try.
 */
export class PlatformRateLimited extends Error {
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
    this.name = "PlatformRateLimited";
  }
}

/**
 * A wait in seconds as a platform gives it (a JSON number, or a header's decimal text) in
 * milliseconds, rounded up; `undefined` for anything else, which then gives no wait to honour.
 *
 * @example
 * ```ts
 * import { secondsToMs } from "./rate_limit.ts";
 * console.log(secondsToMs("2"), secondsToMs(0.25), secondsToMs("soon")); // 2000 250 undefined
 * ```
 */
export function secondsToMs(seconds: unknown): number | undefined {
  const value = typeof seconds === "number"
    ? seconds
    : typeof seconds === "string" && /^\s*\d+(?:\.\d+)?\s*$/.test(seconds)
    ? Number(seconds)
    : NaN;
  return Number.isFinite(value) && value >= 0 ? Math.ceil(value * 1000) : undefined;
}

/**
 * The error for a send the platform refused: {@linkcode PlatformRateLimited} when it said how long
 * to wait, else a plain `Error`.
 */
export function sendRefused(message: string, retryAfterMs: number | undefined): Error {
  return retryAfterMs === undefined
    ? new Error(message)
    : new PlatformRateLimited(message, retryAfterMs);
}
