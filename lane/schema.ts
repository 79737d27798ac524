/** The lane tables and their migrations, one schema for SQLite and PostgreSQL. */
import type { Kysely } from "kysely";
import type { Migration, StoreKind } from "@a3s/common";

/** A job row. Times are epoch milliseconds; JSON columns hold text. */
export interface JobRow {
  seq?: number;
  id: string;
  session: string;
  lane: string;
  lane_rank: number;
  kind: string;
  payload: string;
  state: string;
  priority: number;
  limit_key: string | null;
  idempotency_key: string | null;
  depends_on: string;
  attempts: number;
  max_attempts: number;
  retry: string;
  timeout_ms: number | null;
  run_at: number;
  lease_until: number | null;
  worker: string | null;
  cancel_requested: number;
  result: string | null;
  progress: string | null;
  errors: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** A dependency edge: `job_id` waits for `dep_id`. */
export interface DependencyRow {
  job_id: string;
  dep_id: string;
}

/** The lane tables, as kysely sees them. */
export interface LaneTables {
  lane_jobs: JobRow;
  lane_job_deps: DependencyRow;
}

function timeType(kind: StoreKind): "double precision" | "integer" {
  // node-pg returns bigint as a string; double precision holds epoch ms exactly and reads as a number
  return kind === "postgres" ? "double precision" : "integer";
}

/** The lane migrations. */
export const LANE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs",
    async up(db: Kysely<unknown>, kind: StoreKind) {
      const time = timeType(kind);
      await db.schema.createTable("lane_jobs")
        .addColumn(
          "seq",
          kind === "postgres" ? "bigserial" : "integer",
          (c) => kind === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("session", "text", (c) => c.notNull())
        .addColumn("lane", "text", (c) => c.notNull())
        .addColumn("lane_rank", "integer", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("limit_key", "text")
        .addColumn("idempotency_key", "text", (c) => c.unique())
        .addColumn("depends_on", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("max_attempts", "integer", (c) => c.notNull().defaultTo(1))
        .addColumn("retry", "text", (c) => c.notNull())
        .addColumn("timeout_ms", "integer")
        .addColumn("run_at", time, (c) => c.notNull())
        .addColumn("lease_until", time)
        .addColumn("worker", "text")
        .addColumn("cancel_requested", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("result", "text")
        .addColumn("progress", "text")
        .addColumn("errors", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("created_at", time, (c) => c.notNull())
        .addColumn("started_at", time)
        .addColumn("finished_at", time)
        .execute();
      await db.schema.createIndex("lane_jobs_ready")
        .on("lane_jobs").columns(["state", "lane_rank", "priority desc", "seq"]).execute();
      await db.schema.createIndex("lane_jobs_lease")
        .on("lane_jobs").columns(["state", "lease_until"]).execute();
      await db.schema.createIndex("lane_jobs_session")
        .on("lane_jobs").columns(["session", "seq"]).execute();
      await db.schema.createTable("lane_job_deps")
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("dep_id", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("lane_job_deps_pk", ["job_id", "dep_id"])
        .execute();
      await db.schema.createIndex("lane_job_deps_dep").on("lane_job_deps").column("dep_id")
        .execute();
    },
  },
];
