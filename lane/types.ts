/** The shapes a caller sees: jobs, their options, handles, contexts and events. */
import type { LaneName } from "./lanes.ts";
import type { RateLimit } from "./rate_limit.ts";
import type { RetryPolicy, StoredRetry } from "./retry.ts";

/**
 * Where a job is: `queued` (waiting for its turn, its delay or its dependencies), `running`,
 * or finished as `completed`, `cancelled` or `dead` (retries exhausted; in the dead-letter queue).
 */
export type JobState = "queued" | "running" | "completed" | "cancelled" | "dead";

/** Every job state. */
export const JOB_STATES: readonly JobState[] = [
  "queued",
  "running",
  "completed",
  "cancelled",
  "dead",
];

/** One failed attempt, kept in the job's error history. */
export interface JobError {
  attempt: number;
  message: string;
  /** A stable code such as `timeout`, `lease_expired` or the thrown error's name. */
  code: string;
  /** Epoch milliseconds. */
  at: number;
}

/** A job as stored and listed. Times are epoch milliseconds. */
export interface JobInfo {
  id: string;
  session: string;
  lane: LaneName;
  kind: string;
  payload: unknown;
  state: JobState;
  priority: number;
  /** The concurrency key, such as a model or tool name. */
  key: string | null;
  idempotencyKey: string | null;
  dependsOn: string[];
  attempts: number;
  maxAttempts: number;
  runAt: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  result: unknown;
  progress: unknown;
  errors: JobError[];
}

/** What a handler gets for one attempt. */
export interface JobContext<P = unknown> {
  readonly id: string;
  readonly session: string;
  readonly lane: LaneName;
  readonly kind: string;
  readonly payload: P;
  /** 1 on the first run. */
  readonly attempt: number;
  /** Aborted on timeout or cancellation. */
  readonly signal: AbortSignal;
  /** Reports progress: kept on the job and sent as a `progress` event. */
  progress(value: unknown): void;
}

/** A unit of work. */
export type JobFunction<T = unknown, P = unknown> = (ctx: JobContext<P>) => T | Promise<T>;

/** A durable job: a registered kind and its JSON payload. */
export interface JobSpec<P = unknown> {
  kind: string;
  payload?: P;
}

/** Options of one submission. */
export interface SubmitOptions {
  /** Within a lane, higher runs first; equal priorities run FIFO. Default 0. */
  priority?: number;
  /** Abort and fail the attempt after this long. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Run no sooner than this many milliseconds from now. */
  delayMs?: number;
  /** Submitting the same key again returns the first job. */
  idempotencyKey?: string;
  /** Job ids that must complete first. */
  dependsOn?: string[];
  /** The concurrency key (for example a model or tool name). */
  key?: string;
}

/** Settings of one lane. */
export interface LaneConfig {
  maxConcurrency?: number;
  rateLimit?: RateLimit;
  timeoutMs?: number;
  retry?: RetryPolicy;
}

/** Options a kind's handler is registered with. */
export interface HandlerOptions {
  retry?: RetryPolicy;
  timeoutMs?: number;
}

/** Kinds of scheduler events (upstream's `queue.command.*` keys, without the prefix). */
export type LaneEventType =
  | "enqueued"
  | "started"
  | "progress"
  | "completed"
  | "failed"
  | "retried"
  | "dead_lettered"
  | "cancelled";

/** One scheduler event. */
export interface LaneEvent {
  type: LaneEventType;
  jobId: string;
  session: string;
  lane: LaneName;
  kind: string;
  attempt: number;
  /** Epoch milliseconds. */
  at: number;
  error?: string;
  progress?: unknown;
  /** For `retried`: when the next attempt may start. */
  retryAt?: number;
}

/** Filters for listing jobs. */
export interface JobFilter {
  session?: string;
  lane?: LaneName;
  state?: JobState;
  limit?: number;
}

/** Job counts of one lane by state. */
export type LaneCounts = Record<JobState, number>;

/** Counts per lane and the local high-water marks of running jobs. */
export interface LaneStats {
  lanes: Record<LaneName, LaneCounts>;
  highWater: HighWaterMarks;
}

/** The most jobs seen running at once in this process, by scope. */
export interface HighWaterMarks {
  global: number;
  lanes: Record<string, number>;
  sessions: Record<string, number>;
  keys: Record<string, number>;
}

/** The form kept in storage for retry settings. */
export type { StoredRetry };
