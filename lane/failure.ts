/** What happens to a job whose attempt failed: one decision for both schedulers. */
import { JobCancelledError, LaneClosedError } from "./errors.ts";
import { retryDelay, type RetryPolicy, shouldRetry } from "./retry.ts";

/** The fate of a failed attempt. */
export type FailureDecision =
  /** Cancelled (asked for, or the handler gave up with {@linkcode JobCancelledError}). */
  | { action: "cancel" }
  /** Interrupted by the scheduler closing: back to the queue, the attempt not counted. */
  | { action: "hand_back" }
  /** Run again at `runAt` (epoch ms). */
  | { action: "retry"; runAt: number }
  /** Out of attempts (or not retryable): into the dead-letter queue. */
  | { action: "dead_letter" };

/** The facts the decision depends on. */
export interface FailedAttempt {
  /** What the attempt failed with. */
  error: unknown;
  /** A cancel was asked for while the attempt ran. */
  cancelRequested: boolean;
  /** The job's retry policy. */
  retry: RetryPolicy;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** Now, in epoch ms. */
  now: number;
}

/**
 * Decides between cancelling, handing back, retrying and dead-lettering a failed attempt.
 *
 * @example
 * ```ts
 * import { decideFailure } from "./failure.ts";
 * const retry = { maxAttempts: 2, delayMs: 50 };
 * decideFailure({ error: new Error("x"), cancelRequested: false, retry, attempt: 1, now: 0 });
 * // { action: "retry", runAt: 50 }
 * ```
 */
export function decideFailure(failed: FailedAttempt): FailureDecision {
  const { error, retry, attempt } = failed;
  if (failed.cancelRequested || error instanceof JobCancelledError) return { action: "cancel" };
  if (error instanceof LaneClosedError) return { action: "hand_back" };
  if (shouldRetry(retry, error, attempt)) {
    return { action: "retry", runAt: failed.now + retryDelay(retry, attempt) };
  }
  return { action: "dead_letter" };
}
