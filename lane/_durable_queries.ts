/**
 * The durable scheduler's reads and its management writes on the store: inspection, counts,
 * cancelling a queued job, requeueing and purging dead ones. The worker loop's writes live in
 * `_durable_claim` and `_durable_finish`.
 */
import type { Kysely, Transaction } from "kysely";
import { NotFoundError } from "@a3s/common";
import { LANE_NAMES, type LaneName } from "./lanes.ts";
import { JobCancelledError } from "./errors.ts";
import { appendError } from "./error_history.ts";
import { errorsOf, rowToInfo } from "./_rows.ts";
import { cancelDependents, type CancelledDependent } from "./_durable_cascade.ts";
import { WRITE_BATCH } from "./_durable_claim.ts";
import type { JobRow, LaneTables } from "./_schema.ts";
import { JOB_STATES, type JobFilter, type JobInfo, type LaneCounts } from "./types.ts";

type Db = Kysely<LaneTables>;

/** The jobs per lane that are queued and running. */
export type LaneDepth = Record<LaneName, { queued: number; running: number }>;

/** One job, or undefined. */
export async function getJob(db: Db, id: string): Promise<JobInfo | undefined> {
  const row = await db.selectFrom("lane_jobs").selectAll().where("id", "=", id)
    .executeTakeFirst();
  return row ? rowToInfo(row) : undefined;
}

/** Jobs matching `filter`, oldest first (at most `filter.limit`, default 100). */
export async function listJobs(db: Db, filter: JobFilter): Promise<JobInfo[]> {
  let query = db.selectFrom("lane_jobs").selectAll();
  if (filter.session !== undefined) query = query.where("session", "=", filter.session);
  if (filter.lane !== undefined) query = query.where("lane", "=", filter.lane);
  if (filter.state !== undefined) query = query.where("state", "=", filter.state);
  const rows = await query.orderBy("seq").limit(filter.limit ?? 100).execute();
  return rows.map(rowToInfo);
}

/** What asking to cancel a stored job did. */
export type CancelOutcome =
  /** It was queued and is cancelled now, with the dependents that went with it. */
  | {
    cancelled: true;
    row: JobRow;
    reason: JobCancelledError;
    dependents: CancelledDependent[];
  }
  /** It runs: its worker aborts it at its next heartbeat. */
  | { cancelled: "requested"; row: JobRow }
  /** It had already finished. */
  | { cancelled: false; row: JobRow };

/** Cancels job `id` in `tx`, which must hold the dependency-graph lock. */
export async function cancelStoredJob(
  tx: Transaction<LaneTables>,
  id: string,
  now: number,
): Promise<CancelOutcome> {
  const row = await tx.selectFrom("lane_jobs").selectAll().where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`job '${id}' not found`, "id");
  if (row.state === "queued") {
    const reason = new JobCancelledError();
    const errors = appendError(errorsOf(row), Number(row.attempts), reason, now);
    await tx.updateTable("lane_jobs")
      .set({ state: "cancelled", errors: JSON.stringify(errors), finished_at: now })
      .where("id", "=", id).execute();
    return { cancelled: true, row, reason, dependents: await cancelDependents(tx, id, now) };
  }
  if (row.state === "running") {
    await tx.updateTable("lane_jobs").set({ cancel_requested: 1 }).where("id", "=", id).execute();
    return { cancelled: "requested", row };
  }
  return { cancelled: false, row };
}

/** Requeues dead job `id` with a fresh attempt count, keeping its error history. */
export async function requeueDead(db: Db, id: string, now: number): Promise<JobInfo> {
  const updated = await db.updateTable("lane_jobs")
    .set({
      state: "queued",
      attempts: 0,
      run_at: now,
      finished_at: null,
      lease_until: null,
      worker: null,
      cancel_requested: 0,
    })
    .where("id", "=", id).where("state", "=", "dead").returningAll().executeTakeFirst();
  if (!updated) throw new NotFoundError(`no dead job '${id}'`, "id");
  return rowToInfo(updated);
}

/** Deletes the dead jobs that match, and their dependency edges; returns how many. */
export async function purgeDeadJobs(
  db: Db,
  filter: { id?: string; session?: string; lane?: LaneName },
): Promise<number> {
  return await db.transaction().execute(async (tx) => {
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
export async function laneDepth(db: Db): Promise<LaneDepth> {
  const out = {} as LaneDepth;
  for (const lane of LANE_NAMES) out[lane] = { queued: 0, running: 0 };
  const rows = await db.selectFrom("lane_jobs")
    .select((eb) => ["lane", "state", eb.fn.countAll<number>().as("n")])
    .where("state", "in", ["queued", "running"]).groupBy(["lane", "state"]).execute();
  for (const row of rows) {
    const lane = out[row.lane as LaneName];
    if (lane) lane[row.state as "queued" | "running"] = Number(row.n);
  }
  return out;
}

/** Job counts per lane and state. */
export async function countsByLane(db: Db): Promise<Record<LaneName, LaneCounts>> {
  const lanes = {} as Record<LaneName, LaneCounts>;
  for (const lane of LANE_NAMES) {
    lanes[lane] = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as LaneCounts;
  }
  const rows = await db.selectFrom("lane_jobs")
    .select((eb) => ["lane", "state", eb.fn.countAll<number>().as("n")])
    .groupBy(["lane", "state"]).execute();
  for (const row of rows) {
    const lane = lanes[row.lane as LaneName];
    if (lane && row.state in lane) lane[row.state as keyof LaneCounts] = Number(row.n);
  }
  return lanes;
}
