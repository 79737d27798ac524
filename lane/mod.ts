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
  type JobHandle,
  Lane,
  type LaneOptions,
  type RegisteredHandler,
} from "./lane.ts";
export { MemoryLane, type MemoryLaneOptions } from "./memory_lane.ts";
export {
  DurableLane,
  type DurableLaneOptions,
  type DurableSubmission,
  rowToInfo,
} from "./durable_lane.ts";
export {
  DEFAULT_LANE_CONCURRENCY,
  isLaneName,
  LANE_NAMES,
  type LaneName,
  laneRank,
  parseLaneName,
} from "./lanes.ts";
export {
  type BackoffKind,
  NO_RETRY,
  retryDelay,
  type RetryPolicy,
  shouldRetry,
  storedRetry,
  validateRetry,
} from "./retry.ts";
export { type RateLimit, TokenBucket } from "./rate_limit.ts";
export { type Blocker, type ConcurrencyLimitOptions, ConcurrencyLimits } from "./limits.ts";
export { LaneEvents, type LaneListener } from "./events.ts";
export { JobQueue, type Queued } from "./job_queue.ts";
export { JobCancelledError, JobTimeoutError } from "./attempt.ts";
export { type DependencyRow, type JobRow, LANE_MIGRATIONS, type LaneTables } from "./schema.ts";
export * from "./types.ts";
export { createLaneRoutes, type LaneModule, laneModule, type LaneModuleOptions } from "./routes.ts";
