/** Provider retries run as lane jobs: lane owns backoff, jitter and cancellation. */
import { createLane, type MemoryLane } from "@a3s/lane";
import { ProviderError, type RetryRunner } from "./types.ts";

function retryable(error: unknown): boolean {
  return error instanceof ProviderError ? error.retryable : error instanceof TypeError;
}

/**
 * A {@linkcode RetryRunner} that submits each request to `lane` in the `prompt` lane of
 * `session`, retrying retryable provider failures with exponential backoff and jitter.
 *
 * @example
 * ```ts
 * import { laneRetryRunner } from "./retry.ts";
 * const { run, close } = laneRetryRunner();
 * console.log(await run(() => Promise.resolve(1), { maxAttempts: 3, delayMs: 10 }));
 * await close();
 * ```
 */
export function laneRetryRunner(
  // The prompt lane defaults to 2 at a time; parallel subagents and plan steps need more.
  lane: MemoryLane = createLane({ maxConcurrency: 64, lanes: { prompt: { maxConcurrency: 64 } } }),
  session = "code",
): { run: RetryRunner; close(): Promise<void> } {
  const run: RetryRunner = async (attempt, options) => {
    const job = await lane.submit(session, "prompt", (ctx) => attempt(ctx.signal), {
      retry: {
        maxAttempts: options.maxAttempts,
        backoff: "exponential",
        delayMs: options.delayMs,
        maxDelayMs: 10_000,
        jitter: 0.2,
        retryIf: retryable,
      },
    });
    const onAbort = () => void job.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await job.result;
    } catch (error) {
      // lane wraps the last failure; surface the provider's own error.
      let cause: unknown = error;
      while (cause instanceof Error && !(cause instanceof ProviderError) && cause.cause) {
        cause = cause.cause;
      }
      throw cause instanceof ProviderError ? cause : error;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  };
  return { run, close: () => lane.close() };
}

/** Runs once, no retries: for tests and one-shot tools. */
export const runOnce: RetryRunner = (attempt, options) =>
  attempt(options.signal ?? new AbortController().signal);
