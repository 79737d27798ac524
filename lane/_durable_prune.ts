/**
 * Pruning finished jobs from the store by the retention policy: in each lane, the jobs past
 * their age and those beyond the count (the oldest first), deleted in batches with their
 * dependency edges. The scheduler runs it every so many finished jobs or seconds, never per job.
 *
 * No job younger than a minimum age goes, whatever the count says: a process waiting for a job
 * that another process ran learns its outcome only by reading the row, so the row has to
 * outlive every process's waiter poll.
 */
import type { Kysely } from "kysely";
import { LANE_NAMES } from "./lanes.ts";
import { type KeepJobs, keepsAll, type Retention } from "./retention.ts";
import type { LaneTables } from "./_schema.ts";

/** Rows deleted per statement, so one prune never holds the write lock for long. */
const PRUNE_BATCH = 500;

/** The states each retention class covers. */
const COMPLETED_STATES = ["completed", "cancelled"];
const DEAD_STATES = ["dead"];

/**
 * Deletes the finished jobs `retention` no longer keeps at `now`, sparing every job that
 * finished less than `minAgeMs` ago; returns how many it deleted.
 */
export async function pruneFinished(
  db: Kysely<LaneTables>,
  retention: Retention,
  now: number,
  minAgeMs: number,
): Promise<number> {
  let removed = 0;
  const spareAfter = now - minAgeMs;
  for (let rank = 0; rank < LANE_NAMES.length; rank++) {
    removed += await pruneLane(db, rank, COMPLETED_STATES, retention.completed, now, spareAfter);
    removed += await pruneLane(db, rank, DEAD_STATES, retention.dead, now, spareAfter);
  }
  return removed;
}

async function pruneLane(
  db: Kysely<LaneTables>,
  rank: number,
  states: string[],
  keep: KeepJobs,
  now: number,
  spareAfter: number,
): Promise<number> {
  if (keepsAll(keep)) return 0;
  const cutoff = keep.maxAgeMs === undefined ? undefined : now - keep.maxAgeMs;
  // the newest job beyond the count: it and every job that finished before it go
  const edge = keep.maxCount === undefined ? undefined : await db.selectFrom("lane_jobs")
    .select(["finished_at", "seq"])
    .where("lane_rank", "=", rank).where("state", "in", states)
    .orderBy("finished_at", "desc").orderBy("seq", "desc")
    .limit(1).offset(keep.maxCount).executeTakeFirst();
  if (cutoff === undefined && edge === undefined) return 0;
  let removed = 0;
  for (;;) {
    const deleted = await db.transaction().execute(async (tx) => {
      // the delete comes first, so on SQLite the transaction takes the write lock at once
      const rows = await tx.deleteFrom("lane_jobs")
        .where("seq", "in", (eb) =>
          eb.selectFrom("lane_jobs").select("seq")
            .where("lane_rank", "=", rank).where("state", "in", states)
            .where("finished_at", "<=", spareAfter)
            .where((w) => {
              const doomed = [];
              if (cutoff !== undefined) doomed.push(w("finished_at", "<=", cutoff));
              if (edge?.finished_at != null) {
                doomed.push(w("finished_at", "<", edge.finished_at));
                doomed.push(w.and([
                  w("finished_at", "=", edge.finished_at),
                  w("seq", "<=", edge.seq!),
                ]));
              }
              return w.or(doomed);
            })
            .orderBy("finished_at").limit(PRUNE_BATCH))
        // a dead job requeued meanwhile is no longer finished: the state is checked again
        .where("state", "in", states)
        .returning("id").execute();
      const ids = rows.map((r) => r.id);
      if (ids.length) {
        await tx.deleteFrom("lane_job_deps")
          .where((w) => w.or([w("job_id", "in", ids), w("dep_id", "in", ids)])).execute();
      }
      return ids.length;
    });
    removed += deleted;
    if (deleted < PRUNE_BATCH) return removed;
  }
}
