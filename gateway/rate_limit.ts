/**
 * Token buckets: each key holds up to `burst` tokens, refilled at `average` per second; a
 * request takes one. An empty bucket says how long until the next token, for Retry-After.
 */

/** The result of taking a token. */
export interface TakeResult {
  /** Whether the request may pass. */
  allowed: boolean;
  /** Seconds until a token is available (0 when allowed). */
  retryAfterSeconds: number;
  /** Tokens left after this take. */
  remaining: number;
}

/** In-memory token buckets for one process. */
export class TokenBuckets {
  readonly #average: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** `average` tokens per second, at most `burst` stored. */
  constructor(average: number, burst: number, now: () => number = Date.now) {
    this.#average = average;
    this.#burst = burst;
    this.#now = now;
  }

  /** Takes one token from `key`'s bucket. */
  take(key: string): TakeResult {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(
      this.#burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.#average,
    );
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 100_000) this.#evictFull(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(bucket.tokens) };
    }
    const wait = (1 - bucket.tokens) / this.#average;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait)), remaining: 0 };
  }

  /** Drops buckets that have refilled completely: they hold no information. */
  #evictFull(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#average >= this.#burst) {
        this.#buckets.delete(key);
      }
    }
  }
}
