/** Session history in the shared store, so a session can be resumed by id from any process. */
import type { Store } from "@a3s/common";
import type { Message } from "../llm/types.ts";
import { CODE_MIGRATIONS, type CodeTables } from "./migrations.ts";

/** A stored session's summary. */
export interface SessionInfo {
  /** The session's id. */
  id: string;
  /** The name of the agent it ran on. */
  agent: string;
  /** The start of its first user message. */
  title: string;
  /** When it was created, in epoch milliseconds. */
  createdAt: number;
  /** When a message was last added, in epoch milliseconds. */
  updatedAt: number;
  /** How many messages it holds. */
  messages: number;
}

/** Where a session keeps its messages. */
export interface HistoryStore {
  /** Records a new session (a no-op when `id` exists). */
  create(id: string, agent: string, title: string): Promise<void>;
  /** Stores `message` at position `seq`, replacing what was there. */
  append(id: string, seq: number, message: Message): Promise<void>;
  /** Replaces the whole history (after compaction). */
  replace(id: string, messages: Message[]): Promise<void>;
  /** The session's messages in order; undefined for an unknown session. */
  load(id: string): Promise<Message[] | undefined>;
  /** The most recently updated sessions first, at most `limit`. */
  list(limit: number): Promise<SessionInfo[]>;
  /** Deletes a session and its messages; false when there was none. */
  remove(id: string): Promise<boolean>;
}

/** Keeps history in memory only: for agents built without a store. */
export class MemoryHistory implements HistoryStore {
  readonly #sessions = new Map<
    string,
    { info: Omit<SessionInfo, "messages">; messages: Message[] }
  >();

  /** Records a new session (a no-op when `id` exists). */
  create(id: string, agent: string, title: string): Promise<void> {
    const now = Date.now();
    if (!this.#sessions.has(id)) {
      this.#sessions.set(id, {
        info: { id, agent, title, createdAt: now, updatedAt: now },
        messages: [],
      });
    }
    return Promise.resolve();
  }
  /** Stores `message` at position `seq`, replacing what was there. */
  append(id: string, seq: number, message: Message): Promise<void> {
    const s = this.#sessions.get(id);
    if (s) {
      s.messages[seq] = structuredClone(message);
      s.info.updatedAt = Date.now();
    }
    return Promise.resolve();
  }
  replace(id: string, messages: Message[]): Promise<void> {
    const s = this.#sessions.get(id);
    if (s) s.messages = structuredClone(messages);
    return Promise.resolve();
  }
  /** The session's messages in order; undefined for an unknown session. */
  load(id: string): Promise<Message[] | undefined> {
    const s = this.#sessions.get(id);
    return Promise.resolve(s ? structuredClone(s.messages) : undefined);
  }
  /** The most recently updated sessions first, at most `limit`. */
  list(limit: number): Promise<SessionInfo[]> {
    return Promise.resolve(
      [...this.#sessions.values()].map((s) => ({ ...s.info, messages: s.messages.length }))
        .sort((a, b) => b.updatedAt - a.updatedAt).slice(0, limit),
    );
  }
  /** Deletes a session and its messages; false when there was none. */
  remove(id: string): Promise<boolean> {
    return Promise.resolve(this.#sessions.delete(id));
  }
}

/**
 * History in the shared kysely store (SQLite or PostgreSQL).
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { StoreHistory } from "./history.ts";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const history = await StoreHistory.open(store);
 * await history.create("s1", "agent", "hello");
 * ```
 */
export class StoreHistory implements HistoryStore {
  private constructor(private readonly store: Store) {}

  /** Opens the history on `store`, creating its tables when missing. */
  static async open(store: Store): Promise<StoreHistory> {
    await store.migrate("code", CODE_MIGRATIONS);
    return new StoreHistory(store);
  }

  /** Typed access to this module's tables. */
  get #db() {
    return this.store.db<CodeTables>();
  }

  /** Records a new session (a no-op when `id` exists). */
  async create(id: string, agent: string, title: string): Promise<void> {
    const now = Date.now();
    await this.#db.insertInto("code_sessions").values({
      id,
      agent,
      title: title.slice(0, 200),
      created_at: now,
      updated_at: now,
    })
      .onConflict((oc) => oc.column("id").doNothing()).execute();
  }

  /** Stores `message` at position `seq`, replacing what was there, and touches the session. */
  async append(id: string, seq: number, message: Message): Promise<void> {
    const now = Date.now();
    await this.#db.insertInto("code_messages")
      .values({
        session_id: id,
        seq,
        role: message.role,
        body: JSON.stringify(message),
        created_at: now,
      })
      .onConflict((oc) =>
        oc.columns(["session_id", "seq"]).doUpdateSet({
          body: JSON.stringify(message),
          role: message.role,
        })
      )
      .execute();
    await this.#db.updateTable("code_sessions").set({ updated_at: now }).where("id", "=", id)
      .execute();
  }

  async replace(id: string, messages: Message[]): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom("code_messages").where("session_id", "=", id).execute();
      const now = Date.now();
      if (messages.length) {
        await tx.insertInto("code_messages").values(messages.map((m, seq) => ({
          session_id: id,
          seq,
          role: m.role,
          body: JSON.stringify(m),
          created_at: now,
        }))).execute();
      }
    });
  }

  /** The session's messages in order; undefined for an unknown session. */
  async load(id: string): Promise<Message[] | undefined> {
    const session = await this.#db.selectFrom("code_sessions").select("id").where("id", "=", id)
      .executeTakeFirst();
    if (!session) return undefined;
    const rows = await this.#db.selectFrom("code_messages").select("body").where(
      "session_id",
      "=",
      id,
    ).orderBy("seq").execute();
    return rows.map((r) => JSON.parse(r.body) as Message);
  }

  /** The most recently updated sessions first, at most `limit`. */
  async list(limit: number): Promise<SessionInfo[]> {
    const rows = await this.#db.selectFrom("code_sessions")
      .leftJoin("code_messages", "code_messages.session_id", "code_sessions.id")
      .select((eb) => [
        "code_sessions.id",
        "code_sessions.agent",
        "code_sessions.title",
        "code_sessions.created_at",
        "code_sessions.updated_at",
        eb.fn.count<number>("code_messages.seq").as("messages"),
      ])
      .groupBy([
        "code_sessions.id",
        "code_sessions.agent",
        "code_sessions.title",
        "code_sessions.created_at",
        "code_sessions.updated_at",
      ])
      .orderBy("code_sessions.updated_at", "desc").limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      agent: r.agent,
      title: r.title,
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      messages: Number(r.messages),
    }));
  }

  /** Deletes a session and its messages; false when there was none. */
  async remove(id: string): Promise<boolean> {
    await this.#db.deleteFrom("code_messages").where("session_id", "=", id).execute();
    const r = await this.#db.deleteFrom("code_sessions").where("id", "=", id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
