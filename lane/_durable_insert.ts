/** Inserting submitted jobs: plain ones in batches, idempotent and dependent ones one by one. */
import { sql, type Transaction } from "kysely";
import { type StoreKind, ValidationError } from "@a3s/common";
import { DependencyFailedError } from "./errors.ts";
import type { JobRow, LaneTables } from "./_schema.ts";

/** A row ready to insert, and the ids of the jobs it waits for. */
export interface PreparedJob {
  row: JobRow;
  deps: string[];
}

/** Rows per multi-row insert. */
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

/**
 * Inserts `prepared` in `tx` and returns each job's id: its own, or for an idempotency key
 * seen before, the existing job's.
 */
export async function insertJobs(
  tx: Transaction<LaneTables>,
  kind: StoreKind,
  prepared: readonly PreparedJob[],
): Promise<string[]> {
  const ids: string[] = new Array(prepared.length);
  const plain: number[] = [];
  for (let i = 0; i < prepared.length; i++) {
    const { row, deps } = prepared[i];
    if (row.idempotency_key === null && deps.length === 0) plain.push(i);
    else ids[i] = await insertOne(tx, row, deps);
  }
  for (let i = 0; i < plain.length; i += INSERT_BATCH) {
    const chunk = plain.slice(i, i + INSERT_BATCH);
    const rows = chunk.map((k) => prepared[k].row);
    if (kind === "postgres") {
      // one JSON parameter instead of 26 per row: compiling and binding thousands of
      // parameters costs more than the insert itself
      await sql`insert into lane_jobs (${sql.join(INSERT_COLUMNS.map((c) => sql.ref(c)))})
        select ${sql.join(INSERT_COLUMNS.map((c) => sql.ref(c)))}
        from json_populate_recordset(null::lane_jobs, ${JSON.stringify(rows)})`.execute(tx);
    } else {
      await tx.insertInto("lane_jobs").values(rows).execute();
    }
    for (const k of chunk) ids[k] = prepared[k].row.id;
  }
  return ids;
}

async function insertOne(
  tx: Transaction<LaneTables>,
  row: JobRow,
  deps: string[],
): Promise<string> {
  if (row.idempotency_key !== null) {
    const existing = await tx.selectFrom("lane_jobs").select("id")
      .where("idempotency_key", "=", row.idempotency_key).executeTakeFirst();
    if (existing) return existing.id;
  }
  if (deps.length) await checkDependencies(tx, deps);
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

/** Every dependency must exist and may not have ended without completing. */
async function checkDependencies(tx: Transaction<LaneTables>, deps: string[]): Promise<void> {
  const found = await tx.selectFrom("lane_jobs").select(["id", "state"])
    .where("id", "in", deps).execute();
  const states = new Map(found.map((r) => [r.id, r.state]));
  deps.forEach((dep, i) => {
    const state = states.get(dep);
    if (state === undefined) {
      throw new ValidationError(`dependsOn.${i}: unknown job '${dep}'`, `dependsOn.${i}`);
    }
    if (state === "dead" || state === "cancelled") throw new DependencyFailedError(dep);
  });
}
