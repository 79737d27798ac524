/** Tables of the store provider and their migrations (SQLite and PostgreSQL). */
import type { Generated, Kysely } from "kysely";
import type { Migration, StoreKind } from "@a3s/common";

/** The event log, de-duplication ids, consumer positions and unacknowledged deliveries. */
export interface EventTables {
  event_log: {
    seq: Generated<number | string>;
    id: string;
    subject: string;
    published_at: number | string;
    body: string;
    /** The event's partition key (migration 2; null on older rows and unkeyed events). */
    partition_key: string | null;
  };
  event_dedupe: { id: string; seq: number | string; expires_at: number | string };
  event_consumer: {
    name: string;
    pattern: string;
    ack_wait_ms: number | string;
    cursor: number | string;
    created_at: number | string;
  };
  event_pending: {
    consumer: string;
    seq: number | string;
    /** Deliveries so far; 0 while held back behind an earlier event of its key. */
    deliveries: number | string;
    visible_at: number | string;
    /** The event's partition key, for per-key gating (migration 2). */
    partition_key: string | null;
    /** Consumer instance holding the lease; null while nacked or held back (migration 2). */
    holder: string | null;
  };
}

const integer = (kind: StoreKind) => (kind === "postgres" ? "bigint" : "integer");

/** Migrations of the `event` module. */
export const EVENT_MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "log_consumers",
  async up(db: Kysely<unknown>, kind: StoreKind) {
    const int = integer(kind);
    await db.schema.createTable("event_log")
      .addColumn(
        "seq",
        kind === "postgres" ? "bigserial" : "integer",
        (c) => kind === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("subject", "text", (c) => c.notNull())
      .addColumn("published_at", int, (c) => c.notNull())
      .addColumn("body", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("event_log_published_at").on("event_log")
      .column("published_at").execute();
    await db.schema.createTable("event_dedupe")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("seq", int, (c) => c.notNull())
      .addColumn("expires_at", int, (c) => c.notNull())
      .execute();
    await db.schema.createTable("event_consumer")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("pattern", "text", (c) => c.notNull())
      .addColumn("ack_wait_ms", int, (c) => c.notNull())
      .addColumn("cursor", int, (c) => c.notNull())
      .addColumn("created_at", int, (c) => c.notNull())
      .execute();
    await db.schema.createTable("event_pending")
      .addColumn("consumer", "text", (c) => c.notNull())
      .addColumn("seq", int, (c) => c.notNull())
      .addColumn("deliveries", int, (c) => c.notNull())
      .addColumn("visible_at", int, (c) => c.notNull())
      .addPrimaryKeyConstraint("event_pending_pk", ["consumer", "seq"])
      .execute();
    await db.schema.createIndex("event_pending_visible").on("event_pending")
      .columns(["consumer", "visible_at"]).execute();
  },
}, {
  version: 2,
  name: "key_gating",
  // Per-key order across a nack and a crash is kept in the table, not in a consumer's memory:
  // a pending row knows its key and who holds its lease.
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("event_log").addColumn("partition_key", "text").execute();
    await db.schema.alterTable("event_pending").addColumn("partition_key", "text").execute();
    await db.schema.alterTable("event_pending").addColumn("holder", "text").execute();
    await db.schema.createIndex("event_pending_key").on("event_pending")
      .columns(["consumer", "partition_key", "seq"]).execute();
  },
}];
