/** The audit tables: the records, the signed head and the signed checkpoints left by pruning. */
import type { Kysely } from "kysely";
import type { Migration } from "@a3s/common";

/** One stored audit record. */
export interface AuditRow {
  seq: number;
  ts: number;
  kind: string;
  severity: string;
  session: string | null;
  /** Canonical JSON of the record's details. */
  data: string;
  prev_hash: string;
  hash: string;
}

/** The last record's seq and hash, signed, so that cutting off the tail is noticed. */
export interface AuditHeadRow {
  id: number;
  seq: number;
  hash: string;
  signature: string;
}

/** Where the chain resumes after pruning: the last pruned record's seq and hash, signed. */
export interface AuditCheckpointRow {
  seq: number;
  hash: string;
  ts: number;
  signature: string;
}

/** The tables as kysely sees them. */
export interface AuditTables {
  safeclaw_audit: AuditRow;
  safeclaw_audit_head: AuditHeadRow;
  safeclaw_audit_checkpoints: AuditCheckpointRow;
}

/** The audit migrations. */
export const AUDIT_MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "audit_chain",
  async up(db: Kysely<unknown>) {
    await db.schema.createTable("safeclaw_audit")
      .addColumn("seq", "bigint", (c) => c.primaryKey())
      .addColumn("ts", "bigint", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("severity", "text", (c) => c.notNull())
      .addColumn("session", "text")
      .addColumn("data", "text", (c) => c.notNull())
      .addColumn("prev_hash", "text", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("safeclaw_audit_ts").on("safeclaw_audit").column("ts").execute();
    await db.schema.createIndex("safeclaw_audit_session").on("safeclaw_audit").column("session")
      .execute();
    await db.schema.createTable("safeclaw_audit_head")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .execute();
    await db.schema.createTable("safeclaw_audit_checkpoints")
      .addColumn("seq", "bigint", (c) => c.primaryKey())
      .addColumn("hash", "text", (c) => c.notNull())
      .addColumn("ts", "bigint", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .execute();
  },
}];
