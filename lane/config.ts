/**
 * The `lane` section of the server config, and the retry policy shape the HTTP API shares
 * with it: one zod schema each, the source of validation, types and OpenAPI.
 */
import { z } from "@hono/zod-openapi";
import { LANE_NAMES, type LaneName } from "./lanes.ts";
import type { RateLimit } from "./rate_limit.ts";
import type { StoredRetry } from "./retry.ts";
import type { KeepJobs, RetentionOptions } from "./retention.ts";
import { MAX_ABORT_GRACE_MS } from "./lane.ts";

/** One lane's settings in the config file. */
export interface LaneSettings {
  /** Most jobs of the lane running at once. */
  maxConcurrency?: number;
  /** Paces the lane's starts with a token bucket. */
  rateLimit?: RateLimit;
  /** Per-attempt timeout of the lane's jobs. */
  timeoutMs?: number;
  /** Retry policy of the lane's jobs that name none. */
  retry?: StoredRetry;
}

/** The validated `lane` config section; see {@linkcode LaneSectionSchema}. */
export interface LaneSection {
  /** Settings per lane; lanes not named keep the defaults. */
  lanes?: Partial<Record<LaneName, LaneSettings>>;
  /** Most jobs running at once (on PostgreSQL: across all processes). */
  maxConcurrency?: number;
  /** Most jobs of one session running at once. */
  sessionConcurrency?: number;
  /** Most jobs of one concurrency key running at once; `"*"` covers unnamed keys. */
  keyConcurrency?: Record<string, number>;
  /** Default retry policy. */
  retry?: StoredRetry;
  /** How long a claim holds a job without a heartbeat, in ms. */
  leaseMs?: number;
  /** How often an idle worker looks for due jobs, in ms. */
  pollMs?: number;
  /** The most jobs this process runs at once. */
  workerConcurrency?: number;
  /** How long closing waits for running attempts, in ms. */
  closeTimeoutMs?: number;
  /** Claim and run jobs; false for a process that only submits and inspects. */
  process?: boolean;
  /** How long finished jobs are kept, by how they ended. */
  retention?: RetentionOptions;
  /** How long an aborted job's slot waits for its handler to settle, in ms. */
  abortGraceMs?: number;
}

/** A retry policy as JSON carries it (no `retryIf` predicate). */
export const RetryPolicySchema: z.ZodType<StoredRetry> = z.object({
  maxAttempts: z.number().int().min(1).max(100),
  backoff: z.enum(["fixed", "exponential"]).optional(),
  delayMs: z.number().min(0).optional(),
  factor: z.number().min(1).optional(),
  maxDelayMs: z.number().min(0).optional(),
  jitter: z.number().min(0).max(1).optional(),
}).openapi("LaneRetryPolicy");

const positiveInt: z.ZodNumber = z.number().int().positive();

const LaneSettingsSchema: z.ZodType<LaneSettings> = z.strictObject({
  maxConcurrency: positiveInt.optional(),
  rateLimit: z.strictObject({
    ratePerSecond: z.number().positive(),
    burst: positiveInt.optional(),
  }).optional(),
  timeoutMs: z.number().positive().optional(),
  retry: RetryPolicySchema.optional(),
});

const nonNegativeInt: z.ZodNumber = z.number().int().min(0);

/** One class of finished jobs: bounds left out are no bounds. */
const KeepJobsSchema: z.ZodType<KeepJobs> = z.strictObject({
  maxAgeMs: nonNegativeInt.optional(),
  maxCount: nonNegativeInt.optional(),
});

/**
 * The `lane` config section. Every key is optional: the scheduler's own defaults apply, so an
 * empty section is valid.
 */
export const LaneSectionSchema: z.ZodType<LaneSection> = z.strictObject({
  lanes: z.partialRecord(z.enum(LANE_NAMES), LaneSettingsSchema).optional(),
  maxConcurrency: positiveInt.optional(),
  sessionConcurrency: positiveInt.optional(),
  keyConcurrency: z.record(z.string(), positiveInt).optional(),
  retry: RetryPolicySchema.optional(),
  leaseMs: positiveInt.optional(),
  pollMs: positiveInt.optional(),
  workerConcurrency: positiveInt.optional(),
  closeTimeoutMs: z.number().int().min(0).optional(),
  process: z.boolean().optional(),
  retention: z.strictObject({
    completed: KeepJobsSchema.optional(),
    dead: KeepJobsSchema.optional(),
  }).optional(),
  // a longer timer delay overflows and fires at once; see MAX_ABORT_GRACE_MS
  abortGraceMs: nonNegativeInt.max(MAX_ABORT_GRACE_MS).optional(),
});
