/**
 * Writing finished attempts back: completions in a few statements, each failure by the one
 * retry-or-dead-letter decision. Only rows this worker still leases are written, so an attempt
 * whose lease another worker took over changes nothing.
 */
import { sql } from "kysely";
import { decideFailure } from "./failure.ts";
import { appendError } from "./error_history.ts";
import { toJsonOrNull } from "./_rows.ts";
import { cancelDependents, type CancelledDependent } from "./_durable_cascade.ts";
import { WRITE_BATCH } from "./_durable_claim.ts";
import type { Conn } from "./_durable_tx.ts";
import type { FinishedAttempt, RunningJob } from "./_running_job.ts";

/** What writing a batch did, in the order its events are sent once it commits. */
export type WriteEffect =
  | { type: "failed"; job: RunningJob; message: string }
  | { type: "retried"; job: RunningJob; runAt: number }
  | { type: "ended"; job: RunningJob; outcome: "cancelled" | "dead_lettered"; message: string }
  | { type: "dependent_cancelled"; dependent: CancelledDependent };

/** The outcome of writing a batch. */
export interface WriteBack {
  /** Attempts whose jobs finished for good (completed, cancelled or dead), for their waiters. */
  settled: FinishedAttempt[];
  effects: WriteEffect[];
}

/** Writes `finished` in `conn` for worker `workerId`. */
export async function writeFinished(
  conn: Conn,
  finished: readonly FinishedAttempt[],
  workerId: string,
  now: number,
): Promise<WriteBack> {
  const out: WriteBack = { settled: [], effects: [] };
  const completed = finished.filter((f) => f.ok);
  for (let i = 0; i < completed.length; i += WRITE_BATCH) {
    const chunk = completed.slice(i, i + WRITE_BATCH);
    const owned = await writeCompleted(conn, chunk, workerId, now);
    for (const f of chunk) if (owned.has(f.job.id)) out.settled.push(f);
  }
  for (const f of finished) if (!f.ok) await writeFailed(conn, f, workerId, now, out);
  return out;
}

async function writeCompleted(
  conn: Conn,
  chunk: readonly FinishedAttempt[],
  workerId: string,
  now: number,
): Promise<Set<string>> {
  const results = chunk.map((f) => toJsonOrNull(f.value));
  const result = results.every((r) => r === "null")
    ? sql<string>`'null'`
    : sql<string>`case id ${
      sql.join(chunk.map((f, k) => sql`when ${f.job.id} then ${results[k]}`), sql` `)
    } end`;
  const updated = await conn.updateTable("lane_jobs")
    .set({ state: "completed", result, finished_at: now, lease_until: null })
    .where("id", "in", chunk.map((f) => f.job.id)).where("worker", "=", workerId)
    .where("state", "=", "running")
    .returning("id").execute();
  return new Set(updated.map((r) => r.id));
}

async function writeFailed(
  conn: Conn,
  finished: FinishedAttempt,
  workerId: string,
  now: number,
  out: WriteBack,
): Promise<void> {
  const { job, value } = finished;
  const errors = appendError(job.errors, job.attempts, value, now);
  const message = errors[errors.length - 1].message;
  const leased = conn.updateTable("lane_jobs").where("id", "=", job.id)
    .where("worker", "=", workerId).where("state", "=", "running");
  const decision = decideFailure({
    error: value,
    cancelRequested: job.cancelRequested,
    retry: job.retry,
    attempt: job.attempts,
    now,
  });
  if (decision.action === "hand_back") {
    // handed back at shutdown: the attempt does not count
    await leased.set({
      state: "queued",
      attempts: job.attempts - 1,
      lease_until: null,
      worker: null,
    })
      .execute();
    return;
  }
  if (decision.action === "retry") {
    out.effects.push({ type: "failed", job, message });
    const done = await leased.set({
      state: "queued",
      errors: JSON.stringify(errors),
      run_at: decision.runAt,
      lease_until: null,
      worker: null,
    }).returning("id").executeTakeFirst();
    if (done) out.effects.push({ type: "retried", job, runAt: decision.runAt });
    return;
  }
  if (decision.action === "dead_letter") out.effects.push({ type: "failed", job, message });
  const outcome = decision.action === "cancel" ? "cancelled" : "dead_lettered";
  // a job that ends without a result takes its waiting dependents with it
  const done = await leased.set({
    state: outcome === "cancelled" ? "cancelled" : "dead",
    errors: JSON.stringify(errors),
    finished_at: now,
    lease_until: null,
  }).returning("id").executeTakeFirst();
  if (!done) return;
  for (const dependent of await cancelDependents(conn, job.id, now)) {
    out.effects.push({ type: "dependent_cancelled", dependent });
  }
  out.effects.push({ type: "ended", job, outcome, message });
  out.settled.push(finished);
}
