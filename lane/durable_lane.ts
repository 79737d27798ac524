/**
 * The durable scheduler: jobs live in the shared store (SQLite or PostgreSQL). Workers claim
 * them under a lease; a lease that runs out (the process died) makes the job claimable again,
 * so each handler call is at-least-once. On PostgreSQL several processes share the queues:
 * claims take `FOR UPDATE SKIP LOCKED` rows inside a transaction that holds one advisory lock,
 * so the running-lease counts the limits are checked against cannot change underneath it.
 *
 * This file is the orchestration; each step has its own file: inserting (`_durable_insert`),
 * claiming (`_durable_claim`), writing outcomes back (`_durable_finish`), the dependency
 * cascade (`_durable_cascade`), the timer (`_work_loop`) and the waiters (`_waiters`).
 */
import type { Kysely } from "kysely";
import { NotFoundError, type Store, ValidationError } from "@a3s/common";
import { LANE_NAMES, type LaneName, laneRank } from "./lanes.ts";
import { type JobHandle, Lane, type LaneOptions } from "./lane.ts";
import { Attempt } from "./attempt.ts";
import { JobCancelledError, LaneClosedError } from "./errors.ts";
import { lastError } from "./error_history.ts";
import type { RetryPolicy } from "./retry.ts";
import { flushMetrics, recordOutcome, recordRun, recordWait, reportDepth } from "./metrics.ts";
import { type JobRow, LANE_MIGRATIONS, type LaneTables } from "./_schema.ts";
import { errorsOf, newJobRow, parseJson, rowSubject } from "./_rows.ts";
import { DurableHandle } from "./_durable_handle.ts";
import { claimTransaction, type Conn, lockDependencyGraph } from "./_durable_tx.ts";
import { insertJobs, type PreparedJob } from "./_durable_insert.ts";
import { claimJobs, type ClaimResult, WRITE_BATCH } from "./_durable_claim.ts";
import { type WriteBack, writeFinished } from "./_durable_finish.ts";
import type { CancelledDependent } from "./_durable_cascade.ts";
import {
  cancelStoredJob,
  countsByLane,
  getJob,
  type LaneDepth,
  laneDepth,
  listJobs,
  purgeDeadJobs,
  requeueDead,
} from "./_durable_queries.ts";
import type { FinishedAttempt, RunningJob } from "./_running_job.ts";
import { WorkLoop } from "./_work_loop.ts";
import { pruneFinished } from "./_durable_prune.ts";
import { keepsAll } from "./retention.ts";
import { Waiters } from "./_waiters.ts";
import type {
  HandlerOptions,
  JobFilter,
  JobFunction,
  JobInfo,
  JobSpec,
  LaneStats,
  SubmitOptions,
} from "./types.ts";

/** Options of the durable scheduler. */
export interface DurableLaneOptions extends LaneOptions {
  /** The shared store; the scheduler applies its migrations. */
  store: Store;
  /** How long a claim holds a job without a heartbeat (default 30 s). */
  leaseMs?: number;
  /** How often an idle worker looks for due jobs (default 100 ms). */
  pollMs?: number;
  /** Names this process in leases (default: a random id). */
  workerId?: string;
  /** Claim and run jobs (default true); false for a process that only submits and inspects. */
  process?: boolean;
  /** How long `close()` waits for running attempts before handing them back (default 5 s). */
  closeTimeoutMs?: number;
  /**
   * The most jobs this process runs at once (default: the global limit). Below the global limit
   * it leaves room for other processes: a worker refills its own freed slots in the same
   * transaction that records the finished job, so without a cap the first worker keeps them all.
   */
  workerConcurrency?: number;
  /**
   * Pruning never deletes a finished job younger than this, whatever the retention's count
   * (default {@linkcode DEFAULT_PRUNE_MIN_AGE_MS}, or 10 × `pollMs` when that is longer). A
   * process waiting for a job another process ran learns the outcome only from its row, so the
   * row must outlive every process's poll: lower it only when all processes poll well within it.
   */
  pruneMinAgeMs?: number;
}

/** One durable submission of {@linkcode DurableLane.submitMany}. */
export interface DurableSubmission {
  /** The session whose queue gets the job. */
  session: string;
  /** The lane it waits in. */
  lane: LaneName;
  /** The registered kind and its JSON payload. */
  work: JobSpec;
  /** Priority, delay, retry, dependencies and the rest. */
  options?: SubmitOptions;
}

const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_POLL_MS = 100;
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/**
 * The least age of a finished job pruning deletes by default: far beyond any waiter poll
 * (at most a second, or `pollMs`), so processes with other settings see the outcome too.
 */
export const DEFAULT_PRUNE_MIN_AGE_MS = 60_000;
/** The most jobs one claim starts, however high the limits. */
const MAX_CLAIM = 256;
/** Waiters on jobs that may run in another process are polled at most this often. */
const WAITER_POLL_MS = 250;
/** How often `close()` looks whether the running attempts finished. */
const CLOSE_POLL_MS = 10;
/**
 * Finished jobs are pruned after at most this many were written here (fewer when the retention
 * keeps fewer per lane), so a busy store holds little more than its retention between prunes.
 */
const PRUNE_EVERY_FINISHED = 256;
/** And at least this often, so jobs past their age go while nothing finishes. */
const PRUNE_INTERVAL_MS = 30_000;

/** The error of a waiter whose job the store does not hold. */
function jobNotFound(id: string): NotFoundError {
  return new NotFoundError(
    `job '${id}' not found: it was pruned by the retention, or never existed`,
    "id",
  );
}

/** Durable jobs name a registered kind: a function cannot be stored. */
function assertSpec(work: JobFunction | JobSpec): asserts work is JobSpec {
  if (typeof work === "function") {
    throw new ValidationError(
      "kind: durable jobs are {kind, payload}; register the kind with handle()",
      "kind",
    );
  }
}

/**
 * Schedules jobs kept in the shared store. Create it through {@linkcode createLane} with a
 * store; register every kind with {@linkcode Lane.handle} before jobs of it can run.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { createLane } from "@a3s/lane";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const lane = await createLane({ store });
 * lane.handle("add", (ctx) => (ctx.payload as number[]).reduce((a, b) => a + b, 0));
 * const job = await lane.submit("s1", "query", { kind: "add", payload: [1, 2] });
 * console.log(await job.result); // 3
 * await lane.close();
 * await store.close();
 * ```
 */
export class DurableLane extends Lane {
  /** Always true: jobs live in the store. */
  readonly durable = true;
  /** The store the jobs live in. */
  readonly store: Store;
  /** Names this process in the leases it holds. */
  readonly workerId: string;
  /** How long a claim lasts without a heartbeat. */
  readonly leaseMs: number;
  /** How often an idle worker looks for due jobs. */
  readonly pollMs: number;
  readonly #db: Kysely<LaneTables>;
  readonly #processing: boolean;
  readonly #closeTimeoutMs: number;
  readonly #workerConcurrency: number;
  readonly #running = new Map<string, RunningJob>();
  readonly #waiters = new Waiters();
  readonly #loop: WorkLoop;
  #finished: FinishedAttempt[] = [];
  #progress = new Map<string, unknown>();
  #lastHeartbeat = 0;
  #lastWaiterPoll = 0;
  /** A waiter was added since the last poll: its job may have finished before anyone waited. */
  #newWaiter = false;
  #lastExpiryCheck = 0;
  /** Finished jobs written since the last prune. */
  #finishedSincePrune = 0;
  #lastPrune = 0;
  /** See {@linkcode PRUNE_EVERY_FINISHED}; Infinity when the retention keeps everything. */
  readonly #pruneEvery: number;
  readonly #pruneIntervalMs: number;
  readonly #pruneMinAgeMs: number;
  /** Set by `close()`: finish and write what runs, claim nothing new. */
  #closing = false;
  #closed = false;
  readonly #stopReporting: () => void;

  /** Opens a durable scheduler on `options.store`, applying the lane migrations. */
  static async open(options: DurableLaneOptions): Promise<DurableLane> {
    await options.store.migrate("lane", LANE_MIGRATIONS);
    return new DurableLane(options);
  }

  private constructor(options: DurableLaneOptions) {
    super(options);
    this.store = options.store;
    this.#db = options.store.db<LaneTables>();
    this.workerId = options.workerId ?? `w-${crypto.randomUUID().slice(0, 8)}`;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#processing = options.process ?? true;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.#workerConcurrency = options.workerConcurrency ?? Infinity;
    this.#stopReporting = reportDepth(this);
    const { completed, dead } = this.retention;
    const bounded = [completed, dead].filter((keep) => !keepsAll(keep));
    const counts = bounded.map((keep) => keep.maxCount ?? Infinity);
    const ages = bounded.map((keep) => keep.maxAgeMs ?? Infinity);
    this.#pruneEvery = bounded.length
      ? Math.max(1, Math.min(PRUNE_EVERY_FINISHED, ...counts))
      : Infinity;
    // a short age is honoured within a quarter of itself, polled no more often than jobs are
    this.#pruneIntervalMs = bounded.length
      ? Math.max(this.pollMs, Math.min(PRUNE_INTERVAL_MS, ...ages.map((age) => age / 4)))
      : Infinity;
    this.#pruneMinAgeMs = options.pruneMinAgeMs ??
      Math.max(DEFAULT_PRUNE_MIN_AGE_MS, 10 * this.pollMs);
    if (!(Number.isFinite(this.#pruneMinAgeMs) && this.#pruneMinAgeMs >= 0)) {
      throw new ValidationError("pruneMinAgeMs: must be a non-negative number", "pruneMinAgeMs");
    }
    this.#lastPrune = Date.now();
    this.#loop = new WorkLoop({
      tick: () => this.#tick(),
      nextDelay: () => {
        if (this.#finished.length) return 0;
        return this.#processing || this.#waiters.size ? this.pollMs : undefined;
      },
    });
    if (this.#processing) this.#loop.kick(0);
  }

  /**
   * Whether this process claims and runs jobs (`process: false` only submits and inspects): a
   * module that submits work only this process can run needs a scheduler that runs it.
   */
  get processing(): boolean {
    return this.#processing;
  }

  /** Registers a kind's handler and looks for its queued jobs right away. */
  override handle<P = unknown, T = unknown>(
    kind: string,
    fn: JobFunction<T, P>,
    options?: HandlerOptions,
  ): this {
    super.handle(kind, fn, options);
    if (this.#processing) this.#loop.kick(0);
    return this;
  }

  // ---- submission -------------------------------------------------------------------------

  /** Submits one `{kind, payload}` job; see {@linkcode DurableLane.submitMany} for many. */
  async submit<T = unknown>(
    session: string,
    lane: LaneName,
    work: JobFunction<T> | JobSpec,
    options: SubmitOptions = {},
  ): Promise<JobHandle<T>> {
    assertSpec(work);
    const [handle] = await this.submitMany([{ session, lane, work, options }]);
    return handle as JobHandle<T>;
  }

  /** Submits many jobs in one transaction. */
  async submitMany(submissions: readonly DurableSubmission[]): Promise<JobHandle[]> {
    this.#open();
    const now = Date.now();
    const prepared = submissions.map((s) => this.#prepare(s, now));
    const ids = await this.#db.transaction().execute(async (tx) => {
      // a dependency that dies while this commits would never cancel a job it cannot see yet
      if (prepared.some((p) => p.deps.length)) await lockDependencyGraph(tx, this.store.kind);
      return await insertJobs(tx, this.store.kind, prepared);
    });
    prepared.forEach(({ row }, i) => {
      if (ids[i] === row.id) this.emit("enqueued", rowSubject(row));
    });
    if (this.#processing) this.#loop.kick(0);
    return ids.map((id) => new DurableHandle(this, id));
  }

  #prepare(submission: DurableSubmission, now: number): PreparedJob {
    const { session, lane, work } = submission;
    const options = submission.options ?? {};
    assertSpec(work);
    this.validate(session, lane, work, options);
    this.handlerFor(work.kind);
    const rank = laneRank(lane);
    const deps = options.dependsOn ?? [];
    deps.forEach((dep, i) => {
      if (typeof dep !== "string") {
        throw new ValidationError(`dependsOn.${i}: must be a job id`, `dependsOn.${i}`);
      }
    });
    const retry = this.retryFor(rank, work.kind, options.retry);
    const row = newJobRow({
      session,
      lane,
      rank,
      kind: work.kind,
      payload: work.payload,
      retry,
      options,
      now,
    });
    return { row, deps };
  }

  // ---- the worker loop --------------------------------------------------------------------

  async #tick(): Promise<void> {
    try {
      if (!this.#processing || this.#closed) await this.#flush();
      else await this.#flushProgress();
      const now = Date.now();
      if (this.#processing && !this.#closed) {
        if (now - this.#lastHeartbeat >= this.leaseMs / 3) await this.#heartbeat(now);
        const claimed = await this.#claim();
        if (claimed > 0) this.#loop.again();
        if (
          this.#finishedSincePrune >= this.#pruneEvery ||
          now - this.#lastPrune >= this.#pruneIntervalMs
        ) {
          await this.#prune();
        }
      }
      // a processing scheduler settles most waiters itself; it polls only for jobs run elsewhere
      const every = Math.max(this.pollMs, this.#processing ? 4 * WAITER_POLL_MS : WAITER_POLL_MS);
      if (this.#waiters.size && (this.#newWaiter || now - this.#lastWaiterPoll >= every)) {
        this.#lastWaiterPoll = now;
        this.#newWaiter = false;
        await this.#pollWaiters();
      }
    } catch (error) {
      if (!this.#closed) {
        console.error(`lane: worker loop error: ${(error as Error)?.stack ?? error}`);
      }
    }
  }

  /**
   * Writes the finished attempts and claims what the limits allow, in one transaction, so the
   * slots the finished jobs free count as free. Returns how many jobs it started.
   */
  async #claim(): Promise<number> {
    const kinds = [...this.handlers.keys()];
    const room = kinds.length && !this.#closing
      ? Math.min(this.limits.global, this.#workerConcurrency, MAX_CLAIM) - this.#running.size
      : 0;
    const finished = this.#takeFinished();
    if (room <= 0 && !finished.length) return 0;
    // an idle worker reads before it takes the write lock, so polling stays cheap
    if (!finished.length && !(await this.#anythingDue(kinds))) return 0;
    const now = Date.now();
    // leases run for seconds, so looking for expired ones a few times a lease is enough
    const includeExpired = now - this.#lastExpiryCheck >= Math.min(1_000, this.leaseMs / 4);
    if (includeExpired) this.#lastExpiryCheck = now;
    const { written, claimed } = await this.#inClaimTransaction(finished, async (conn) => {
      if (room <= 0) return { accepted: [], dead: [], cancelled: [] };
      return await claimJobs(conn, {
        kinds,
        room,
        limits: this.limits,
        buckets: this.buckets,
        includeExpired,
        workerId: this.workerId,
        leaseMs: this.leaseMs,
        kind: this.store.kind,
        now: Date.now(),
      });
    });
    this.#afterWrite(finished, written);
    this.#afterClaim(claimed);
    return claimed.accepted.length;
  }

  /** Writes `finished`, then runs `then`, in one claim transaction; on failure keeps `finished`. */
  async #inClaimTransaction(
    finished: FinishedAttempt[],
    then: (conn: Conn) => Promise<ClaimResult>,
  ): Promise<{ written: WriteBack; claimed: ClaimResult }> {
    try {
      return await claimTransaction(this.#db, this.store.kind, async (conn) => {
        // finished attempts are written first, so their slots count as free in the claim
        const written = await writeFinished(conn, finished, this.workerId, Date.now());
        return { written, claimed: await then(conn) };
      });
    } catch (error) {
      // nothing was written: keep the outcomes for the next attempt at writing them
      this.#finished.unshift(...finished);
      throw error;
    }
  }

  #afterClaim(claimed: ClaimResult): void {
    for (const dependent of claimed.cancelled) this.#dependentCancelled(dependent);
    this.#finishedSincePrune += claimed.dead.length;
    for (const row of claimed.dead) {
      recordOutcome(Number(row.lane_rank), "dead_lettered");
      this.emit("dead_lettered", rowSubject(row), { error: "lease expired too many times" });
      this.#waiters.settle(row.id, false, lastError(errorsOf(row)));
    }
    for (const row of claimed.accepted) this.#start(row);
  }

  async #anythingDue(kinds: string[]): Promise<boolean> {
    const now = Date.now();
    const due = await this.#db.selectFrom("lane_jobs").select("id")
      .where((eb) =>
        eb.or([
          eb.and([eb("state", "=", "queued"), eb("run_at", "<=", now)]),
          eb.and([eb("state", "=", "running"), eb("lease_until", "<=", now)]),
        ])
      )
      .where("kind", "in", kinds).limit(1).executeTakeFirst();
    return due !== undefined;
  }

  #start(row: JobRow): void {
    const rank = Number(row.lane_rank);
    const handler = this.handlerFor(row.kind);
    const stored = parseJson(row.retry) as RetryPolicy;
    const job: RunningJob = {
      id: row.id,
      session: row.session,
      lane: row.lane as LaneName,
      rank,
      kind: row.kind,
      payload: parseJson(row.payload),
      key: row.limit_key,
      attempts: Number(row.attempts) + 1,
      errors: errorsOf(row),
      retry: { ...stored, retryIf: handler.options.retry?.retryIf },
      readyAt: Math.max(Number(row.run_at), Number(row.created_at)),
      startedAt: performance.now(),
      cancelRequested: false,
    };
    this.#running.set(job.id, job);
    this.limits.acquire(job.lane, job.session, job.key);
    recordWait(rank, Math.max(0, Date.now() - job.readyAt));
    this.emit("started", job);
    const attempt = new Attempt(job, job.attempts);
    job.attempt = attempt;
    const timeout = row.timeout_ms !== null
      ? Number(row.timeout_ms)
      : this.timeoutFor(rank, job.kind, undefined);
    attempt.run(handler.fn, timeout, this, this.abortGraceMs);
  }

  /** The last progress a job running in this process reported, if any. */
  progressOf(id: string): unknown {
    return this.#running.get(id)?.progress;
  }

  /** Records a progress report; written with the next flush. */
  attemptProgress(job: RunningJob, value: unknown): void {
    job.progress = value;
    this.#progress.set(job.id, value);
    this.emit("progress", job, { progress: value });
  }

  /** Takes an attempt's outcome; the store learns it with the next flush. */
  attemptDone(job: RunningJob, ok: boolean, value: unknown): void {
    job.attempt = undefined;
    this.#running.delete(job.id);
    this.limits.release(job.lane, job.session, job.key);
    this.#finished.push({ job, ok, value });
    this.#loop.kick(0);
  }

  /** Writes progress reports; they are advisory, so outside any claim transaction. */
  async #flushProgress(): Promise<void> {
    const progress = this.#progress;
    if (!progress.size) return;
    this.#progress = new Map();
    for (const [id, value] of progress) {
      let text: string;
      try {
        text = JSON.stringify(value ?? null) ?? "null";
      } catch {
        continue;
      }
      await this.#db.updateTable("lane_jobs").set({ progress: text })
        .where("id", "=", id).where("worker", "=", this.workerId).execute();
    }
  }

  /** Writes finished attempts in a transaction of their own. */
  async #flush(): Promise<void> {
    await this.#flushProgress();
    const finished = this.#takeFinished();
    if (!finished.length) return;
    const { written } = await this.#inClaimTransaction(
      finished,
      () => Promise.resolve({ accepted: [], dead: [], cancelled: [] }),
    );
    this.#afterWrite(finished, written);
  }

  #takeFinished(): FinishedAttempt[] {
    const finished = this.#finished;
    this.#finished = [];
    return finished;
  }

  /** Once a batch is committed: metrics, events and the waiting handles. */
  #afterWrite(finished: readonly FinishedAttempt[], written: WriteBack): void {
    for (const effect of written.effects) {
      switch (effect.type) {
        case "failed":
          recordOutcome(effect.job.rank, "failed");
          this.emit("failed", effect.job, { error: effect.message });
          break;
        case "retried":
          recordOutcome(effect.job.rank, "retried");
          this.emit("retried", effect.job, { retryAt: effect.runAt });
          this.#loop.kick(Math.max(0, effect.runAt - Date.now()));
          break;
        case "ended":
          recordOutcome(effect.job.rank, effect.outcome);
          this.emit(effect.outcome, effect.job, { error: effect.message });
          break;
        case "dependent_cancelled":
          this.#dependentCancelled(effect.dependent);
          break;
      }
    }
    const clock = performance.now();
    for (const f of finished) recordRun(f.job.rank, clock - f.job.startedAt);
    this.#finishedSincePrune += written.settled.length;
    for (const s of written.settled) {
      if (s.ok) {
        recordOutcome(s.job.rank, "completed");
        this.emit("completed", s.job);
      }
      this.#waiters.settle(s.job.id, s.ok, s.value);
    }
  }

  /** Deletes the finished jobs the retention no longer keeps, by every process's writes. */
  async #prune(): Promise<void> {
    this.#finishedSincePrune = 0;
    // this process's waiters read their finished jobs first: a row pruned unread loses its
    // outcome, and the minimum age alone would not cover an event loop stalled past it
    if (this.#waiters.size) await this.#pollWaiters();
    this.#lastPrune = Date.now();
    await pruneFinished(this.#db, this.retention, this.#lastPrune, this.#pruneMinAgeMs);
  }

  #dependentCancelled({ subject, reason }: CancelledDependent): void {
    this.#finishedSincePrune++;
    this.emit("cancelled", subject, { error: reason.message });
    this.#waiters.settle(subject.id, false, reason);
  }

  async #heartbeat(now: number): Promise<void> {
    this.#lastHeartbeat = now;
    const ids = [...this.#running.keys()];
    for (let i = 0; i < ids.length; i += WRITE_BATCH) {
      const chunk = ids.slice(i, i + WRITE_BATCH);
      await this.#db.updateTable("lane_jobs").set({ lease_until: now + this.leaseMs })
        .where("id", "in", chunk).where("worker", "=", this.workerId)
        .where("state", "=", "running").execute();
      const cancelled = await this.#db.selectFrom("lane_jobs").select("id")
        .where("id", "in", chunk).where("cancel_requested", "=", 1).execute();
      for (const { id } of cancelled) this.#abortLocal(id);
    }
  }

  #abortLocal(id: string): boolean {
    const job = this.#running.get(id);
    if (!job?.attempt) return false;
    job.cancelRequested = true;
    job.attempt.abort(new JobCancelledError());
    return true;
  }

  // ---- results ----------------------------------------------------------------------------

  /**
   * The result promise of job `id`; settles when it finishes here or anywhere else, and rejects
   * with a `NotFoundError` on the next poll when the store holds no job `id` (it was pruned, or
   * never existed).
   */
  waitFor(id: string): Promise<unknown> {
    // a job may have finished (here or elsewhere) before anyone waited: the next tick looks
    return this.#waiters.wait(id, () => {
      this.#newWaiter = true;
      this.#loop.kick(this.#processing ? this.pollMs : 0);
    });
  }

  async #pollWaiters(): Promise<void> {
    const ids = this.#waiters.ids().filter((id) => !this.#running.has(id));
    for (let i = 0; i < ids.length; i += WRITE_BATCH) {
      const chunk = ids.slice(i, i + WRITE_BATCH);
      // every row is read, unfinished ones too, so a missing row stands out
      const rows = await this.#db.selectFrom("lane_jobs")
        .select(["id", "state", "result", "errors"])
        .where("id", "in", chunk).execute();
      const found = new Set<string>();
      for (const row of rows) {
        found.add(row.id);
        if (row.state === "completed") this.#waiters.settle(row.id, true, parseJson(row.result));
        else if (row.state === "dead" || row.state === "cancelled") {
          this.#waiters.settle(row.id, false, lastError(errorsOf(row)));
        }
      }
      for (const id of chunk) {
        // an outcome this process wrote meanwhile settled the waiter already; otherwise no
        // row will ever finish, and a promise left pending would hang its caller for good
        if (!found.has(id) && !this.#running.has(id)) {
          this.#waiters.settle(id, false, jobNotFound(id));
        }
      }
    }
  }

  // ---- inspection and management ----------------------------------------------------------

  /** One job from the store, or undefined. */
  get(id: string): Promise<JobInfo | undefined> {
    return getJob(this.#db, id);
  }

  /** The handle of a stored job. */
  handleOf(id: string): JobHandle {
    return new DurableHandle(this, id);
  }

  /** Jobs from the store matching `filter`, oldest first. */
  list(filter: JobFilter = {}): Promise<JobInfo[]> {
    return listJobs(this.#db, filter);
  }

  /** Cancels a job: a queued one at once, a running one through its worker's next heartbeat. */
  async cancel(id: string): Promise<boolean> {
    this.#open();
    if (this.#abortLocal(id)) return true;
    const outcome = await this.#db.transaction().execute(async (tx) => {
      await lockDependencyGraph(tx, this.store.kind);
      return await cancelStoredJob(tx, id, Date.now());
    });
    if (outcome.cancelled === true) {
      this.#finishedSincePrune++;
      recordOutcome(Number(outcome.row.lane_rank), "cancelled");
      this.emit("cancelled", rowSubject(outcome.row));
      this.#waiters.settle(id, false, outcome.reason);
      for (const dependent of outcome.dependents) this.#dependentCancelled(dependent);
    }
    return outcome.cancelled !== false;
  }

  /** Requeues a dead job with a fresh attempt count, keeping its error history. */
  protected async retryDead(id: string): Promise<JobInfo> {
    this.#open();
    const info = await requeueDead(this.#db, id, Date.now());
    this.emit("enqueued", { ...info, attempts: 0 });
    if (this.#processing) this.#loop.kick(0);
    return info;
  }

  /** Deletes dead jobs and their dependency edges. */
  protected purgeDead(filter: { id?: string; session?: string; lane?: LaneName }): Promise<number> {
    return purgeDeadJobs(this.#db, filter);
  }

  /** Queued and running counts per lane, across every process on the store. */
  depthByLane(): Promise<LaneDepth> {
    return laneDepth(this.#db);
  }

  /** Counts per lane and state from the store. */
  async stats(): Promise<LaneStats> {
    flushMetrics();
    return { lanes: await countsByLane(this.#db), highWater: this.highWater() };
  }

  /** Resolves once no job of this store is queued or running. */
  async drain(pollMs = 20): Promise<void> {
    for (;;) {
      const depth = await this.depthByLane();
      const busy = LANE_NAMES.some((l) => depth[l].queued + depth[l].running > 0);
      if (!busy && !this.#finished.length && !this.#running.size) return;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  #open(): void {
    if (this.#closed) throw new LaneClosedError();
  }

  /**
   * Lets running attempts finish (up to `closeTimeoutMs`), hands the rest back to the queue
   * once their handlers settled (or `abortGraceMs` passed), and writes what finished.
   */
  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    // a claim in flight starts its jobs before this waits on them
    await this.#loop.idle();
    const deadline = Date.now() + this.#closeTimeoutMs;
    while (this.#running.size && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, CLOSE_POLL_MS));
    }
    const closing = new LaneClosedError("the scheduler closed during the attempt");
    for (const job of [...this.#running.values()]) job.attempt?.abort(closing);
    // the loop still heartbeats their leases while aborted handlers wind down
    while (this.#running.size) {
      await new Promise((resolve) => setTimeout(resolve, CLOSE_POLL_MS));
    }
    this.#closed = true;
    this.#loop.stop();
    await this.#loop.idle();
    await this.#flush().catch(() => {});
    this.#stopReporting();
    this.#waiters.rejectAll((id) =>
      new LaneClosedError(`the scheduler closed while waiting for ${id}`)
    );
  }
}
