/**
 * `@a3s/lane`: per-session priority lanes with concurrency limits, rate limits, retries, a
 * dead-letter queue and durable state, in memory or on the shared store (SQLite or
 * PostgreSQL).
 *
 * @example
 * ```ts
 * import { createLane } from "@a3s/lane";
 * const lane = createLane({ maxConcurrency: 4, sessionConcurrency: 1 });
 * const job = await lane.submit("session-1", "prompt", async (ctx) => {
 *   ctx.progress(0.5);
 *   return "done";
 * }, { timeoutMs: 5_000, retry: { maxAttempts: 3, backoff: "exponential", jitter: 0.2 } });
 * console.log(await job.result);
 * await lane.close();
 * ```
 * @module
 */
export { createLane } from "./create.ts";
export {
  type DeadLetterQueue,
  DEFAULT_ABORT_GRACE_MS,
  type JobHandle,
  Lane,
  type LaneOptions,
  MAX_ABORT_GRACE_MS,
  SESSION_PATTERN,
  SESSION_RULE,
} from "./lane.ts";
export { MemoryLane, type MemoryLaneOptions } from "./memory_lane.ts";
export { DurableLane, type DurableLaneOptions, type DurableSubmission } from "./durable_lane.ts";
export type { LaneDepth } from "./_durable_queries.ts";
export { isLaneName, LANE_NAMES, type LaneName, parseLaneName } from "./lanes.ts";
export { type BackoffKind, type RetryPolicy } from "./retry.ts";
export { DEFAULT_KEEP_COMPLETED, type KeepJobs, type RetentionOptions } from "./retention.ts";
export { type RateLimit } from "./rate_limit.ts";
export { type Blocker, ConcurrencyLimits, type RunningCounts } from "./limits.ts";
export { LaneEvents, type LaneListener } from "./events.ts";
export {
  DependencyFailedError,
  JobCancelledError,
  JobTimeoutError,
  LaneClosedError,
  LeaseExpiredError,
} from "./errors.ts";
export type { LaneSection, LaneSettings } from "./config.ts";
export * from "./types.ts";
