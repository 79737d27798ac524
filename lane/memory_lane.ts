/**
 * The in-memory scheduler, for libraries: no storage, plain functions allowed, and a
 * dispatch path that is a few array and map operations per job.
 */
import { NotFoundError, ValidationError } from "@a3s/common";
import { LANE_NAMES, type LaneName, laneRank } from "./lanes.ts";
import { type JobHandle, Lane, type LaneOptions } from "./lane.ts";
import { Attempt } from "./attempt.ts";
import { DependencyFailedError, JobCancelledError, LaneClosedError } from "./errors.ts";
import { appendError } from "./error_history.ts";
import { decideFailure } from "./failure.ts";
import { JobQueue } from "./job_queue.ts";
import { DelayedJobs } from "./_delayed_jobs.ts";
import { ParkedJobs } from "./_parked_jobs.ts";
import { KeptJobs } from "./_kept_jobs.ts";
import type { RetryPolicy } from "./retry.ts";
import { flushMetrics, recordOutcome, recordRun, recordWait, reportDepth } from "./metrics.ts";
import {
  JOB_STATES,
  type JobError,
  type JobFilter,
  type JobFunction,
  type JobInfo,
  type JobSpec,
  type JobState,
  type LaneCounts,
  type LaneStats,
  type SubmitOptions,
} from "./types.ts";

/**
 * Options of the in-memory scheduler: those of every scheduler. Finished jobs stay readable
 * by `options.retention`.
 */
export type MemoryLaneOptions = LaneOptions;

/** How often `close()` looks whether the aborted attempts reported. */
const CLOSE_POLL_MS = 5;

/** What a memory job is made of when it is submitted. */
interface MemoryJobInit {
  owner: MemoryLane;
  /** The scheduler's id prefix; the id is the prefix and `seq`. */
  prefix: string;
  seq: number;
  session: string;
  lane: LaneName;
  rank: number;
  kind: string;
  payload: unknown;
  fn: JobFunction;
  priority: number;
  key: string | null;
  idempotencyKey: string | null;
  dependsOn: string[];
  retry: RetryPolicy;
  timeoutMs: number | undefined;
  runAt: number;
  createdAt: number;
}

/**
 * A job of the memory scheduler: its handle, its state and its place in the queues.
 *
 * @internal
 */
class MemoryJob implements JobHandle {
  // `declare`: the constructor sets these from its options; a plain field declaration would
  // first define each as undefined, which costs the submit path about a tenth of its speed
  declare readonly owner: MemoryLane;
  declare readonly prefix: string;
  declare readonly seq: number;
  declare readonly session: string;
  declare readonly lane: LaneName;
  declare readonly rank: number;
  declare readonly kind: string;
  declare readonly payload: unknown;
  declare readonly fn: JobFunction;
  declare readonly priority: number;
  declare readonly key: string | null;
  declare readonly idempotencyKey: string | null;
  declare readonly dependsOn: string[];
  declare readonly retry: RetryPolicy;
  declare readonly timeoutMs: number | undefined;
  declare runAt: number;
  declare readonly createdAt: number;
  state: JobState = "queued";
  attempts = 0;
  startedAt: number | null = null;
  finishedAt: number | null = null;
  /** performance.now() when the job last became runnable. */
  readyAt = 0;
  runStartedAt = 0;
  value: unknown = undefined;
  failure: unknown = undefined;
  progressValue: unknown = undefined;
  errors: JobError[] | undefined;
  waitingOn = 0;
  dependents: MemoryJob[] | undefined;
  attempt: Attempt<MemoryJob> | undefined;
  cancelRequested = false;
  #promise: Promise<unknown> | undefined;
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #progressListeners: Set<(value: unknown) => void> | undefined;

  constructor(init: MemoryJobInit) {
    this.owner = init.owner;
    this.prefix = init.prefix;
    this.seq = init.seq;
    this.session = init.session;
    this.lane = init.lane;
    this.rank = init.rank;
    this.kind = init.kind;
    this.payload = init.payload;
    this.fn = init.fn;
    this.priority = init.priority;
    this.key = init.key;
    this.idempotencyKey = init.idempotencyKey;
    this.dependsOn = init.dependsOn;
    this.retry = init.retry;
    this.timeoutMs = init.timeoutMs;
    this.runAt = init.runAt;
    this.createdAt = init.createdAt;
  }

  get id(): string {
    return this.prefix + this.seq;
  }

  get result(): Promise<unknown> {
    if (!this.#promise) {
      if (this.state === "completed") this.#promise = Promise.resolve(this.value);
      else if (this.state === "dead" || this.state === "cancelled") {
        this.#promise = Promise.reject(this.failure);
      } else {
        this.#promise = new Promise((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
    }
    return this.#promise;
  }

  get progress(): unknown {
    return this.progressValue;
  }

  onProgress(listener: (value: unknown) => void): () => void {
    (this.#progressListeners ??= new Set()).add(listener);
    return () => this.#progressListeners?.delete(listener);
  }

  cancel(): Promise<boolean> {
    return Promise.resolve(this.owner.cancelJob(this));
  }

  reportProgress(value: unknown): void {
    this.progressValue = value;
    if (this.#progressListeners) {
      for (const listener of this.#progressListeners) {
        listener(value);
      }
    }
  }

  /** Forgets a settled result, for a job put back in its queue. */
  reopen(): void {
    this.#promise = undefined;
  }

  settle(ok: boolean, value: unknown): void {
    if (ok) {
      this.value = value;
      this.#resolve?.(value);
    } else {
      this.failure = value;
      this.#reject?.(value);
    }
    this.#resolve = this.#reject = undefined;
  }

  info(): JobInfo {
    return {
      id: this.id,
      session: this.session,
      lane: this.lane,
      kind: this.kind,
      payload: this.payload,
      state: this.state,
      priority: this.priority,
      key: this.key,
      idempotencyKey: this.idempotencyKey,
      dependsOn: this.dependsOn,
      attempts: this.attempts,
      maxAttempts: this.retry.maxAttempts,
      runAt: this.runAt,
      createdAt: this.createdAt,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      result: this.state === "completed" ? this.value : null,
      progress: this.progressValue ?? null,
      errors: this.errors ? [...this.errors] : [],
    };
  }
}

const FUNCTION_KIND = "function";
const NO_OPTIONS: SubmitOptions = Object.freeze({});
const EMPTY: string[] = [];
const EMPTY_JOBS: MemoryJob[] = [];

/**
 * Schedules jobs in memory. Create it through {@linkcode createLane} without a store.
 *
 * @example
 * ```ts
 * import { createLane } from "@a3s/lane";
 * const lane = createLane();
 * const job = await lane.submit("session-1", "query", () => 42);
 * console.log(await job.result); // 42
 * await lane.close();
 * ```
 */
export class MemoryLane extends Lane {
  /** Always false: jobs live in this process only. */
  readonly durable = false;
  readonly #queues: JobQueue<MemoryJob>[] = LANE_NAMES.map(() => new JobQueue<MemoryJob>());
  readonly #queued: number[] = LANE_NAMES.map(() => 0);
  /** Every job still held, by sequence number: queued, running, and finished ones kept. */
  readonly #jobs = new Map<number, MemoryJob>();
  /** Completed and cancelled jobs, pruned by `retention.completed`. */
  readonly #keptCompleted: KeptJobs<MemoryJob>;
  /** Dead jobs, pruned by `retention.dead` (tracked only when it bounds them). */
  readonly #keptDead: KeptJobs<MemoryJob>;
  #unfinished = 0;
  readonly #idempotent = new Map<string, MemoryJob>();
  readonly #parked = new ParkedJobs<MemoryJob>();
  readonly #delayed = new DelayedJobs<MemoryJob>((due) => {
    const at = performance.now();
    for (const job of due) {
      job.readyAt = at;
      this.#queues[job.rank].push(job);
    }
    this.#pump();
  });
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #pumping = false;
  #seq = 0;
  #closed = false;
  readonly #prefix = `m${Math.random().toString(36).slice(2, 8)}-`;
  readonly #stopReporting: () => void;

  /** Creates an empty scheduler. */
  constructor(options: MemoryLaneOptions = {}) {
    super(options);
    const forget = (job: MemoryJob) => this.#forget(job);
    this.#keptCompleted = new KeptJobs(this.retention.completed, forget);
    this.#keptDead = new KeptJobs(this.retention.dead, forget);
    this.#stopReporting = reportDepth(this);
  }

  /** Submits work; resolves with its handle at once. */
  submit<T = unknown>(
    session: string,
    lane: LaneName,
    work: JobFunction<T> | JobSpec,
    options: SubmitOptions = NO_OPTIONS,
  ): Promise<JobHandle<T>> {
    try {
      return Promise.resolve(this.submitNow(session, lane, work, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@linkcode submit} without the promise around the handle. */
  submitNow<T = unknown>(
    session: string,
    lane: LaneName,
    work: JobFunction<T> | JobSpec,
    options: SubmitOptions = NO_OPTIONS,
  ): JobHandle<T> {
    if (this.#closed) throw new LaneClosedError();
    this.validate(session, lane, work, options);
    const idempotencyKey = options.idempotencyKey ?? null;
    if (idempotencyKey !== null) {
      const existing = this.#idempotent.get(idempotencyKey);
      if (existing) return existing as JobHandle<T>;
    }
    const rank = laneRank(lane);
    let kind = FUNCTION_KIND;
    let payload: unknown = null;
    let fn: JobFunction;
    // the registered kind whose handler options apply; none for a plain function
    let handled: string | undefined;
    if (typeof work === "function") {
      fn = work as JobFunction;
    } else {
      kind = handled = work.kind;
      payload = work.payload ?? null;
      fn = this.handlerFor(kind).fn;
    }
    const dependencies = options.dependsOn ?? EMPTY;
    const deps = dependencies.length
      ? dependencies.map((id, i) => this.#dependency(id, i))
      : EMPTY_JOBS;
    const now = Date.now();
    const seq = ++this.#seq;
    const job = new MemoryJob({
      owner: this,
      prefix: this.#prefix,
      seq,
      session,
      lane,
      rank,
      kind,
      payload,
      fn,
      priority: options.priority ?? 0,
      key: options.key ?? null,
      idempotencyKey,
      dependsOn: dependencies,
      retry: this.retryFor(rank, handled, options.retry),
      timeoutMs: this.timeoutFor(rank, handled, options.timeoutMs),
      runAt: now + (options.delayMs ?? 0),
      createdAt: now,
    });
    this.#jobs.set(seq, job);
    this.#unfinished++;
    if (idempotencyKey !== null) this.#idempotent.set(idempotencyKey, job);
    this.#queued[rank]++;
    for (const dep of deps) {
      if (dep.state === "completed") continue;
      job.waitingOn++;
      (dep.dependents ??= []).push(job);
    }
    this.emit("enqueued", job);
    if (job.waitingOn === 0) this.#schedule(job);
    return job as JobHandle<T>;
  }

  #dependency(id: string, index: number): MemoryJob {
    const dep = this.#find(id);
    if (!dep) {
      throw new ValidationError(`dependsOn.${index}: unknown job '${id}'`, `dependsOn.${index}`);
    }
    if (dep.state === "dead" || dep.state === "cancelled") throw new DependencyFailedError(id);
    return dep;
  }

  #schedule(job: MemoryJob): void {
    if (job.runAt > Date.now()) {
      this.#delayed.add(job);
      return;
    }
    job.readyAt = performance.now();
    this.#queues[job.rank].push(job);
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      const limits = this.limits;
      for (;;) {
        if (limits.running >= limits.global) return;
        let job: MemoryJob | undefined;
        for (let rank = 0; rank < LANE_NAMES.length && !job; rank++) {
          const queue = this.#queues[rank];
          if (queue.size === 0 || limits.laneRunning[rank] >= limits.lanes[rank]) continue;
          for (let next = queue.peek(); next; next = queue.peek()) {
            const blocker = limits.blocker(next.lane, next.session, next.key);
            if (blocker === "session" || blocker === "key") {
              queue.shift();
              this.#parked.park(
                blocker === "session" ? `s:${next.session}` : `k:${next.key}`,
                next,
              );
              continue;
            }
            const bucket = this.buckets[rank];
            if (bucket) {
              const now = performance.now();
              if (!bucket.tryTake(now)) {
                this.#wakeIn(bucket.waitMs(now));
                break;
              }
            }
            job = queue.shift();
            break;
          }
        }
        if (!job) return;
        this.#start(job);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #unpark(on: string): void {
    for (const job of this.#parked.release(on)) this.#queues[job.rank].push(job);
  }

  #wakeIn(ms: number): void {
    if (this.#wakeTimer !== undefined || this.#closed) return;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#pump();
    }, ms);
  }

  #start(job: MemoryJob): void {
    this.limits.acquire(job.lane, job.session, job.key);
    this.#queued[job.rank]--;
    job.state = "running";
    job.attempts++;
    job.startedAt ??= Date.now();
    job.runStartedAt = performance.now();
    recordWait(job.rank, job.runStartedAt - job.readyAt);
    const attempt = new Attempt(job, job.attempts);
    job.attempt = attempt;
    this.emit("started", job);
    attempt.run(job.fn, job.timeoutMs, this, this.abortGraceMs);
  }

  /** Records a progress report of a running attempt. */
  attemptProgress(job: MemoryJob, value: unknown): void {
    job.reportProgress(value);
    this.emit("progress", job, { progress: value });
  }

  /** Takes the outcome of an attempt. */
  attemptDone(job: MemoryJob, ok: boolean, value: unknown): void {
    job.attempt = undefined;
    this.limits.release(job.lane, job.session, job.key);
    const ended = performance.now();
    recordRun(job.rank, ended - job.runStartedAt);
    if (ok) {
      job.state = "completed";
      job.finishedAt = Date.now();
      recordOutcome(job.rank, "completed");
      this.emit("completed", job);
      this.#retire(job);
      job.settle(true, value);
      if (job.dependents) this.#release(job);
    } else {
      this.#failed(job, value);
    }
    if (this.#parked.size) {
      this.#unpark(`s:${job.session}`);
      if (job.key !== null) this.#unpark(`k:${job.key}`);
    }
    this.#pump();
  }

  #failed(job: MemoryJob, error: unknown): void {
    const now = Date.now();
    const decision = decideFailure({
      error,
      cancelRequested: job.cancelRequested,
      retry: job.retry,
      attempt: job.attempts,
      now,
    });
    // a memory scheduler that closes cancels what runs, so nothing is ever handed back here
    if (decision.action === "cancel" || decision.action === "hand_back") {
      this.#cancelled(job, error);
      return;
    }
    job.errors = appendError(job.errors, job.attempts, error, now);
    const message = job.errors[job.errors.length - 1].message;
    recordOutcome(job.rank, "failed");
    this.emit("failed", job, { error: message });
    if (decision.action === "retry") {
      job.state = "queued";
      this.#queued[job.rank]++;
      job.runAt = decision.runAt;
      recordOutcome(job.rank, "retried");
      this.emit("retried", job, { retryAt: job.runAt });
      this.#schedule(job);
      return;
    }
    job.state = "dead";
    job.finishedAt = now;
    this.#unfinished--;
    recordOutcome(job.rank, "dead_lettered");
    this.emit("dead_lettered", job, { error: message });
    this.#keptDead.add(job, now);
    job.settle(false, error);
    if (job.dependents) this.#failDependents(job);
  }

  /** A job completed or was cancelled: keep it while the retention allows. */
  #retire(job: MemoryJob): void {
    this.#unfinished--;
    this.#keptCompleted.add(job, job.finishedAt!);
  }

  #forget(job: MemoryJob): void {
    this.#jobs.delete(job.seq);
    if (job.idempotencyKey !== null && this.#idempotent.get(job.idempotencyKey) === job) {
      this.#idempotent.delete(job.idempotencyKey);
    }
  }

  #release(job: MemoryJob): void {
    const dependents = job.dependents!;
    job.dependents = undefined;
    for (const dependent of dependents) {
      if (dependent.state === "queued" && --dependent.waitingOn === 0) this.#schedule(dependent);
    }
  }

  #failDependents(job: MemoryJob): void {
    const dependents = job.dependents!;
    job.dependents = undefined;
    for (const dependent of dependents) {
      if (dependent.state !== "queued") continue;
      dependent.cancelRequested = true;
      this.#queued[dependent.rank]--;
      this.#cancelled(dependent, new DependencyFailedError(job.id));
    }
  }

  #cancelled(job: MemoryJob, reason: unknown): void {
    job.state = "cancelled";
    job.finishedAt = Date.now();
    job.errors = appendError(job.errors, job.attempts, reason, job.finishedAt);
    recordOutcome(job.rank, "cancelled");
    this.emit("cancelled", job, { error: job.errors[job.errors.length - 1].message });
    this.#retire(job);
    job.settle(false, reason);
    if (job.dependents) this.#failDependents(job);
  }

  /** Cancels `job`; used by its handle. */
  cancelJob(job: MemoryJob): boolean {
    if (job.state === "running") {
      job.cancelRequested = true;
      job.attempt?.abort(new JobCancelledError());
      return true;
    }
    if (job.state !== "queued") return false;
    if (!this.#queues[job.rank].remove(job)) {
      if (!this.#delayed.remove(job)) this.#parked.remove(job);
    }
    this.#queued[job.rank]--;
    job.cancelRequested = true;
    this.#cancelled(job, new JobCancelledError());
    return true;
  }

  /** Prunes finished jobs past their age: no job finishing does it while the lane is idle. */
  #expire(): void {
    const now = Date.now();
    this.#keptCompleted.expire(now);
    this.#keptDead.expire(now);
  }

  #find(id: string): MemoryJob | undefined {
    if (typeof id !== "string" || !id.startsWith(this.#prefix)) return undefined;
    this.#expire();
    const seq = Number(id.slice(this.#prefix.length));
    return Number.isInteger(seq) ? this.#jobs.get(seq) : undefined;
  }

  /** One job, or undefined once it is no longer retained. */
  get(id: string): Promise<JobInfo | undefined> {
    return Promise.resolve(this.#find(id)?.info());
  }

  /** The handle of a job this scheduler still holds. */
  handleOf(id: string): JobHandle | undefined {
    return this.#find(id);
  }

  /** Jobs matching `filter`, in submission order. */
  list(filter: JobFilter = {}): Promise<JobInfo[]> {
    this.#expire();
    const limit = filter.limit ?? 100;
    const out: JobInfo[] = [];
    for (const job of this.#jobs.values()) {
      if (out.length >= limit) break;
      if (filter.session !== undefined && job.session !== filter.session) continue;
      if (filter.lane !== undefined && job.lane !== filter.lane) continue;
      if (filter.state !== undefined && job.state !== filter.state) continue;
      out.push(job.info());
    }
    return Promise.resolve(out);
  }

  /** Cancels a queued or running job. */
  cancel(id: string): Promise<boolean> {
    const job = this.#find(id);
    if (!job) return Promise.reject(new NotFoundError(`job '${id}' not found`, "id"));
    return Promise.resolve(this.cancelJob(job));
  }

  /** Requeues a dead job with a fresh attempt count. */
  protected retryDead(id: string): Promise<JobInfo> {
    const job = this.#find(id);
    if (job?.state !== "dead") {
      return Promise.reject(new NotFoundError(`no dead job '${id}'`, "id"));
    }
    this.#keptDead.remove(job);
    this.#unfinished++;
    job.state = "queued";
    job.attempts = 0;
    job.finishedAt = null;
    job.failure = undefined;
    job.runAt = Date.now();
    job.reopen();
    this.#queued[job.rank]++;
    const info = job.info();
    this.#schedule(job);
    return Promise.resolve(info);
  }

  /** Deletes dead jobs that match. */
  protected purgeDead(filter: { id?: string; session?: string; lane?: LaneName }): Promise<number> {
    let purged = 0;
    for (const job of [...this.#jobs.values()]) {
      if (job.state !== "dead") continue;
      if (filter.id !== undefined && job.id !== filter.id) continue;
      if (filter.session !== undefined && job.session !== filter.session) continue;
      if (filter.lane !== undefined && job.lane !== filter.lane) continue;
      this.#keptDead.remove(job);
      this.#forget(job);
      purged++;
    }
    return Promise.resolve(purged);
  }

  /** Queued and running counts per lane. */
  depthByLane(): Promise<Record<LaneName, { queued: number; running: number }>> {
    const out = {} as Record<LaneName, { queued: number; running: number }>;
    LANE_NAMES.forEach((lane, rank) => {
      out[lane] = { queued: this.#queued[rank], running: this.limits.laneRunning[rank] };
    });
    return Promise.resolve(out);
  }

  /** Counts per lane and state of the jobs held. */
  stats(): Promise<LaneStats> {
    flushMetrics();
    this.#expire();
    const lanes = {} as Record<LaneName, LaneCounts>;
    for (const lane of LANE_NAMES) {
      lanes[lane] = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as LaneCounts;
    }
    for (const job of this.#jobs.values()) lanes[job.lane][job.state]++;
    return Promise.resolve({ lanes, highWater: this.highWater() });
  }

  /** Resolves once nothing is queued or running (delayed jobs included). */
  async drain(pollMs = 5): Promise<void> {
    while (this.#unfinished > 0 && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Cancels queued jobs and aborts running attempts; resolves once every aborted attempt has
   * reported, that is once its handler settled or `abortGraceMs` passed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#delayed.close();
    if (this.#wakeTimer !== undefined) clearTimeout(this.#wakeTimer);
    this.#stopReporting();
    const closing = new LaneClosedError("the scheduler closed before the job ran");
    for (const job of [...this.#jobs.values()]) {
      if (job.state === "running") {
        job.cancelRequested = true;
        job.attempt?.abort(closing);
      } else if (job.state === "queued") {
        job.state = "cancelled";
        job.settle(false, closing);
      }
    }
    await Promise.resolve();
    while (this.limits.running > 0) {
      await new Promise((resolve) => setTimeout(resolve, CLOSE_POLL_MS));
    }
  }
}
