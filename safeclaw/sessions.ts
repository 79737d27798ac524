/**
 * The session ratchet: a session's privacy level only goes up, and it is stored in the shared
 * store, so a restart does not reset it.
 */
import type { Kysely } from "kysely";
import type { Migration, Store } from "@a3s/common";
import { type Level, levelRank, LEVELS } from "./privacy/levels.ts";
import { sessionFloorKey } from "./api_session.ts";

interface SessionTables {
  safeclaw_sessions: { id: string; rank: number; updated_at: number; floor_key: string | null };
}

const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "sessions",
  async up(db: Kysely<unknown>) {
    await db.schema.createTable("safeclaw_sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("rank", "integer", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },
}, {
  version: 2,
  name: "floor_key",
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("safeclaw_sessions").addColumn("floor_key", "text").execute();
    await db.schema.createIndex("safeclaw_sessions_floor").on("safeclaw_sessions")
      .column("floor_key").execute();
    // Filled in here rather than in SQL: its lower case is JavaScript's, as new rows get.
    const sessions = db as Kysely<SessionTables>;
    const rows = await sessions.selectFrom("safeclaw_sessions").select("id").execute();
    for (const { id } of rows) {
      await sessions.updateTable("safeclaw_sessions").set({ floor_key: sessionFloorKey(id) })
        .where("id", "=", id).execute();
    }
  },
}];

/**
 * Session levels over the store.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { SessionLevels } from "@a3s/safeclaw";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const sessions = await SessionLevels.open(store);
 * await sessions.raise("u:c:t", "Critical");
 * console.log(await sessions.raise("u:c:t", "Normal")); // "Critical"
 * await store.close();
 * ```
 */
export class SessionLevels {
  #db: Kysely<SessionTables>;

  private constructor(store: Store) {
    this.#db = store.db<SessionTables>();
  }

  /** Migrates the table and returns the ratchet. */
  static async open(store: Store): Promise<SessionLevels> {
    await store.migrate("safeclaw_sessions", MIGRATIONS);
    return new SessionLevels(store);
  }

  /**
   * The session's level: the highest of its own and its case variants' (see `sessionFloorKey`
   * in `api_session.ts`), Normal for a new session.
   */
  async get(session: string): Promise<Level> {
    const row = await this.#db.selectFrom("safeclaw_sessions")
      .select((eb) => eb.fn.max("rank").as("rank"))
      .where((eb) =>
        eb.or([eb("floor_key", "=", sessionFloorKey(session)), eb("id", "=", session)])
      )
      .executeTakeFirst();
    return LEVELS[Number(row?.rank ?? 0)] ?? "Normal";
  }

  /** Raises the session to `level` if that is higher; returns the session's level after. */
  async raise(session: string, level: Level): Promise<Level> {
    const rank = levelRank(level);
    // One conditional upsert: concurrent raises can only move the stored rank up.
    await this.#db.insertInto("safeclaw_sessions")
      .values({ id: session, rank, updated_at: Date.now(), floor_key: sessionFloorKey(session) })
      .onConflict((oc) =>
        oc.column("id").doUpdateSet({ rank, updated_at: Date.now() })
          .where("safeclaw_sessions.rank", "<", rank)
      )
      .execute();
    return await this.get(session);
  }
}
