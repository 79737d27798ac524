/** A job that ends without a result takes every queued job waiting on it, directly or not. */
import { DependencyFailedError } from "./errors.ts";
import { appendError } from "./error_history.ts";
import { errorsOf, rowSubject } from "./_rows.ts";
import type { Conn } from "./_durable_tx.ts";

/** A dependent the cascade cancelled, for the events and waiters after the commit. */
export interface CancelledDependent {
  subject: ReturnType<typeof rowSubject>;
  reason: DependencyFailedError;
}

/** Cancels every queued job that waits, directly or not, on job `id`; returns them. */
export async function cancelDependents(
  conn: Conn,
  id: string,
  now: number,
): Promise<CancelledDependent[]> {
  const cancelled: CancelledDependent[] = [];
  let frontier = [id];
  while (frontier.length) {
    const rows = await conn.selectFrom("lane_job_deps as d")
      .innerJoin("lane_jobs as j", "j.id", "d.job_id")
      .select(["j.id", "j.errors", "j.session", "j.lane", "j.kind", "j.attempts", "d.dep_id"])
      .where("d.dep_id", "in", frontier).where("j.state", "=", "queued").execute();
    frontier = [];
    for (const row of rows) {
      const reason = new DependencyFailedError(row.dep_id);
      const errors = appendError(errorsOf(row), Number(row.attempts), reason, now);
      await conn.updateTable("lane_jobs")
        .set({ state: "cancelled", errors: JSON.stringify(errors), finished_at: now })
        .where("id", "=", row.id).where("state", "=", "queued").execute();
      frontier.push(row.id);
      cancelled.push({ subject: rowSubject(row), reason });
    }
  }
  return cancelled;
}
