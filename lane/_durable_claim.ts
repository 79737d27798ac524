/**
 * Claiming due jobs inside the claim transaction: count the running leases of every process,
 * read the due and the expired jobs in claim order, take those the limits allow, and lease
 * them to this worker. A job whose lease ran out too often goes to the dead-letter queue.
 */
import { sql } from "kysely";
import type { StoreKind } from "@a3s/common";
import { type ConcurrencyLimits, countRunning, emptyCounts, type RunningCounts } from "./limits.ts";
import type { TokenBucket } from "./rate_limit.ts";
import { LeaseExpiredError } from "./errors.ts";
import { appendError } from "./error_history.ts";
import { errorsOf, mergeInClaimOrder } from "./_rows.ts";
import { cancelDependents, type CancelledDependent } from "./_durable_cascade.ts";
import type { Conn } from "./_durable_tx.ts";
import type { JobRow } from "./_schema.ts";

/** Times a lease may run out on a job before it goes to the dead-letter queue. */
const MAX_RECOVERIES = 3;
/** Rows per `where id in (...)` update. */
export const WRITE_BATCH = 400;
/** The fewest candidates read per claim, so jobs skipped for their limits leave others. */
const MIN_CLAIM_WINDOW = 16;

/** What one claim may take, and under which limits. */
export interface ClaimRequest {
  /** The kinds this process has handlers for. */
  kinds: string[];
  /** How many more jobs this process may start now. */
  room: number;
  limits: ConcurrencyLimits;
  /** Token buckets per lane, by rank. */
  buckets: readonly (TokenBucket | undefined)[];
  /** Also take running jobs whose lease ran out. */
  includeExpired: boolean;
  workerId: string;
  leaseMs: number;
  kind: StoreKind;
  now: number;
}

/** What a claim took: jobs to start here, jobs it dead-lettered, dependents those took along. */
export interface ClaimResult {
  accepted: JobRow[];
  dead: JobRow[];
  cancelled: CancelledDependent[];
}

/** Claims jobs for this worker in `conn`, which must hold the claim lock. */
export async function claimJobs(conn: Conn, request: ClaimRequest): Promise<ClaimResult> {
  const { limits, now } = request;
  const counts = await runningLeases(conn, now);
  if (counts.running >= limits.global) return { accepted: [], dead: [], cancelled: [] };
  const window = Math.max(MIN_CLAIM_WINDOW, request.room * 2);
  const due = await dueJobs(conn, request, window);
  const expired = request.includeExpired ? await expiredJobs(conn, request, window) : [];
  const { accepted, dead } = pickClaims(mergeInClaimOrder(expired, due), counts, request);
  for (const row of [...accepted, ...dead]) {
    if (row.state !== "running") continue;
    const errors = appendError(
      errorsOf(row),
      Number(row.attempts),
      new LeaseExpiredError(row.worker),
      now,
    );
    row.errors = JSON.stringify(errors);
    await conn.updateTable("lane_jobs").set({ errors: row.errors }).where("id", "=", row.id)
      .execute();
  }
  const cancelled: CancelledDependent[] = [];
  for (const row of dead) {
    await conn.updateTable("lane_jobs")
      .set({ state: "dead", finished_at: now, lease_until: null, worker: null })
      .where("id", "=", row.id).execute();
    cancelled.push(...await cancelDependents(conn, row.id, now));
  }
  for (let i = 0; i < accepted.length; i += WRITE_BATCH) {
    const ids = accepted.slice(i, i + WRITE_BATCH).map((row) => row.id);
    await conn.updateTable("lane_jobs")
      .set((eb) => ({
        state: "running",
        attempts: eb("attempts", "+", 1),
        lease_until: now + request.leaseMs,
        worker: request.workerId,
        started_at: eb.fn.coalesce("started_at", sql.lit(now)),
        cancel_requested: 0,
      }))
      .where("id", "in", ids).execute();
  }
  return { accepted, dead, cancelled };
}

/** The running jobs of every process whose lease still holds, counted by lane, session and key. */
async function runningLeases(conn: Conn, now: number): Promise<RunningCounts> {
  const rows = await sql<
    { lane_rank: number; session: string; limit_key: string | null; n: number }
  >`
    select lane_rank, session, limit_key, count(*) as n from lane_jobs
    where state = 'running' and lease_until > ${now}
    group by lane_rank, session, limit_key`.execute(conn);
  const counts = emptyCounts();
  for (const row of rows.rows) {
    countRunning(counts, Number(row.lane_rank), row.session, row.limit_key, Number(row.n));
  }
  return counts;
}

/** Queued jobs that are due, whose dependencies all completed, in claim order. */
async function dueJobs(conn: Conn, request: ClaimRequest, window: number): Promise<JobRow[]> {
  const ready = await sql<JobRow>`
    select j.* from lane_jobs j
    where j.state = 'queued' and j.run_at <= ${request.now}
      and j.kind in (${sql.join(request.kinds)})
      and not exists (
        select 1 from lane_job_deps d join lane_jobs p on p.id = d.dep_id
        where d.job_id = j.id and p.state <> 'completed')
    order by j.lane_rank, j.priority desc, j.seq
    limit ${window}
    ${skipLocked(request.kind)}`.execute(conn);
  return ready.rows;
}

/** Running jobs whose lease ran out, in claim order. */
async function expiredJobs(conn: Conn, request: ClaimRequest, window: number): Promise<JobRow[]> {
  const stale = await sql<JobRow>`
    select j.* from lane_jobs j
    where j.state = 'running' and j.lease_until <= ${request.now}
      and j.kind in (${sql.join(request.kinds)})
    order by j.lane_rank, j.priority desc, j.seq
    limit ${window}
    ${skipLocked(request.kind)}`.execute(conn);
  return stale.rows;
}

function skipLocked(kind: StoreKind) {
  return sql.raw(kind === "postgres" ? "for update of j skip locked" : "");
}

/**
 * Walks the candidates in claim order and takes each one the limits and the lane's rate allow,
 * counting it as running; an expired job out of recoveries is set aside for the dead-letter
 * queue instead.
 */
function pickClaims(
  candidates: JobRow[],
  counts: RunningCounts,
  request: ClaimRequest,
): { accepted: JobRow[]; dead: JobRow[] } {
  const { limits, buckets, room } = request;
  const accepted: JobRow[] = [];
  const dead: JobRow[] = [];
  const clock = performance.now();
  for (const row of candidates) {
    if (accepted.length >= room) break;
    const rank = Number(row.lane_rank);
    const blocker = limits.blockerIn(counts, rank, row.session, row.limit_key);
    if (blocker === "global") break;
    if (blocker !== null) continue;
    if (
      row.state === "running" && Number(row.attempts) >= Number(row.max_attempts) + MAX_RECOVERIES
    ) {
      dead.push(row);
      continue;
    }
    const bucket = buckets[rank];
    if (bucket && !bucket.tryTake(clock)) continue;
    accepted.push(row);
    countRunning(counts, rank, row.session, row.limit_key);
  }
  return { accepted, dead };
}
