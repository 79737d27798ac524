/** The one way both wire formats send a chat request: retried, timed out, errors mapped. */
import { isRetryableStatus, ProviderError, type RetryRunner } from "../llm/types.ts";
import { runOnce } from "../llm/retry.ts";

/** One chat request to an LLM endpoint. */
export interface ProviderPost {
  /** The provider's name in errors. */
  provider: string;
  url: string;
  /** Headers beside `content-type`: the API's key and version. */
  headers: Record<string, string>;
  body: unknown;
  /** The caller's cancel signal; an abort is rethrown as it is, never retried. */
  signal?: AbortSignal;
  /** Lane's runner in an agent; one attempt otherwise. */
  retry?: RetryRunner;
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
}

/**
 * Posts `body` as JSON and returns the successful response. Network failures are retryable
 * provider errors; an error status carries the API's own message (the `error.message` both
 * formats use) and is retryable when the status says so (429, 5xx, Anthropic's 529).
 */
export function postChat(post: ProviderPost): Promise<Response> {
  const retry = post.retry ?? runOnce;
  return retry(async (jobSignal) => {
    const signals = [jobSignal, AbortSignal.timeout(post.timeoutMs)];
    if (post.signal) signals.push(post.signal);
    let res: Response;
    try {
      res = await fetch(post.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...post.headers },
        body: JSON.stringify(post.body),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      if (post.signal?.aborted) throw error;
      throw new ProviderError(post.provider, 0, (error as Error).message, true);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      let message = text.slice(0, 500);
      try {
        const apiMessage = JSON.parse(text)?.error?.message;
        if (typeof apiMessage === "string") message = apiMessage;
      } catch { /* not JSON */ }
      throw new ProviderError(
        post.provider,
        res.status,
        `HTTP ${res.status}: ${message}`,
        isRetryableStatus(res.status),
      );
    }
    return res;
  }, { maxAttempts: post.maxAttempts, delayMs: post.retryDelayMs, signal: post.signal });
}
