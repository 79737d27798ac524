/**
 * A TTL cache of engine result pages in the shared store, so repeated queries neither wait for
 * nor hammer the engines (which answer repeated automated queries with CAPTCHAs).
 */
import type { Kysely } from "kysely";
import type { Store } from "@a3s/common";
import type { EngineResult } from "./types.ts";

interface Tables {
  search_cache: { key: string; value: string; expires_at: number };
}

const MIGRATIONS = [{
  version: 1,
  name: "cache",
  async up(db: Kysely<unknown>) {
    await db.schema.createTable("search_cache")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("search_cache_expires").on("search_cache").column("expires_at")
      .execute();
  },
}];

/** Expired rows are swept after this many writes, so the table stays small without a timer. */
const SWEEP_EVERY = 100;

/** Engine result pages keyed by engine and query. */
export class ResultCache {
  #writes = 0;

  private constructor(
    private readonly db: Kysely<Tables>,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** Opens the cache on `store`; a TTL of 0 makes every lookup miss and every write a no-op. */
  static async open(
    store: Store,
    ttlSeconds: number,
    now: () => number = Date.now,
  ): Promise<ResultCache> {
    await store.migrate("search_cache", MIGRATIONS);
    return new ResultCache(store.db<Tables>(), ttlSeconds * 1000, now);
  }

  async get(key: string): Promise<EngineResult[] | undefined> {
    if (this.ttlMs <= 0) return undefined;
    const row = await this.db.selectFrom("search_cache").select(["value", "expires_at"])
      .where("key", "=", key).executeTakeFirst();
    if (!row || Number(row.expires_at) <= this.now()) return undefined;
    return JSON.parse(row.value) as EngineResult[];
  }

  async set(key: string, results: readonly EngineResult[]): Promise<void> {
    if (this.ttlMs <= 0) return;
    const row = { key, value: JSON.stringify(results), expires_at: this.now() + this.ttlMs };
    await this.db.insertInto("search_cache").values(row)
      .onConflict((oc) =>
        oc.column("key").doUpdateSet({ value: row.value, expires_at: row.expires_at })
      )
      .execute();
    if (++this.#writes % SWEEP_EVERY === 0) {
      await this.db.deleteFrom("search_cache").where("expires_at", "<=", this.now()).execute();
    }
  }
}
