/**
 * The durable scheduler: jobs live in the shared store (SQLite or PostgreSQL). Workers claim
 * them under a lease; a lease that runs out (the process died) makes the job claimable again,
 * so each handler call is at-least-once. On PostgreSQL several processes share the queues:
 * claims take `FOR UPDATE SKIP LOCKED` rows inside a transaction that holds one advisory lock,
 * so the running-lease counts the limits are checked against cannot change underneath it.
 */
import { type Kysely, sql, type Transaction } from "kysely";
import { A3sError, NotFoundError, type Store, ValidationError } from "@a3s/common";
import { LANE_NAMES, type LaneName, laneRank } from "./lanes.ts";
import { dependencyFailed, type JobHandle, Lane, type LaneOptions } from "./lane.ts";
import { Attempt, type AttemptOwner, describeError, JobCancelledError } from "./attempt.ts";
import { retryDelay, type RetryPolicy, shouldRetry, storedRetry } from "./retry.ts";
import { flushMetrics, recordOutcome, recordRun, recordWait, reportDepth } from "./metrics.ts";
import { type JobRow, LANE_MIGRATIONS, type LaneTables } from "./schema.ts";
import {
  type HandlerOptions,
  JOB_STATES,
  type JobError,
  type JobFilter,
  type JobFunction,
  type JobInfo,
  type JobSpec,
  type LaneCounts,
  type LaneStats,
  type SubmitOptions,
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

/** Times a lease may run out on a job before it goes to the dead-letter queue. */
const MAX_RECOVERIES = 3;
const CLAIM_LOCK = 0x1a3e5;
const WRITE_BATCH = 400;
const INSERT_BATCH = 500;
const INSERT_COLUMNS = [
  "id",
  "session",
  "lane",
  "lane_rank",
  "kind",
  "payload",
  "state",
  "priority",
  "limit_key",
  "idempotency_key",
  "depends_on",
  "attempts",
  "max_attempts",
  "retry",
  "timeout_ms",
  "run_at",
  "cancel_requested",
  "errors",
  "created_at",
] as const;
/** Waiters on jobs that may run in another process are polled at most this often. */
const WAITER_POLL_MS = 250;

interface RunningJob {
  id: string;
  session: string;
  lane: LaneName;
  rank: number;
  kind: string;
  payload: unknown;
  key: string | null;
  attempts: number;
  errors: JobError[];
  retry: RetryPolicy;
  readyAt: number;
  startedAt: number;
  attempt?: Attempt<RunningJob>;
  cancelRequested: boolean;
  progress?: unknown;
}

interface Finished {
  job: RunningJob;
  ok: boolean;
  value: unknown;
}

interface Settled {
  job: RunningJob;
  ok: boolean;
  value: unknown;
}

/** Finished attempts being written, and what to do once they are committed. */
interface FinishedBatch {
  finished: Finished[];
  settled: Settled[];
  after: (() => void)[];
  now: number;
}

interface Waiter {
  promise: Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Db = Kysely<LaneTables>;
type Conn = Kysely<LaneTables> | Transaction<LaneTables>;

class DurableHandle implements JobHandle {
  #progress: unknown = null;
  #listeners: Set<(value: unknown) => void> | undefined;
  constructor(readonly owner: DurableLane, readonly id: string) {}
  get result(): Promise<unknown> {
    return this.owner.waitFor(this.id);
  }
  get progress(): unknown {
    const latest = this.owner.progressOf(this.id);
    if (latest !== undefined) this.#progress = latest;
    return this.#progress;
  }
  onProgress(listener: (value: unknown) => void): () => void {
    (this.#listeners ??= new Set()).add(listener);
    const stop = this.owner.subscribe((event) => {
      if (event.type === "progress" && event.jobId === this.id) {
        this.#progress = event.progress;
        listener(event.progress);
      }
    });
    return () => {
      this.#listeners?.delete(listener);
      stop();
    };
  }
  cancel(): Promise<boolean> {
    return this.owner.cancel(this.id);
  }
}

function parseJson(text: string | null): unknown {
  if (text === null || text === undefined) return null;
  return JSON.parse(text);
}

function toJson(value: unknown, field: string): string {
  try {
    return JSON.stringify(value ?? null) ?? "null";
  } catch (error) {
    throw new ValidationError(
      `${field}: not JSON-serializable (${(error as Error).message})`,
      field,
    );
  }
}

/** Maps a stored row to the public job shape. */
export function rowToInfo(row: JobRow): JobInfo {
  return {
    id: row.id,
    session: row.session,
    lane: row.lane as LaneName,
    kind: row.kind,
    payload: parseJson(row.payload),
    state: row.state as JobInfo["state"],
    priority: Number(row.priority),
    key: row.limit_key,
    idempotencyKey: row.idempotency_key,
    dependsOn: parseJson(row.depends_on) as string[],
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    runAt: Number(row.run_at),
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    result: parseJson(row.result),
    progress: parseJson(row.progress),
    errors: parseJson(row.errors) as JobError[],
  };
}

function before(a: JobRow, b: JobRow): boolean {
  const ra = Number(a.lane_rank), rb = Number(b.lane_rank);
  if (ra !== rb) return ra < rb;
  const pa = Number(a.priority), pb = Number(b.priority);
  if (pa !== pb) return pa > pb;
  return Number(a.seq) < Number(b.seq);
}

/** Merges two lists already in claim order. */
function mergeByOrder(a: JobRow[], b: JobRow[]): JobRow[] {
  if (!a.length) return b;
  const out: JobRow[] = [];
  let i = 0, k = 0;
  while (i < a.length || k < b.length) {
    if (k >= b.length || (i < a.length && before(a[i], b[k]))) out.push(a[i++]);
    else out.push(b[k++]);
  }
  return out;
}

function storedError(errors: JobError[]): A3sError {
  const last = errors[errors.length - 1];
  return new A3sError(last?.code ?? "failed", last?.message ?? "job failed", { status: 500 });
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
export class DurableLane extends Lane implements AttemptOwner<RunningJob> {
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
  readonly #db: Db;
  readonly #processing: boolean;
  readonly #closeTimeoutMs: number;
  readonly #running = new Map<string, RunningJob>();
  readonly #waiters = new Map<string, Waiter>();
  #finished: Finished[] = [];
  #progress = new Map<string, unknown>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #workerConcurrency: number;
  #timerAt = Infinity;
  #ticking: Promise<void> | undefined;
  #again = false;
  #lastHeartbeat = 0;
  #lastWaiterPoll = 0;
  #lastStaleCheck = 0;
  /** Set by `close()`: finish and write what runs, claim nothing new. */
  #closing = false;
  #closed = false;
  #stopReporting: () => void;
  #idle: (() => void)[] = [];

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
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 100;
    this.#processing = options.process ?? true;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
    this.#workerConcurrency = options.workerConcurrency ?? Infinity;
    this.#stopReporting = reportDepth(this);
    if (this.#processing) this.#kick(0);
  }

  /** Registers a kind's handler and looks for its queued jobs right away. */
  override handle<P = unknown, T = unknown>(
    kind: string,
    fn: JobFunction<T, P>,
    options?: HandlerOptions,
  ): this {
    super.handle(kind, fn, options);
    if (this.#processing) this.#kick(0);
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
    const [handle] = await this.submitMany([{ session, lane, work: work as JobSpec, options }]);
    return handle as JobHandle<T>;
  }

  /** Submits many jobs in one transaction. */
  async submitMany(submissions: readonly DurableSubmission[]): Promise<JobHandle[]> {
    this.#open();
    const now = Date.now();
    const prepared = submissions.map((s) => this.#prepare(s, now));
    const ids = await this.#db.transaction().execute(async (tx) => {
      // a dependency that dies while this commits would never cancel a job it cannot see yet
      if (prepared.some((p) => p.deps.length)) await this.#lockDependencyGraph(tx);
      const out: string[] = new Array(prepared.length);
      const plain: number[] = [];
      for (let i = 0; i < prepared.length; i++) {
        const { row, deps } = prepared[i];
        if (row.idempotency_key === null && deps.length === 0) plain.push(i);
        else out[i] = await this.#insert(tx, row, deps);
      }
      for (let i = 0; i < plain.length; i += INSERT_BATCH) {
        const chunk = plain.slice(i, i + INSERT_BATCH);
        const rows = chunk.map((k) => prepared[k].row);
        if (this.store.kind === "postgres") {
          // one JSON parameter instead of 26 per row: compiling and binding thousands of
          // parameters costs more than the insert itself
          await sql`insert into lane_jobs (${sql.join(INSERT_COLUMNS.map((c) => sql.ref(c)))})
            select ${sql.join(INSERT_COLUMNS.map((c) => sql.ref(c)))}
            from json_populate_recordset(null::lane_jobs, ${JSON.stringify(rows)})`.execute(tx);
        } else {
          await tx.insertInto("lane_jobs").values(rows).execute();
        }
        for (const k of chunk) out[k] = prepared[k].row.id;
      }
      return out;
    });
    prepared.forEach(({ row }, i) => {
      if (ids[i] === row.id) this.emit("enqueued", { ...row, lane: row.lane as LaneName });
    });
    if (this.#processing) this.#kick(0);
    return ids.map((id) => new DurableHandle(this, id));
  }

  #prepare(submission: DurableSubmission, now: number): { row: JobRow; deps: string[] } {
    const { session, lane, work } = submission;
    const options = submission.options ?? {};
    if (typeof work === "function") {
      throw new ValidationError(
        "kind: durable jobs are {kind, payload}; register the kind with handle()",
        "kind",
      );
    }
    this.validate(session, lane, work, options);
    this.handlerFor(work.kind);
    const rank = laneRank(lane);
    const retry = this.retryFor(rank, work.kind, options.retry);
    const deps = options.dependsOn ?? [];
    deps.forEach((dep, i) => {
      if (typeof dep !== "string") {
        throw new ValidationError(`dependsOn.${i}: must be a job id`, `dependsOn.${i}`);
      }
    });
    const row: JobRow = {
      id: crypto.randomUUID(),
      session,
      lane,
      lane_rank: rank,
      kind: work.kind,
      payload: toJson(work.payload, "payload"),
      state: "queued",
      priority: options.priority ?? 0,
      limit_key: options.key ?? null,
      idempotency_key: options.idempotencyKey ?? null,
      depends_on: JSON.stringify(deps),
      attempts: 0,
      max_attempts: retry.maxAttempts,
      retry: JSON.stringify(storedRetry(retry)),
      timeout_ms: options.timeoutMs ?? null,
      run_at: now + (options.delayMs ?? 0),
      lease_until: null,
      worker: null,
      cancel_requested: 0,
      result: null,
      progress: null,
      errors: "[]",
      created_at: now,
      started_at: null,
      finished_at: null,
    };
    return { row, deps };
  }

  async #insert(tx: Transaction<LaneTables>, row: JobRow, deps: string[]): Promise<string> {
    if (row.idempotency_key !== null) {
      const existing = await tx.selectFrom("lane_jobs").select("id")
        .where("idempotency_key", "=", row.idempotency_key).executeTakeFirst();
      if (existing) return existing.id;
    }
    if (deps.length) {
      const found = await tx.selectFrom("lane_jobs").select(["id", "state"])
        .where("id", "in", deps).execute();
      const states = new Map(found.map((r) => [r.id, r.state]));
      deps.forEach((dep, i) => {
        const state = states.get(dep);
        if (state === undefined) {
          throw new ValidationError(`dependsOn.${i}: unknown job '${dep}'`, `dependsOn.${i}`);
        }
        if (state === "dead" || state === "cancelled") throw dependencyFailed(dep);
      });
    }
    const inserted = await tx.insertInto("lane_jobs").values(row)
      .onConflict((oc) => oc.column("idempotency_key").doNothing())
      .returning("id").executeTakeFirst();
    if (!inserted) {
      // another process inserted the same idempotency key between our check and insert
      const existing = await tx.selectFrom("lane_jobs").select("id")
        .where("idempotency_key", "=", row.idempotency_key).executeTakeFirstOrThrow();
      return existing.id;
    }
    if (deps.length) {
      await tx.insertInto("lane_job_deps")
        .values([...new Set(deps)].map((dep) => ({ job_id: row.id, dep_id: dep })))
        .execute();
    }
    return row.id;
  }

  /**
   * Serializes dependency checks with the writes that end a job (dead, cancelled) and cancel
   * its dependents. Without it a submission could read its dependency as alive, the dependency
   * could die and cancel the dependents it sees, and then the submission commit a job that
   * waits forever. On SQLite every write transaction is already serialized.
   */
  async #lockDependencyGraph(conn: Conn): Promise<void> {
    if (this.store.kind !== "postgres") return;
    await sql`select pg_advisory_xact_lock(${sql.lit(CLAIM_LOCK)})`.execute(conn);
  }

  // ---- the worker loop --------------------------------------------------------------------

  #kick(ms: number): void {
    if (this.#closed) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    const at = performance.now() + ms;
    if (this.#timer !== undefined) {
      if (at >= this.#timerAt) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#ticking = this.#tick().finally(() => {
        this.#ticking = undefined;
        const again = this.#again;
        this.#again = false;
        for (const wake of this.#idle.splice(0)) wake();
        if (this.#closed) return;
        if (again || this.#finished.length) this.#kick(0);
        else if (this.#processing || this.#waiters.size) this.#kick(this.pollMs);
      });
    }, ms);
  }

  async #tick(): Promise<void> {
    try {
      if (!this.#processing || this.#closed) await this.#flush();
      else await this.#flushProgress();
      const now = Date.now();
      if (this.#processing && !this.#closed) {
        if (now - this.#lastHeartbeat >= this.leaseMs / 3) await this.#heartbeat(now);
        const claimed = await this.#claim();
        if (claimed > 0) this.#again = true;
      }
      // a processing scheduler settles most waiters itself; it polls only for jobs run elsewhere
      const every = Math.max(this.pollMs, this.#processing ? 4 * WAITER_POLL_MS : WAITER_POLL_MS);
      if (this.#waiters.size && now - this.#lastWaiterPoll >= every) {
        this.#lastWaiterPoll = now;
        await this.#pollWaiters();
      }
    } catch (error) {
      if (!this.#closed) {
        console.error(`lane: worker loop error: ${(error as Error)?.stack ?? error}`);
      }
    }
  }

  /**
   * Runs `fn` in a transaction that holds the claim lock from its start: SQLite's write lock,
   * or PostgreSQL's advisory lock, under which running leases are counted against the limits.
   */
  async #claimTransaction<T>(fn: (conn: Conn) => Promise<T>): Promise<T> {
    return await this.#db.connection().execute(async (conn) => {
      // on PostgreSQL the transaction opens with the claim lock held, in one round trip
      const begin = this.store.kind === "sqlite"
        ? "begin immediate"
        : `begin; select pg_advisory_xact_lock(${CLAIM_LOCK})`;
      await sql`${sql.raw(begin)}`.execute(conn);
      try {
        const out = await fn(conn);
        await sql`commit`.execute(conn);
        return out;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    });
  }

  async #claim(): Promise<number> {
    const kinds = [...this.handlers.keys()];
    const limits = this.limits;
    const localRoom = kinds.length && !this.#closing
      ? Math.min(limits.global, this.#workerConcurrency, 256) - this.#running.size
      : 0;
    const batch = this.#finished.length ? this.#takeFinished() : undefined;
    if (localRoom <= 0 && !batch) return 0;
    // an idle worker reads before it takes the write lock, so polling stays cheap
    if (!batch && !(await this.#anythingDue(kinds))) return 0;
    const postgres = this.store.kind === "postgres";
    const after: (() => void)[] = [];
    const rows = await this.#claimTransaction(async (conn) => {
      // finished attempts are written first, so their slots count as free below
      if (batch) await this.#writeFinished(conn, batch);
      if (localRoom <= 0) return [];
      const now = Date.now();
      const counts = await sql<
        { lane_rank: number; session: string; limit_key: string | null; n: number }
      >`
        select lane_rank, session, limit_key, count(*) as n from lane_jobs
        where state = 'running' and lease_until > ${now}
        group by lane_rank, session, limit_key`.execute(conn);
      let total = 0;
      const laneCount = LANE_NAMES.map(() => 0);
      const sessionCount = new Map<string, number>();
      const keyCount = new Map<string, number>();
      for (const row of counts.rows) {
        const n = Number(row.n);
        total += n;
        laneCount[Number(row.lane_rank)] += n;
        sessionCount.set(row.session, (sessionCount.get(row.session) ?? 0) + n);
        if (row.limit_key !== null) {
          keyCount.set(row.limit_key, (keyCount.get(row.limit_key) ?? 0) + n);
        }
      }
      if (total >= limits.global) return [];
      const window = Math.max(16, localRoom * 2);
      const ready = await sql<JobRow>`
        select j.* from lane_jobs j
        where j.state = 'queued' and j.run_at <= ${now}
          and j.kind in (${sql.join(kinds)})
          and not exists (
            select 1 from lane_job_deps d join lane_jobs p on p.id = d.dep_id
            where d.job_id = j.id and p.state <> 'completed')
        order by j.lane_rank, j.priority desc, j.seq
        limit ${window}
        ${sql.raw(postgres ? "for update of j skip locked" : "")}`.execute(conn);
      // leases run for seconds, so looking for expired ones a few times a lease is enough
      const lookForStale = now - this.#lastStaleCheck >= Math.min(1_000, this.leaseMs / 4);
      if (lookForStale) this.#lastStaleCheck = now;
      const stale = lookForStale
        ? (await sql<JobRow>`
        select j.* from lane_jobs j
        where j.state = 'running' and j.lease_until <= ${now}
          and j.kind in (${sql.join(kinds)})
        order by j.lane_rank, j.priority desc, j.seq
        limit ${window}
        ${sql.raw(postgres ? "for update of j skip locked" : "")}`.execute(conn)).rows
        : [];
      const candidates = { rows: mergeByOrder(stale, ready.rows) };
      const accepted: JobRow[] = [];
      const expired: JobRow[] = [];
      const clock = performance.now();
      for (const row of candidates.rows) {
        if (accepted.length >= localRoom || total >= limits.global) break;
        const rank = Number(row.lane_rank);
        if (laneCount[rank] >= limits.lanes[rank]) continue;
        if ((sessionCount.get(row.session) ?? 0) >= limits.session) continue;
        const key = row.limit_key;
        if (key !== null && (keyCount.get(key) ?? 0) >= limits.keyLimit(key)) continue;
        if (
          row.state === "running" &&
          Number(row.attempts) >= Number(row.max_attempts) + MAX_RECOVERIES
        ) {
          expired.push(row);
          continue;
        }
        const bucket = this.buckets[rank];
        if (bucket && !bucket.tryTake(clock)) continue;
        accepted.push(row);
        total++;
        laneCount[rank]++;
        sessionCount.set(row.session, (sessionCount.get(row.session) ?? 0) + 1);
        if (key !== null) keyCount.set(key, (keyCount.get(key) ?? 0) + 1);
      }
      for (const row of [...accepted, ...expired]) {
        if (row.state !== "running") continue;
        const errors = parseJson(row.errors) as JobError[];
        errors.push({
          attempt: Number(row.attempts),
          code: "lease_expired",
          message: `lease of worker ${row.worker} expired before the job finished`,
          at: now,
        });
        row.errors = JSON.stringify(errors);
        await conn.updateTable("lane_jobs").set({ errors: row.errors }).where("id", "=", row.id)
          .execute();
      }
      for (const row of expired) {
        await conn.updateTable("lane_jobs")
          .set({ state: "dead", finished_at: now, lease_until: null, worker: null })
          .where("id", "=", row.id).execute();
        await this.#cancelDependents(conn, row.id, now, after);
      }
      for (let i = 0; i < accepted.length; i += WRITE_BATCH) {
        const ids = accepted.slice(i, i + WRITE_BATCH).map((row) => row.id);
        await conn.updateTable("lane_jobs")
          .set((eb) => ({
            state: "running",
            attempts: eb("attempts", "+", 1),
            lease_until: now + this.leaseMs,
            worker: this.workerId,
            started_at: eb.fn.coalesce("started_at", sql.lit(now)),
            cancel_requested: 0,
          }))
          .where("id", "in", ids).execute();
      }
      for (const row of expired) {
        after.push(() => {
          recordOutcome(Number(row.lane_rank), "dead_lettered");
          this.emit("dead_lettered", {
            id: row.id,
            session: row.session,
            lane: row.lane as LaneName,
            kind: row.kind,
            attempts: Number(row.attempts),
          }, { error: "lease expired too many times" });
          this.#settle(row.id, false, storedError(parseJson(row.errors) as JobError[]));
        });
      }
      return accepted;
    }).catch((error) => {
      // nothing was written: keep the outcomes for the next attempt at writing them
      if (batch) this.#finished.unshift(...batch.finished);
      throw error;
    });
    if (batch) this.#afterFinished(batch);
    for (const run of after) run();
    for (const row of rows) this.#start(row);
    return rows.length;
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
    const handler = this.handlers.get(row.kind)!;
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
      errors: parseJson(row.errors) as JobError[],
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
    attempt.run(handler.fn, timeout, this);
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
    this.#kick(0);
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
    if (!this.#finished.length) return;
    const batch = this.#takeFinished();
    await this.#claimTransaction((conn) => this.#writeFinished(conn, batch)).catch((error) => {
      this.#finished.unshift(...batch.finished);
      throw error;
    });
    this.#afterFinished(batch);
  }

  #takeFinished(): FinishedBatch {
    const finished = this.#finished;
    this.#finished = [];
    return { finished, settled: [], after: [], now: Date.now() };
  }

  /** Writes a batch of finished attempts: completions in a few statements, failures one by one. */
  async #writeFinished(conn: Conn, batch: FinishedBatch): Promise<void> {
    const { finished, settled, after, now } = batch;
    const completed = finished.filter((f) => f.ok);
    const failed = finished.filter((f) => !f.ok);
    for (let i = 0; i < completed.length; i += WRITE_BATCH) {
      const chunk = completed.slice(i, i + WRITE_BATCH);
      const results = chunk.map((f) => {
        try {
          return JSON.stringify(f.value ?? null) ?? "null";
        } catch {
          return "null";
        }
      });
      const ids = chunk.map((f) => f.job.id);
      const allNull = results.every((r) => r === "null");
      const result = allNull
        ? sql<string>`'null'`
        : sql<string>`case id ${
          sql.join(chunk.map((f, k) => sql`when ${f.job.id} then ${results[k]}`), sql` `)
        } end`;
      const updated = await conn.updateTable("lane_jobs")
        .set({ state: "completed", result, finished_at: now, lease_until: null })
        .where("id", "in", ids).where("worker", "=", this.workerId)
        .where("state", "=", "running")
        .returning("id").execute();
      const owned = new Set(updated.map((r) => r.id));
      for (const f of chunk) {
        if (owned.has(f.job.id)) settled.push({ job: f.job, ok: true, value: f.value });
      }
    }
    for (const f of failed) {
      const outcome = await this.#writeFailure(conn, f, now, after);
      if (outcome) settled.push(outcome);
    }
  }

  /** Once a batch is committed: metrics, events and the waiting handles. */
  #afterFinished(batch: FinishedBatch): void {
    for (const run of batch.after) run();
    const clock = performance.now();
    for (const f of batch.finished) recordRun(f.job.rank, clock - f.job.startedAt);
    for (const s of batch.settled) {
      if (s.ok) {
        recordOutcome(s.job.rank, "completed");
        this.emit("completed", s.job);
      }
      this.#settle(s.job.id, s.ok, s.value);
    }
  }

  async #writeFailure(
    tx: Conn,
    f: Finished,
    now: number,
    after: (() => void)[],
  ): Promise<Settled | undefined> {
    const { job, value } = f;
    const { code, message } = describeError(value);
    const errors = [...job.errors, { attempt: job.attempts, code, message, at: now }];
    const base = tx.updateTable("lane_jobs").where("id", "=", job.id)
      .where("worker", "=", this.workerId).where("state", "=", "running");
    // a job that ends without a result takes its waiting dependents with it
    const end = async (outcome: "cancelled" | "dead_lettered"): Promise<Settled | undefined> => {
      const done = await base.set({
        state: outcome === "cancelled" ? "cancelled" : "dead",
        errors: JSON.stringify(errors),
        finished_at: now,
        lease_until: null,
      }).returning("id").executeTakeFirst();
      if (!done) return undefined;
      await this.#cancelDependents(tx, job.id, now, after);
      after.push(() => {
        recordOutcome(job.rank, outcome);
        this.emit(outcome, job, { error: message });
      });
      return { job, ok: false, value };
    };
    if (job.cancelRequested || value instanceof JobCancelledError) return await end("cancelled");
    if (value instanceof A3sError && value.code === "lane_closed") {
      // handed back at shutdown: the attempt does not count
      await base.set({
        state: "queued",
        attempts: job.attempts - 1,
        lease_until: null,
        worker: null,
      })
        .execute();
      return undefined;
    }
    after.push(() => {
      recordOutcome(job.rank, "failed");
      this.emit("failed", job, { error: message });
    });
    if (shouldRetry(job.retry, value, job.attempts)) {
      const runAt = now + retryDelay(job.retry, job.attempts);
      const done = await base.set({
        state: "queued",
        errors: JSON.stringify(errors),
        run_at: runAt,
        lease_until: null,
        worker: null,
      }).returning("id").executeTakeFirst();
      if (done) {
        after.push(() => {
          recordOutcome(job.rank, "retried");
          this.emit("retried", job, { retryAt: runAt });
          this.#kick(Math.max(0, runAt - Date.now()));
        });
      }
      return undefined;
    }
    return await end("dead_lettered");
  }

  /** Cancels every queued job that waits, directly or not, on `id`. */
  async #cancelDependents(
    conn: Conn,
    id: string,
    now: number,
    after: (() => void)[],
  ): Promise<void> {
    let frontier = [id];
    while (frontier.length) {
      const rows = await conn.selectFrom("lane_job_deps as d")
        .innerJoin("lane_jobs as j", "j.id", "d.job_id")
        .select(["j.id", "j.errors", "j.session", "j.lane", "j.kind", "j.attempts", "d.dep_id"])
        .where("d.dep_id", "in", frontier).where("j.state", "=", "queued").execute();
      frontier = [];
      for (const row of rows) {
        const reason = dependencyFailed(row.dep_id);
        const errors = [...(parseJson(row.errors) as JobError[]), {
          attempt: Number(row.attempts),
          code: reason.code,
          message: reason.message,
          at: now,
        }];
        await conn.updateTable("lane_jobs")
          .set({ state: "cancelled", errors: JSON.stringify(errors), finished_at: now })
          .where("id", "=", row.id).where("state", "=", "queued").execute();
        frontier.push(row.id);
        after.push(() => {
          this.emit("cancelled", {
            id: row.id,
            session: row.session,
            lane: row.lane as LaneName,
            kind: row.kind,
            attempts: Number(row.attempts),
          }, { error: reason.message });
          this.#settle(row.id, false, reason);
        });
      }
    }
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

  /** The result promise of job `id`; settles when it finishes here or anywhere else. */
  waitFor(id: string): Promise<unknown> {
    let waiter = this.#waiters.get(id);
    if (!waiter) {
      let resolve!: (value: unknown) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      waiter = { promise, resolve, reject };
      this.#waiters.set(id, waiter);
      if (!this.#processing) this.#kick(0);
    }
    return waiter.promise;
  }

  #settle(id: string, ok: boolean, value: unknown): void {
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    if (ok) waiter.resolve(value);
    else waiter.reject(value);
  }

  async #pollWaiters(): Promise<void> {
    const ids = [...this.#waiters.keys()].filter((id) => !this.#running.has(id));
    for (let i = 0; i < ids.length; i += WRITE_BATCH) {
      const rows = await this.#db.selectFrom("lane_jobs")
        .select(["id", "state", "result", "errors"])
        .where("id", "in", ids.slice(i, i + WRITE_BATCH))
        .where("state", "in", ["completed", "dead", "cancelled"]).execute();
      for (const row of rows) {
        if (row.state === "completed") this.#settle(row.id, true, parseJson(row.result));
        else this.#settle(row.id, false, storedError(parseJson(row.errors) as JobError[]));
      }
    }
  }

  // ---- inspection and management ----------------------------------------------------------

  /** One job from the store, or undefined. */
  async get(id: string): Promise<JobInfo | undefined> {
    const row = await this.#db.selectFrom("lane_jobs").selectAll().where("id", "=", id)
      .executeTakeFirst();
    return row ? rowToInfo(row) : undefined;
  }

  /** The handle of a stored job. */
  handleOf(id: string): JobHandle {
    return new DurableHandle(this, id);
  }

  /** Jobs from the store matching `filter`, oldest first. */
  async list(filter: JobFilter = {}): Promise<JobInfo[]> {
    let query = this.#db.selectFrom("lane_jobs").selectAll();
    if (filter.session !== undefined) query = query.where("session", "=", filter.session);
    if (filter.lane !== undefined) query = query.where("lane", "=", filter.lane);
    if (filter.state !== undefined) query = query.where("state", "=", filter.state);
    const rows = await query.orderBy("seq").limit(filter.limit ?? 100).execute();
    return rows.map(rowToInfo);
  }

  /** Cancels a job: a queued one at once, a running one through its worker's next heartbeat. */
  async cancel(id: string): Promise<boolean> {
    this.#open();
    if (this.#abortLocal(id)) return true;
    const now = Date.now();
    const after: (() => void)[] = [];
    const outcome = await this.#db.transaction().execute(async (tx) => {
      await this.#lockDependencyGraph(tx);
      const row = await tx.selectFrom("lane_jobs").selectAll().where("id", "=", id)
        .executeTakeFirst();
      if (!row) throw new NotFoundError(`job '${id}' not found`, "id");
      if (row.state === "queued") {
        const reason = new JobCancelledError();
        const errors = [...(parseJson(row.errors) as JobError[]), {
          attempt: Number(row.attempts),
          code: reason.code,
          message: reason.message,
          at: now,
        }];
        await tx.updateTable("lane_jobs")
          .set({ state: "cancelled", errors: JSON.stringify(errors), finished_at: now })
          .where("id", "=", id).execute();
        await this.#cancelDependents(tx, id, now, after);
        return { row, cancelled: true as const, reason };
      }
      if (row.state === "running") {
        await tx.updateTable("lane_jobs").set({ cancel_requested: 1 }).where("id", "=", id)
          .execute();
        return { row, cancelled: "requested" as const };
      }
      return { row, cancelled: false as const };
    });
    if (outcome.cancelled === true) {
      const row = outcome.row;
      recordOutcome(Number(row.lane_rank), "cancelled");
      this.emit("cancelled", {
        id,
        session: row.session,
        lane: row.lane as LaneName,
        kind: row.kind,
        attempts: Number(row.attempts),
      });
      this.#settle(id, false, outcome.reason);
    }
    for (const run of after) run();
    return outcome.cancelled !== false;
  }

  /** Requeues a dead job with a fresh attempt count, keeping its error history. */
  protected async retryDead(id: string): Promise<JobInfo> {
    this.#open();
    const updated = await this.#db.updateTable("lane_jobs")
      .set({
        state: "queued",
        attempts: 0,
        run_at: Date.now(),
        finished_at: null,
        lease_until: null,
        worker: null,
        cancel_requested: 0,
      })
      .where("id", "=", id).where("state", "=", "dead").returningAll().executeTakeFirst();
    if (!updated) throw new NotFoundError(`no dead job '${id}'`, "id");
    const info = rowToInfo(updated);
    this.emit("enqueued", { ...info, attempts: 0 });
    if (this.#processing) this.#kick(0);
    return info;
  }

  /** Deletes dead jobs and their dependency edges. */
  protected async purgeDead(
    filter: { id?: string; session?: string; lane?: LaneName },
  ): Promise<number> {
    return await this.#db.transaction().execute(async (tx) => {
      let query = tx.selectFrom("lane_jobs").select("id").where("state", "=", "dead");
      if (filter.id !== undefined) query = query.where("id", "=", filter.id);
      if (filter.session !== undefined) query = query.where("session", "=", filter.session);
      if (filter.lane !== undefined) query = query.where("lane", "=", filter.lane);
      const ids = (await query.execute()).map((r) => r.id);
      for (let i = 0; i < ids.length; i += WRITE_BATCH) {
        const chunk = ids.slice(i, i + WRITE_BATCH);
        await tx.deleteFrom("lane_job_deps").where("job_id", "in", chunk).execute();
        await tx.deleteFrom("lane_jobs").where("id", "in", chunk).execute();
      }
      return ids.length;
    });
  }

  /** Queued and running counts per lane, across every process on the store. */
  async depthByLane(): Promise<Record<LaneName, { queued: number; running: number }>> {
    const out = {} as Record<LaneName, { queued: number; running: number }>;
    for (const lane of LANE_NAMES) out[lane] = { queued: 0, running: 0 };
    const rows = await this.#db.selectFrom("lane_jobs")
      .select((eb) => ["lane", "state", eb.fn.countAll<number>().as("n")])
      .where("state", "in", ["queued", "running"]).groupBy(["lane", "state"]).execute();
    for (const row of rows) {
      const lane = out[row.lane as LaneName];
      if (lane) lane[row.state as "queued" | "running"] = Number(row.n);
    }
    return out;
  }

  /** Counts per lane and state from the store. */
  async stats(): Promise<LaneStats> {
    flushMetrics();
    const lanes = {} as Record<LaneName, LaneCounts>;
    for (const lane of LANE_NAMES) {
      lanes[lane] = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as LaneCounts;
    }
    const rows = await this.#db.selectFrom("lane_jobs")
      .select((eb) => ["lane", "state", eb.fn.countAll<number>().as("n")])
      .groupBy(["lane", "state"]).execute();
    for (const row of rows) {
      const lane = lanes[row.lane as LaneName];
      if (lane && row.state in lane) lane[row.state as keyof LaneCounts] = Number(row.n);
    }
    return { lanes, highWater: this.highWater() };
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
    if (this.#closed) throw new A3sError("lane_closed", "the scheduler is closed", { status: 503 });
  }

  /** Lets running attempts finish (up to `closeTimeoutMs`), hands the rest back to the queue, and writes what finished. */
  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    // a claim in flight starts its jobs before this waits on them
    if (this.#ticking) await new Promise<void>((resolve) => this.#idle.push(resolve));
    const deadline = Date.now() + this.#closeTimeoutMs;
    while (this.#running.size && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const closing = new A3sError("lane_closed", "the scheduler closed during the attempt", {
      status: 503,
    });
    for (const job of [...this.#running.values()]) job.attempt?.abort(closing);
    if (this.#ticking) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.#flush().catch(() => {});
    this.#stopReporting();
    for (const [id, waiter] of this.#waiters) {
      waiter.reject(
        new A3sError("lane_closed", `the scheduler closed while waiting for ${id}`, {
          status: 503,
        }),
      );
    }
    this.#waiters.clear();
  }
}
