/** code's tables in the shared store: session history, long-term memory and the audit trail. */
import type { Migration } from "@a3s/common";

export const CODE_MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "sessions_messages_memories",
  async up(db) {
    await db.schema.createTable("code_sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("agent", "text", (c) => c.notNull())
      .addColumn("title", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createTable("code_messages")
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("seq", "integer", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("body", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("code_messages_pk", ["session_id", "seq"])
      .execute();
    await db.schema.createTable("code_memories")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("scope", "text", (c) => c.notNull())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("content", "text", (c) => c.notNull())
      .addColumn("tags", "text", (c) => c.notNull())
      .addColumn("embedding", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("code_memories_owner").on("code_memories").columns([
      "scope",
      "owner",
    ]).execute();
  },
}, {
  version: 2,
  name: "audit",
  async up(db) {
    await db.schema.createTable("code_audit")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("call_id", "text", (c) => c.notNull())
      .addColumn("tool", "text", (c) => c.notNull())
      .addColumn("input", "text", (c) => c.notNull())
      .addColumn("decision", "text", (c) => c.notNull())
      .addColumn("rule", "text")
      .addColumn("is_error", "integer", (c) => c.notNull())
      .addColumn("duration_ms", "integer", (c) => c.notNull())
      .addColumn("tainted", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("code_audit_session").on("code_audit").columns(["session_id", "at"])
      .execute();
  },
}, {
  version: 3,
  name: "memory_namespaces",
  // Memories saved before namespaces existed are the agent's shared ones (namespace '').
  async up(db) {
    await db.schema.alterTable("code_memories")
      .addColumn("namespace", "text", (c) => c.notNull().defaultTo(""))
      .execute();
    await db.schema.createIndex("code_memories_namespace").on("code_memories").columns([
      "namespace",
      "scope",
      "owner",
    ]).execute();
  },
}];

/** Row shapes, as kysely sees them. */
export interface CodeTables {
  code_sessions: {
    id: string;
    agent: string;
    title: string;
    created_at: number;
    updated_at: number;
  };
  code_messages: {
    session_id: string;
    seq: number;
    role: string;
    body: string;
    created_at: number;
  };
  code_audit: {
    id: string;
    at: number;
    session_id: string;
    call_id: string;
    tool: string;
    input: string;
    decision: string;
    rule: string | null;
    is_error: number;
    duration_ms: number;
    tainted: string;
  };
  code_memories: {
    id: string;
    /** '' for the agent's shared memory, else a session's namespace (a chat's key). */
    namespace: string;
    scope: string;
    owner: string;
    content: string;
    tags: string;
    embedding: string | null;
    created_at: number;
  };
}
