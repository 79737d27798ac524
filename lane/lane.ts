/**
 * The scheduler's shared half: options, handler registry, limits, rate limits, events and the
 * validation of submissions. {@linkcode MemoryLane} and {@linkcode DurableLane} add storage.
 */
import { ValidationError } from "@a3s/common";
import { LANE_NAMES, type LaneName, parseLaneName } from "./lanes.ts";
import { type ConcurrencyLimitOptions, ConcurrencyLimits } from "./limits.ts";
import { TokenBucket } from "./rate_limit.ts";
import { NO_RETRY, type RetryPolicy, validateRetry } from "./retry.ts";
import { LaneEvents, type LaneListener } from "./events.ts";
import { resolveRetention, type Retention, type RetentionOptions } from "./retention.ts";
import type {
  HandlerOptions,
  HighWaterMarks,
  JobFilter,
  JobFunction,
  JobInfo,
  JobSpec,
  LaneConfig,
  LaneEvent,
  LaneEventType,
  LaneStats,
  SubmitOptions,
} from "./types.ts";

/** A submitted job, as its submitter holds it. */
export interface JobHandle<T = unknown> {
  /** The job's id. */
  readonly id: string;
  /** Settles when the job completes (its value), is cancelled or lands in the dead-letter queue. */
  readonly result: Promise<T>;
  /** The last progress the handler reported. */
  readonly progress: unknown;
  /** Calls `listener` on each progress report; returns the function that stops it. */
  onProgress(listener: (value: unknown) => void): () => void;
  /** Cancels the job; false when it had already finished. */
  cancel(): Promise<boolean>;
}

/** Options of a scheduler. */
export interface LaneOptions {
  /** Per-lane settings; lanes not named keep upstream's defaults. */
  lanes?: Partial<Record<LaneName, LaneConfig>>;
  /** Most jobs running at once in this scheduler (on PostgreSQL: across all processes). */
  maxConcurrency?: number;
  /** Most jobs of one session running at once. */
  sessionConcurrency?: number;
  /** Most jobs of one concurrency key running at once; `"*"` covers unnamed keys. */
  keyConcurrency?: Record<string, number>;
  /** Default retry policy (default: no retry). */
  retry?: RetryPolicy;
  /**
   * How long finished jobs stay readable (default: completed and cancelled jobs a day and at
   * most 1000 per lane; dead-lettered jobs until purged).
   */
  retention?: RetentionOptions;
  /**
   * After a cancel or a timeout aborts a running job's signal, how long its concurrency slot
   * waits for the handler to settle before it is freed anyway (default 5 s; 0 frees it at once;
   * at most {@linkcode MAX_ABORT_GRACE_MS}, the longest timer delay there is).
   */
  abortGraceMs?: number;
}

/** How long an aborted handler keeps its slot when no grace period is configured. */
export const DEFAULT_ABORT_GRACE_MS = 5_000;

/**
 * The longest `abortGraceMs` (2^31 − 1 ms, about 24.8 days): a longer timer delay overflows
 * and fires at once, which would free the slot at the abort and run more jobs than the limit.
 */
export const MAX_ABORT_GRACE_MS = 2_147_483_647;

/** The dead-letter queue of a scheduler. */
export interface DeadLetterQueue {
  /** Dead jobs with their error history, oldest first. */
  list(filter?: Omit<JobFilter, "state">): Promise<JobInfo[]>;
  /** Puts a dead job back in its lane with a fresh attempt count. */
  retry(id: string): Promise<JobInfo>;
  /** Deletes one dead job, or all that match; returns how many. */
  purge(filter?: { id?: string; session?: string; lane?: LaneName }): Promise<number>;
}

/**
 * A kind's handler and its options, as the schedulers keep them.
 *
 * @internal
 */
export interface RegisteredHandler {
  fn: JobFunction;
  options: HandlerOptions;
}

/**
 * What a session id may hold: chat platforms' ids included (DingTalk's conversation ids are
 * base64, with '+', '/' and '=').
 */
export const SESSION_PATTERN = /^[\w.:@\-/+=]{1,200}$/;
/** {@linkcode SESSION_PATTERN} in words, for errors. */
export const SESSION_RULE = "1 to 200 word characters, '.', ':', '@', '-', '/', '+' or '='";

/** The part of every scheduler that does not depend on where jobs are kept. */
export abstract class Lane {
  /** True when jobs survive a restart. */
  abstract readonly durable: boolean;
  /** Running-job accounting of this process. */
  readonly limits: ConcurrencyLimits;
  /** Scheduler events of this process. */
  readonly events: LaneEvents = new LaneEvents();
  /** The dead-letter queue. */
  readonly dlq: DeadLetterQueue;
  /** Handlers by kind. */
  protected readonly handlers: Map<string, RegisteredHandler> = new Map();
  /** Settings per lane, by rank. */
  protected readonly configs: readonly LaneConfig[];
  /** Token buckets per lane, by rank. */
  protected readonly buckets: readonly (TokenBucket | undefined)[];
  /** The policy of jobs that name none. */
  protected readonly defaultRetry: RetryPolicy;
  /** Which finished jobs are kept, by how they ended. */
  protected readonly retention: Retention;
  /** How long an aborted attempt's slot waits for its handler to settle. */
  protected readonly abortGraceMs: number;
  #lastSession: string | undefined;

  /** Validates the options and sets up limits and rate limits. */
  constructor(options: LaneOptions) {
    const lanes: ConcurrencyLimitOptions["lanes"] = {};
    for (const [name, config] of Object.entries(options.lanes ?? {})) {
      const lane = parseLaneName(name, "lanes");
      if (config.maxConcurrency !== undefined) {
        lanes[lane] = positive(config.maxConcurrency, `lanes.${lane}.maxConcurrency`);
      }
      if (config.retry) validateRetry(config.retry, `lanes.${lane}.retry`);
    }
    this.limits = new ConcurrencyLimits({
      global: options.maxConcurrency === undefined
        ? undefined
        : positive(options.maxConcurrency, "maxConcurrency"),
      lanes,
      session: options.sessionConcurrency === undefined
        ? undefined
        : positive(options.sessionConcurrency, "sessionConcurrency"),
      keys: options.keyConcurrency,
    });
    this.configs = LANE_NAMES.map((name) => options.lanes?.[name] ?? {});
    this.buckets = this.configs.map((config) =>
      config.rateLimit ? new TokenBucket(config.rateLimit) : undefined
    );
    this.defaultRetry = options.retry ? validateRetry(options.retry) : NO_RETRY;
    this.retention = resolveRetention(options.retention);
    const grace = options.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS;
    if (!(Number.isFinite(grace) && grace >= 0 && grace <= MAX_ABORT_GRACE_MS)) {
      throw new ValidationError(
        `abortGraceMs: must be a number from 0 to ${MAX_ABORT_GRACE_MS}`,
        "abortGraceMs",
      );
    }
    this.abortGraceMs = grace;
    this.dlq = {
      list: (filter) => this.list({ ...filter, state: "dead" }),
      retry: (id) => this.retryDead(id),
      purge: (filter) => this.purgeDead(filter ?? {}),
    };
  }

  /**
   * Registers the handler of a job kind. Durable jobs name a kind, so a restarted process
   * that registers the same kinds resumes them.
   */
  handle<P = unknown, T = unknown>(
    kind: string,
    fn: JobFunction<T, P>,
    options: HandlerOptions = {},
  ): this {
    if (options.retry) validateRetry(options.retry, "retry");
    this.handlers.set(kind, { fn: fn as JobFunction, options });
    return this;
  }

  /** True when `kind` has a handler here. */
  handles(kind: string): boolean {
    return this.handlers.has(kind);
  }

  /** Subscribes to this process's scheduler events; returns the unsubscribe function. */
  subscribe(listener: LaneListener): () => void {
    return this.events.subscribe(listener);
  }

  /** The most jobs this process has run at once, by scope. */
  highWater(): HighWaterMarks {
    return this.limits.highWater();
  }

  /**
   * Submits work to `session`'s queue in `lane`: a function (in-memory schedulers only) or a
   * registered `{kind, payload}`.
   */
  abstract submit<T = unknown>(
    session: string,
    lane: LaneName,
    work: JobFunction<T> | JobSpec,
    options?: SubmitOptions,
  ): Promise<JobHandle<T>>;
  /** One job, or undefined. */
  abstract get(id: string): Promise<JobInfo | undefined>;
  /** Jobs matching `filter`, oldest first. */
  abstract list(filter?: JobFilter): Promise<JobInfo[]>;
  /** Cancels a queued or running job; false when it had already finished. */
  abstract cancel(id: string): Promise<boolean>;
  /** Counts by lane and state, with the local high-water marks. */
  abstract stats(): Promise<LaneStats>;
  /** Stops scheduling and waits for running attempts to settle. */
  abstract close(): Promise<void>;
  /** Requeues a dead job. */
  protected abstract retryDead(id: string): Promise<JobInfo>;
  /** Deletes dead jobs that match. */
  protected abstract purgeDead(
    filter: { id?: string; session?: string; lane?: LaneName },
  ): Promise<number>;

  /** Checks a submission and names the field that is wrong. */
  protected validate(
    session: string,
    lane: LaneName,
    work: JobFunction | JobSpec,
    options: SubmitOptions,
  ): void {
    if (
      session !== this.#lastSession &&
      (typeof session !== "string" || !SESSION_PATTERN.test(session))
    ) {
      throw new ValidationError(
        `session: must be ${SESSION_RULE}`,
        "session",
      );
    }
    this.#lastSession = session;
    parseLaneName(lane);
    if (typeof work !== "function") {
      if (!work || typeof work.kind !== "string" || work.kind.length === 0) {
        throw new ValidationError("kind: must be a non-empty string", "kind");
      }
    }
    const { priority, timeoutMs, delayMs, dependsOn, retry } = options;
    if (priority !== undefined && !Number.isInteger(priority)) {
      throw new ValidationError("priority: must be an integer", "priority");
    }
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new ValidationError("timeoutMs: must be a positive number", "timeoutMs");
    }
    if (delayMs !== undefined && !(Number.isFinite(delayMs) && delayMs >= 0)) {
      throw new ValidationError("delayMs: must be a non-negative number", "delayMs");
    }
    if (dependsOn !== undefined && !Array.isArray(dependsOn)) {
      throw new ValidationError("dependsOn: must be an array of job ids", "dependsOn");
    }
    if (retry) validateRetry(retry);
  }

  /** The handler of `kind`, or a 400 naming the kind. */
  protected handlerFor(kind: string): RegisteredHandler {
    const handler = this.handlers.get(kind);
    if (!handler) {
      throw new ValidationError(`kind: no handler is registered for '${kind}'`, "kind");
    }
    return handler;
  }

  /**
   * The retry policy of a job: its own, else its kind's, else its lane's, else the default.
   * `kind` is undefined for a plain function job, which has no registered handler. On every
   * submission, so written without allocations or closures.
   */
  protected retryFor(
    rank: number,
    kind: string | undefined,
    own: RetryPolicy | undefined,
  ): RetryPolicy {
    if (own !== undefined) return own;
    const byKind = kind === undefined ? undefined : this.handlers.get(kind)?.options.retry;
    return byKind ?? this.configs[rank].retry ?? this.defaultRetry;
  }

  /** The timeout of a job, by the same precedence. */
  protected timeoutFor(
    rank: number,
    kind: string | undefined,
    own: number | undefined,
  ): number | undefined {
    if (own !== undefined) return own;
    const byKind = kind === undefined ? undefined : this.handlers.get(kind)?.options.timeoutMs;
    return byKind ?? this.configs[rank].timeoutMs;
  }

  /** Sends an event when anyone listens. */
  protected emit(
    type: LaneEventType,
    job: { id: string; session: string; lane: LaneName; kind: string; attempts: number },
    extra?: Partial<LaneEvent>,
  ): void {
    if (!this.events.active) return;
    this.events.emit({
      type,
      jobId: job.id,
      session: job.session,
      lane: job.lane,
      kind: job.kind,
      attempt: job.attempts,
      at: Date.now(),
      ...extra,
    });
  }
}

function positive(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${field}: must be a positive integer`, field);
  }
  return value;
}
