/**
 * Per-client limits: a token bucket for the request rate and a count of in-flight requests
 * (streams included until their body ends). A client is its token when it sent a valid one,
 * else its address, so one noisy client cannot starve the others.
 */

/** The outcome of asking for a request slot. */
export type LimitOutcome =
  | { ok: true; release: () => void }
  | { ok: false; reason: "rate" | "concurrency"; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updated: number;
}

/** Buckets kept before idle, full ones are swept (bounds memory under address churn). */
const SWEEP_AT = 10_000;

/**
 * Rate and concurrency limits per client key.
 *
 * @example
 * ```ts
 * import { ClientLimiter } from "@a3s/common";
 * const limiter = new ClientLimiter({ requestsPerMinute: 60, burst: 1, maxConcurrent: 1 });
 * const first = limiter.acquire("addr:127.0.0.1");
 * const second = limiter.acquire("addr:127.0.0.1"); // { ok: false, reason: "rate", ... }
 * if (first.ok) first.release();
 * ```
 */
export class ClientLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #maxConcurrent: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #inFlight = new Map<string, number>();
  readonly #now: () => number;

  /** Limits per client key; `now` is a clock in milliseconds, swappable for tests. */
  constructor(
    options: { requestsPerMinute: number; burst: number; maxConcurrent: number },
    now: () => number = () => performance.now(),
  ) {
    this.#perSecond = options.requestsPerMinute / 60;
    this.#burst = options.burst;
    this.#maxConcurrent = options.maxConcurrent;
    this.#now = now;
  }

  /** Takes one request slot for `key`, or says how long to wait. */
  acquire(key: string): LimitOutcome {
    const active = this.#inFlight.get(key) ?? 0;
    if (this.#maxConcurrent > 0 && active >= this.#maxConcurrent) {
      return { ok: false, reason: "concurrency", retryAfterSeconds: 1 };
    }
    if (this.#perSecond > 0) {
      const now = this.#now();
      const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, updated: now };
      bucket.tokens = Math.min(
        this.#burst,
        bucket.tokens + ((now - bucket.updated) / 1000) * this.#perSecond,
      );
      bucket.updated = now;
      if (bucket.tokens < 1) {
        this.#buckets.set(key, bucket);
        return {
          ok: false,
          reason: "rate",
          retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perSecond)),
        };
      }
      bucket.tokens -= 1;
      this.#buckets.set(key, bucket);
      if (this.#buckets.size > SWEEP_AT) this.#sweep(now);
    }
    this.#inFlight.set(key, active + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#inFlight.get(key) ?? 1) - 1;
        if (left > 0) this.#inFlight.set(key, left);
        else this.#inFlight.delete(key);
      },
    };
  }

  /** Requests of `key` in flight now. */
  inFlight(key: string): number {
    return this.#inFlight.get(key) ?? 0;
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      const refilled = bucket.tokens + ((now - bucket.updated) / 1000) * this.#perSecond;
      if (refilled >= this.#burst) this.#buckets.delete(key);
    }
  }
}

/**
 * Returns a response whose body calls `release` once it has been read to the end, errored
 * or cancelled (a client that disconnects mid-stream), so a stream holds its slot exactly as
 * long as it runs.
 */
export function releaseWhenBodyEnds(response: Response, release: () => void): Response {
  if (!response.body) {
    release();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        release();
        controller.error(error);
      }
    },
    async cancel(reason) {
      release();
      await reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
