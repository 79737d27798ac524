/**
 * Token buckets in the shared store, so several gateway processes enforce one limit: each take
 * is one upsert that refills, decides and debits under the row's lock, with no read-then-write
 * race between processes.
 */
import { sql } from "kysely";
import type { Migration, Store } from "@a3s/common";
import type { TakeResult } from "./rate_limit.ts";

const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "rate-buckets",
  up: (db) =>
    db.schema.createTable("gateway_rate_buckets").ifNotExists()
      .addColumn("key", "varchar(512)", (c) => c.primaryKey())
      .addColumn("tokens", "double precision", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("allowed", "integer", (c) => c.notNull())
      .execute(),
}];

/** Prepares the table once per database. */
export async function migrateRateBuckets(store: Store): Promise<void> {
  await store.migrate("gateway", MIGRATIONS);
}

/** Token buckets shared through the store (PostgreSQL across processes, or SQLite). */
export class SharedTokenBuckets {
  readonly #store: Store;
  readonly #average: number;
  readonly #burst: number;
  readonly #now: () => number;

  /** `average` tokens per second, at most `burst`, in `store`. */
  constructor(store: Store, average: number, burst: number, now: () => number = Date.now) {
    this.#store = store;
    this.#average = average;
    this.#burst = burst;
    this.#now = now;
  }

  /** Takes one token from `key`'s bucket. */
  async take(key: string): Promise<TakeResult> {
    const now = this.#now();
    const burst = this.#burst;
    const average = this.#average;
    // The refilled level, computed from the stored row inside the upsert.
    const level = this.#store.kind === "postgres"
      ? sql`least(${burst}::float8, gateway_rate_buckets.tokens + (${now}::bigint - gateway_rate_buckets.at) / 1000.0 * ${average}::float8)`
      : sql`min(${burst}, gateway_rate_buckets.tokens + (${now} - gateway_rate_buckets.at) / 1000.0 * ${average})`;
    const result = await sql<{ tokens: number; allowed: number }>`
      insert into gateway_rate_buckets (key, tokens, at, allowed)
      values (${key}, ${burst - 1}, ${now}, 1)
      on conflict (key) do update set
        tokens = case when ${level} >= 1 then ${level} - 1 else ${level} end,
        at = ${now},
        allowed = case when ${level} >= 1 then 1 else 0 end
      returning tokens, allowed`.execute(this.#store.db());
    const row = result.rows[0];
    const tokens = Number(row.tokens);
    if (Number(row.allowed) === 1) {
      return { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(tokens) };
    }
    const wait = (1 - tokens) / this.#average;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait)), remaining: 0 };
  }
}
