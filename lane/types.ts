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
export const JOB_STATES: readonly ["queued", "running", "completed", "cancelled", "dead"] = [
  "queued",
  "running",
  "completed",
  "cancelled",
  "dead",
];

/** One failed attempt, kept in the job's error history. */
export interface JobError {
  /** Which attempt failed, from 1. */
  attempt: number;
  /** What went wrong. */
  message: string;
  /** A stable code such as `timeout`, `lease_expired` or the thrown error's name. */
  code: string;
  /** Epoch milliseconds. */
  at: number;
}

/** A job as stored and listed. Times are epoch milliseconds. */
export interface JobInfo {
  /** The job id. */
  id: string;
  /** The owning session. */
  session: string;
  /** The lane it runs in. */
  lane: LaneName;
  /** The handler kind (`function` for in-memory functions). */
  kind: string;
  /** Its input. */
  payload: unknown;
  /** Where it is now. */
  state: JobState;
  /** Higher runs first within a lane. */
  priority: number;
  /** The concurrency key, such as a model or tool name. */
  key: string | null;
  /** The key that makes submission idempotent. */
  idempotencyKey: string | null;
  /** Jobs that must complete first. */
  dependsOn: string[];
  /** Attempts started so far. */
  attempts: number;
  /** The retry policy's cap. */
  maxAttempts: number;
  /** Not started before this. */
  runAt: number;
  /** When it was submitted. */
  createdAt: number;
  /** When it first started. */
  startedAt: number | null;
  /** When it finished. */
  finishedAt: number | null;
  /** The value of a completed job. */
  result: unknown;
  /** The last progress report. */
  progress: unknown;
  /** Every failed attempt, oldest first. */
  errors: JobError[];
}

/** What a handler gets for one attempt. */
export interface JobContext<P = unknown> {
  /** The job id. */
  readonly id: string;
  /** The owning session. */
  readonly session: string;
  /** The lane it runs in. */
  readonly lane: LaneName;
  /** The handler kind. */
  readonly kind: string;
  /** Its input. */
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
  /** A kind registered with `handle()`. */
  kind: string;
  /** JSON input for the handler. */
  payload?: P;
}

/** Options of one submission. */
export interface SubmitOptions {
  /** Within a lane, higher runs first; equal priorities run FIFO. Default 0. */
  priority?: number;
  /** Abort and fail the attempt after this long. */
  timeoutMs?: number;
  /** How failures are retried. */
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
  /** Most jobs of the lane running at once. */
  maxConcurrency?: number;
  /** A token bucket on the lane's starts. */
  rateLimit?: RateLimit;
  /** Default per-attempt timeout. */
  timeoutMs?: number;
  /** Default retry policy. */
  retry?: RetryPolicy;
}

/** Options a kind's handler is registered with. */
export interface HandlerOptions {
  /** The kind's retry policy. */
  retry?: RetryPolicy;
  /** The kind's per-attempt timeout. */
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
  /** What happened. */
  type: LaneEventType;
  /** To which job. */
  jobId: string;
  /** The job's session. */
  session: string;
  /** The job's lane. */
  lane: LaneName;
  /** The job's kind. */
  kind: string;
  /** The attempt it concerns. */
  attempt: number;
  /** Epoch milliseconds. */
  at: number;
  /** The failure, for failed, dead_lettered and cancelled. */
  error?: string;
  /** The report, for progress. */
  progress?: unknown;
  /** For `retried`: when the next attempt may start. */
  retryAt?: number;
}

/** Filters for listing jobs. */
export interface JobFilter {
  /** Only this session. */
  session?: string;
  /** Only this lane. */
  lane?: LaneName;
  /** Only this state. */
  state?: JobState;
  /** At most this many (default 100). */
  limit?: number;
}

/** Job counts of one lane by state. */
export type LaneCounts = Record<JobState, number>;

/** Counts per lane and the local high-water marks of running jobs. */
export interface LaneStats {
  /** Counts per lane. */
  lanes: Record<LaneName, LaneCounts>;
  /** This process's high-water marks. */
  highWater: HighWaterMarks;
}

/** The most jobs seen running at once in this process, by scope. */
export interface HighWaterMarks {
  /** Across all lanes. */
  global: number;
  /** By lane. */
  lanes: Record<string, number>;
  /** By session (tracked with a session limit); `*` is the most of any one session. */
  sessions: Record<string, number>;
  /** By key. */
  keys: Record<string, number>;
}

/** The form kept in storage for retry settings. */
export type { StoredRetry };
