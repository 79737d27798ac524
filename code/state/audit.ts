/** The durable audit trail of tool calls, in the shared store. */
import type { Store } from "@a3s/common";
import type { AuditEntry } from "../agent/session.ts";
import { CODE_MIGRATIONS, type CodeTables } from "./migrations.ts";

/** Where audit entries go. */
export interface AuditLog {
  /** Stores one entry. */
  record(entry: AuditEntry): Promise<void>;
  /** The newest entries first, at most `limit`, of one session when `sessionId` is set. */
  list(options: { sessionId?: string; limit: number }): Promise<AuditEntry[]>;
}

/**
 * Audit entries as rows of `code_audit`.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { StoreAuditLog } from "./audit.ts";
 * const log = await StoreAuditLog.open(await openStore({ sqlitePath: ":memory:" }));
 * console.log(await log.list({ limit: 10 }));
 * ```
 */
export class StoreAuditLog implements AuditLog {
  private constructor(private readonly store: Store) {}

  static async open(store: Store): Promise<StoreAuditLog> {
    await store.migrate("code", CODE_MIGRATIONS);
    return new StoreAuditLog(store);
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.store.db<CodeTables>().insertInto("code_audit").values({
      id: `aud_${crypto.randomUUID()}`,
      at: entry.at,
      session_id: entry.sessionId,
      call_id: entry.callId,
      tool: entry.tool,
      input: JSON.stringify(entry.input),
      decision: entry.decision,
      rule: entry.rule ?? null,
      is_error: entry.isError ? 1 : 0,
      duration_ms: entry.durationMs,
      tainted: JSON.stringify(entry.tainted),
    }).execute();
  }

  async list(options: { sessionId?: string; limit: number }): Promise<AuditEntry[]> {
    let q = this.store.db<CodeTables>().selectFrom("code_audit").selectAll();
    if (options.sessionId) q = q.where("session_id", "=", options.sessionId);
    const rows = await q.orderBy("at", "desc").limit(options.limit).execute();
    return rows.map((r) => ({
      at: Number(r.at),
      sessionId: r.session_id,
      callId: r.call_id,
      tool: r.tool,
      input: JSON.parse(r.input),
      decision: r.decision as AuditEntry["decision"],
      rule: r.rule ?? undefined,
      isError: Number(r.is_error) === 1,
      durationMs: Number(r.duration_ms),
      tainted: JSON.parse(r.tainted),
    }));
  }
}
