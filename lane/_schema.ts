/** The lane tables and their migrations, one schema for SQLite and PostgreSQL. */
import type { Kysely } from "kysely";
import type { Migration, StoreKind } from "@a3s/common";

/** A job row. Times are epoch milliseconds; JSON columns hold text. */
export interface JobRow {
  /** Insertion order, for FIFO. */
  seq?: number;
  /** The job id (a UUID). */
  id: string;
  /** The owning session. */
  session: string;
  /** The lane name. */
  lane: string;
  /** The lane's rank, 0 for system. */
  lane_rank: number;
  /** The handler kind. */
  kind: string;
  /** JSON payload. */
  payload: string;
  /** queued, running, completed, cancelled or dead. */
  state: string;
  /** Higher runs first within a lane. */
  priority: number;
  /** The concurrency key, if any. */
  limit_key: string | null;
  /** Unique when set. */
  idempotency_key: string | null;
  /** JSON array of job ids. */
  depends_on: string;
  /** Attempts started so far. */
  attempts: number;
  /** The retry policy's cap. */
  max_attempts: number;
  /** JSON retry policy. */
  retry: string;
  /** Per-attempt timeout. */
  timeout_ms: number | null;
  /** Not claimable before this. */
  run_at: number;
  /** When the current claim ends. */
  lease_until: number | null;
  /** The worker holding the lease. */
  worker: string | null;
  /** 1 when a cancel waits for the worker's heartbeat. */
  cancel_requested: number;
  /** JSON result of a completed job. */
  result: string | null;
  /** JSON of the last progress report. */
  progress: string | null;
  /** JSON array of failed attempts. */
  errors: string;
  /** When it was submitted. */
  created_at: number;
  /** When it first started. */
  started_at: number | null;
  /** When it finished. */
  finished_at: number | null;
}

/** A dependency edge: `job_id` waits for `dep_id`. */
export interface DependencyRow {
  /** The waiting job. */
  job_id: string;
  /** The job it waits for. */
  dep_id: string;
}

/** The lane tables, as kysely sees them. */
export interface LaneTables {
  /** Jobs. */
  lane_jobs: JobRow;
  /** Dependency edges. */
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
  {
    version: 2,
    name: "finished",
    async up(db: Kysely<unknown>) {
      // pruning by retention reads a lane's finished jobs newest first, and deletes the oldest
      await db.schema.createIndex("lane_jobs_finished")
        .on("lane_jobs").columns(["lane_rank", "state", "finished_at"]).execute();
    },
  },
];
