/**
 * Retry policies: fixed or exponential backoff, optional jitter, a cap on attempts and an
 * optional predicate. Everything but the predicate is plain data, so durable jobs keep it.
 */
import { ValidationError } from "@a3s/common";

/** How long to wait between attempts. */
export type BackoffKind = "fixed" | "exponential";

/** A retry policy. `maxAttempts` counts the first run: 1 means never retry. */
export interface RetryPolicy {
  /** Runs in all, the first included; 1 means never retry. */
  maxAttempts: number;
  /** Fixed or exponential delays (default fixed). */
  backoff?: BackoffKind;
  /** The first delay, in milliseconds (default 100). */
  delayMs?: number;
  /** Exponential growth per attempt (default 2). */
  factor?: number;
  /** The largest delay, in milliseconds (default 30 s). */
  maxDelayMs?: number;
  /** Fraction of each delay drawn at random, 0 to 1 (default 0): 0.5 waits 50 to 100 %. */
  jitter?: number;
  /** Retries only errors this accepts; kept in-process, so durable jobs set it per handler. */
  retryIf?: (error: unknown, attempt: number) => boolean;
}

/** The serializable part of a {@linkcode RetryPolicy}. */
export type StoredRetry = Omit<RetryPolicy, "retryIf">;

/** Never retry. */
export const NO_RETRY: RetryPolicy = { maxAttempts: 1 };

/** Checks a policy's numbers, naming the bad field. */
export function validateRetry(policy: RetryPolicy, field = "retry"): RetryPolicy {
  const bad = (name: string, why: string) =>
    new ValidationError(`${field}.${name}: ${why}`, `${field}.${name}`);
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw bad("maxAttempts", "must be an integer of at least 1");
  }
  for (const name of ["delayMs", "maxDelayMs", "factor"] as const) {
    const value = policy[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw bad(name, "must be a non-negative number");
    }
  }
  if (policy.jitter !== undefined && !(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw bad("jitter", "must be between 0 and 1");
  }
  if (
    policy.backoff !== undefined && policy.backoff !== "fixed" && policy.backoff !== "exponential"
  ) {
    throw bad("backoff", "must be 'fixed' or 'exponential'");
  }
  return policy;
}

/**
 * The delay before the attempt after `attempt` (1-based) failed.
 *
 * @example
 * ```ts
 * import { retryDelay } from "./retry.ts";
 * retryDelay({ maxAttempts: 5, backoff: "exponential", delayMs: 100 }, 3); // 400
 * ```
 */
export function retryDelay(
  policy: StoredRetry,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = policy.delayMs ?? 100;
  const cap = policy.maxDelayMs ?? 30_000;
  const raw = policy.backoff === "exponential"
    ? base * Math.pow(policy.factor ?? 2, Math.max(0, attempt - 1))
    : base;
  const capped = Math.min(raw, cap);
  const jitter = policy.jitter ?? 0;
  return Math.round(capped * (1 - jitter + jitter * random()));
}

/** True when a job that just failed its `attempt`-th run should run again. */
export function shouldRetry(policy: RetryPolicy, error: unknown, attempt: number): boolean {
  if (attempt >= policy.maxAttempts) return false;
  return policy.retryIf ? policy.retryIf(error, attempt) : true;
}

/** The stored, predicate-free copy of a policy. */
export function storedRetry(policy: RetryPolicy): StoredRetry {
  const { retryIf: _predicate, ...rest } = policy;
  return rest;
}
