/** A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. */

/** Rate limit settings of one lane. */
export interface RateLimit {
  /** Steady rate of starts. */
  ratePerSecond: number;
  /** Bucket size; defaults to one second's worth, at least 1. */
  burst?: number;
}

/**
 * A token bucket whose clock is passed in, so the scheduler and tests share one time source.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./rate_limit.ts";
 * const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1 });
 * bucket.tryTake(performance.now()); // true
 * ```
 *
 * @internal
 */
export class TokenBucket {
  /** Tokens added per millisecond. */
  readonly ratePerMs: number;
  /** Most tokens held at once. */
  readonly burst: number;
  #tokens: number;
  #updated: number;

  /** Starts with a full bucket. */
  constructor(limit: RateLimit, now: number = performance.now()) {
    this.ratePerMs = limit.ratePerSecond / 1000;
    this.burst = Math.max(1, limit.burst ?? Math.ceil(limit.ratePerSecond));
    this.#tokens = this.burst;
    this.#updated = now;
  }

  #refill(now: number): void {
    if (now > this.#updated) {
      this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#updated) * this.ratePerMs);
      this.#updated = now;
    }
  }

  /** Takes one token when one is there. */
  tryTake(now: number): boolean {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until a token is there (0 when one is). */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.ratePerMs);
  }
}
