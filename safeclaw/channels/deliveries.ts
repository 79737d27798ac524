/**
 * The platform deliveries the hub has taken, kept in the shared store: a platform delivers an
 * event again when its answer was slow or lost (Telegram for up to a day), and a captured request
 * can be sent again inside its signature's window, also after serve restarts. Held in memory
 * only, such a redelivery after a restart was answered a second time.
 */
import type { Kysely } from "kysely";
import type { Migration, Store } from "@a3s/common";

interface DeliveryTables {
  safeclaw_channel_deliveries: {
    /** `<channel>:<delivery id>`. */
    key: string;
    taken_at: number;
  };
}

const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "channel deliveries",
  async up(db: Kysely<unknown>) {
    await db.schema.createTable("safeclaw_channel_deliveries")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("taken_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("safeclaw_channel_deliveries_taken").on(
      "safeclaw_channel_deliveries",
    ).column("taken_at").execute();
  },
}];

/** Where the hub remembers the deliveries it has taken. */
export interface Deliveries {
  /** True the first time `key` is taken, false for every later delivery of it. */
  take(key: string): Promise<boolean>;
  /** Forgets `key`, so that its next delivery is taken (its answer never reached the user). */
  forget(key: string): Promise<void>;
}

/** How many deliveries {@linkcode RecentDeliveries} remembers, oldest forgotten first. */
export const DELIVERIES_REMEMBERED = 10_000;

/** The last deliveries, in memory: for a hub without a store (a restart forgets them). */
export class RecentDeliveries implements Deliveries {
  #keys = new Set<string>();

  take(key: string): Promise<boolean> {
    if (this.#keys.has(key)) return Promise.resolve(false);
    this.#keys.add(key);
    if (this.#keys.size > DELIVERIES_REMEMBERED) {
      this.#keys.delete(this.#keys.values().next().value!);
    }
    return Promise.resolve(true);
  }

  forget(key: string): Promise<void> {
    this.#keys.delete(key);
    return Promise.resolve();
  }
}

/**
 * How long a delivery is remembered: longer than any platform redelivers (Telegram, a day). Once
 * a delivery is forgotten, only the adapter's replay window keeps a captured request from being
 * answered again: every signed timestamp is checked within a window far shorter than this (see
 * `replay_window.ts`).
 */
export const DELIVERY_MEMORY_MS = 2 * 86_400_000;

/**
 * The deliveries taken, by key.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { DeliveryLog } from "./deliveries.ts";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const deliveries = await DeliveryLog.open(store);
 * console.log(await deliveries.take("telegram:1"), await deliveries.take("telegram:1")); // true false
 * await store.close();
 * ```
 */
export class DeliveryLog implements Deliveries {
  #db: Kysely<DeliveryTables>;
  #now: () => number;

  private constructor(store: Store, now: () => number) {
    this.#db = store.db<DeliveryTables>();
    this.#now = now;
  }

  /** Migrates the table and returns the log. */
  static async open(store: Store, now: () => number = Date.now): Promise<DeliveryLog> {
    await store.migrate("safeclaw_channel_deliveries", MIGRATIONS);
    return new DeliveryLog(store, now);
  }

  /** True the first time `key` is taken (within the memory), false for every later delivery. */
  async take(key: string): Promise<boolean> {
    const inserted = await this.#db.insertInto("safeclaw_channel_deliveries")
      .values({ key, taken_at: this.#now() })
      .onConflict((oc) => oc.column("key").doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Forgets `key`, so that its next delivery is taken (its answer never reached the user). */
  async forget(key: string): Promise<void> {
    await this.#db.deleteFrom("safeclaw_channel_deliveries").where("key", "=", key).execute();
  }

  /** Forgets deliveries older than the memory; returns how many. */
  async prune(): Promise<number> {
    const result = await this.#db.deleteFrom("safeclaw_channel_deliveries")
      .where("taken_at", "<", this.#now() - DELIVERY_MEMORY_MS).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }
}
