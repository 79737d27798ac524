/**
 * The durable default: events in the shared store (SQLite, or PostgreSQL when configured).
 * Publishes take one write lock so seqs become visible in order; subscribers in this process
 * wake at once, other processes wake through LISTEN/NOTIFY on PostgreSQL or by polling SQLite.
 */
import { type Kysely, sql } from "kysely";
import type { Logger, Store } from "@a3s/common";
import { type CloudEvent, readStoredEvent } from "../envelope.ts";
import { coalesce } from "../coalesce.ts";
import { compilePattern } from "../subject.ts";
import {
  type ConsumerInfo,
  type ConsumerSpec,
  type EventProvider,
  type LiveSubscription,
  type ProviderDelivery,
  type PublishReceipt,
  sleep,
  type StoredEvent,
  type SubjectInfo,
  Wakeup,
} from "../provider.ts";
import { EVENT_MIGRATIONS, type EventTables } from "./store_schema.ts";

/** Options of {@linkcode StoreProvider.open}. */
export interface StoreProviderOptions {
  /** The shared store the events live in. */
  store: Store;
  /** PostgreSQL URL for a LISTEN connection, so other processes' events wake us at once. */
  listenUrl?: string;
  /** How often to look for other processes' events without a notification (default 250 ms). */
  pollMs?: number;
  /** De-duplication window in ms (default 2 min). */
  dedupeWindowMs?: number;
  /** Events older than this are deleted (default 7 days). */
  retentionMs?: number;
  /** Where read failures and reconnects are logged. */
  logger?: Logger;
}

const CHANNEL = "a3s_event";
/** Advisory lock id that orders publishes on PostgreSQL ("a3sevent" in ASCII, truncated). */
const PUBLISH_LOCK = 0x61337365;
const SCAN = 500;

type Db = Kysely<EventTables>;

/** The store-backed provider. */
export class StoreProvider implements EventProvider {
  /** Which provider this is. */
  readonly kind = "store" as const;
  /** Per-key order is kept in the pending table (see `#fetch`). */
  readonly gatesKeys = true;
  readonly #store: Store;
  readonly #db: Db;
  readonly #pollMs: number;
  readonly #dedupeWindowMs: number;
  readonly #retentionMs: number;
  readonly #logger?: Logger;
  readonly #wakeup = new Wakeup();
  readonly #closing = new AbortController();
  #listener?: { end(): Promise<void> };
  #listenLoop?: Promise<void>;
  #lastPrune = 0;
  #queue: {
    event: CloudEvent;
    resolve: (receipt: PublishReceipt) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #draining?: Promise<void>;
  #acks = new Map<string, number[]>();

  private constructor(options: StoreProviderOptions) {
    this.#store = options.store;
    this.#db = options.store.db<EventTables>();
    this.#pollMs = options.pollMs ?? 250;
    this.#dedupeWindowMs = options.dedupeWindowMs ?? 120_000;
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3600_000;
    this.#logger = options.logger;
  }

  /** Migrates the event tables and, on PostgreSQL with a URL, starts listening. */
  static async open(options: StoreProviderOptions): Promise<StoreProvider> {
    await options.store.migrate("event", EVENT_MIGRATIONS);
    const provider = new StoreProvider(options);
    if (options.store.kind === "postgres" && options.listenUrl) {
      await provider.#listen(options.listenUrl);
    }
    return provider;
  }

  get #postgres(): boolean {
    return this.#store.kind === "postgres";
  }

  async #listen(url: string): Promise<void> {
    const pg = await import("pg");
    const Client = pg.default?.Client ?? pg.Client;
    const connect = async () => {
      const client = new Client({ connectionString: url });
      client.on("notification", () => this.#wakeup.notify());
      // A dropped connection may report more than once; the loop below reacts to the first.
      client.on("error", () => {});
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
      return client;
    };
    let client = await connect();
    this.#listener = client;
    // A dropped LISTEN connection is reopened with backoff; polling covers the gap.
    this.#listenLoop = (async () => {
      let backoff = 100;
      while (!this.#closing.signal.aborted) {
        const lost = await new Promise<unknown>((resolve) => {
          client.once("error", resolve);
          this.#closing.signal.addEventListener("abort", () => resolve(undefined), { once: true });
        });
        if (this.#closing.signal.aborted) return;
        this.#logger?.warn("event LISTEN connection lost; reconnecting", { error: String(lost) });
        await client.end().catch(() => {});
        while (!this.#closing.signal.aborted) {
          await sleep(backoff, this.#closing.signal);
          try {
            client = await connect();
            this.#listener = client;
            backoff = 100;
            this.#wakeup.notify();
            break;
          } catch {
            backoff = Math.min(backoff * 2, 5000);
          }
        }
      }
    })();
  }

  /**
   * Runs `fn` in a write transaction. On PostgreSQL, `publish` holds the advisory lock that
   * makes seqs commit in order; consumer work locks only its consumer's row, so fetching never
   * waits for publishers (and readers still see seqs in order, as publishes commit in order).
   */
  async #locked<T>(
    fn: (db: Db) => Promise<T>,
    lock: "publish" | "consumer" = "publish",
  ): Promise<T> {
    return await this.#db.connection().execute(async (conn) => {
      const begin = !this.#postgres
        ? "begin immediate"
        : lock === "publish"
        ? `begin; select pg_advisory_xact_lock(${PUBLISH_LOCK})`
        : "begin";
      await sql`${sql.raw(begin)}`.execute(conn);
      try {
        const out = await fn(conn);
        await sql`commit`.execute(conn);
        return out;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    });
  }

  /**
   * Queues `event` for the next group commit: publishes that arrive while a transaction is
   * in flight share the next one, so concurrent publishers pay one commit, not one each.
   */
  publish(event: CloudEvent): Promise<PublishReceipt> {
    const { promise, resolve, reject } = Promise.withResolvers<PublishReceipt>();
    this.#queue.push({ event, resolve, reject });
    this.#draining ??= this.#drain();
    return promise;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length) {
        const batch = this.#queue.splice(0, 500);
        try {
          const receipts = await this.#append(batch.map((b) => b.event));
          batch.forEach((b, i) => b.resolve(receipts[i]));
        } catch (error) {
          for (const b of batch) b.reject(error);
        }
        this.#wakeup.notify();
      }
    } finally {
      this.#draining = undefined;
    }
    const now = Date.now();
    if (now - this.#lastPrune > 60_000) {
      this.#lastPrune = now;
      await this.#prune(now).catch((error) =>
        this.#logger?.warn("event prune failed", { error: String(error) })
      );
    }
  }

  /** Appends the events not seen within the window, in one transaction. */
  async #append(events: CloudEvent[]): Promise<PublishReceipt[]> {
    return await this.#locked(async (db) => {
      const now = Date.now();
      const ids = [...new Set(events.map((e) => e.id))];
      const seen = await db.selectFrom("event_dedupe").select(["id", "seq"])
        .where("id", "in", ids).where("expires_at", ">=", now).execute();
      const known = new Map<string, string | undefined>(seen.map((r) => [r.id, String(r.seq)]));
      const fresh: CloudEvent[] = [];
      const duplicate = events.map((event) => {
        if (known.has(event.id)) return true;
        known.set(event.id, undefined);
        fresh.push(event);
        return false;
      });
      if (fresh.length) {
        const rows = await db.insertInto("event_log")
          .values(fresh.map((event) => ({
            id: event.id,
            subject: event.subject,
            published_at: now,
            body: JSON.stringify(event),
            partition_key: event.partitionkey ?? null,
          })))
          .returning(["seq", "id"])
          .execute();
        for (const row of rows) known.set(row.id, String(row.seq));
        await db.insertInto("event_dedupe")
          .values(rows.map((row) => ({
            id: row.id,
            seq: row.seq,
            expires_at: now + this.#dedupeWindowMs,
          })))
          .onConflict((oc) =>
            oc.column("id").doUpdateSet((eb) => ({
              seq: eb.ref("excluded.seq"),
              expires_at: eb.ref("excluded.expires_at"),
            }))
          )
          .execute();
        if (this.#postgres) {
          const last = rows.reduce((max, row) => Math.max(max, Number(row.seq)), 0);
          await sql`select pg_notify(${CHANNEL}, ${String(last)})`.execute(db);
        }
      }
      return events.map((event, i) => ({ seq: known.get(event.id)!, duplicate: duplicate[i] }));
    });
  }

  async #prune(now: number): Promise<void> {
    await this.#db.deleteFrom("event_dedupe").where("expires_at", "<", now).execute();
    await this.#db.deleteFrom("event_log").where("published_at", "<", now - this.#retentionMs)
      .execute();
  }

  async #maxSeq(): Promise<number> {
    const row = await this.#db.selectFrom("event_log")
      .select((eb) => eb.fn.max("seq").as("max")).executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  async subscribe(
    pattern: string,
    after: string | undefined,
    onEvent: (stored: StoredEvent) => void,
  ): Promise<LiveSubscription> {
    const matches = compilePattern(pattern);
    let cursor = after !== undefined ? Number(after) : await this.#maxSeq();
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.#closing.signal]);
    const loop = (async () => {
      let backoff = 100;
      while (!signal.aborted) {
        try {
          const generation = this.#wakeup.generation;
          const rows = await this.#db.selectFrom("event_log").select(["seq", "subject", "body"])
            .where("seq", ">", cursor).orderBy("seq").limit(SCAN).execute();
          for (const row of rows) {
            cursor = Number(row.seq);
            if (matches(row.subject)) {
              const seq = String(row.seq);
              onEvent({ seq, event: readStoredEvent(row.body, seq, row.subject) });
            }
          }
          backoff = 100;
          if (rows.length < SCAN) await this.#wakeup.wait(this.#pollMs, signal, generation);
        } catch (error) {
          if (signal.aborted) return;
          this.#logger?.warn("event subscription read failed; retrying", { error: String(error) });
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, 5000);
        }
      }
    })();
    return {
      close: async () => {
        stop.abort();
        await loop;
      },
    };
  }

  async ensureConsumer(spec: ConsumerSpec): Promise<void> {
    await this.#locked(async (db) => {
      const existing = await db.selectFrom("event_consumer").select("name")
        .where("name", "=", spec.name).executeTakeFirst();
      if (existing) {
        await db.updateTable("event_consumer")
          .set({ ack_wait_ms: spec.ackWaitMs, pattern: spec.pattern })
          .where("name", "=", spec.name).execute();
        return;
      }
      const max = await db.selectFrom("event_log")
        .select((eb) => eb.fn.max("seq").as("max")).executeTakeFirst();
      await db.insertInto("event_consumer").values({
        name: spec.name,
        pattern: spec.pattern,
        ack_wait_ms: spec.ackWaitMs,
        cursor: spec.deliver === "all" ? 0 : Number(max?.max ?? 0),
        created_at: Date.now(),
      }).execute();
    });
  }

  /**
   * Keys whose later events this instance may not run now, with the earliest blocking seq: a
   * pending event of the key was nacked and waits for its redelivery, or runs redelivered here
   * (its later events wait at the broker until it is acknowledged, not in the consumer's memory,
   * where they would add to what it holds behind the key), or another instance (perhaps one
   * that died) holds a live lease on it.
   */
  async #blockedKeys(db: Db, consumer: string, now: number, me: string) {
    const rows = await db.selectFrom("event_pending")
      .select((eb) => ["partition_key", eb.fn.min("seq").as("seq")])
      .where("consumer", "=", consumer).where("partition_key", "is not", null)
      .where("visible_at", ">", now)
      .where((eb) =>
        eb.or([eb("holder", "is", null), eb("holder", "<>", me), eb("deliveries", ">", 1)])
      )
      .groupBy("partition_key").execute();
    return new Map(rows.map((r) => [r.partition_key!, Number(r.seq)]));
  }

  /**
   * Claims due redeliveries and then new matching events, leasing each to this instance for
   * the ack wait. Per-key order is kept here, in the table, so it survives a crash: an event
   * whose key has an earlier event nacked (waiting) or leased by another instance stays
   * behind; new events of such a key are recorded as held back (0 deliveries) and run, in
   * log order, once the earlier one is acknowledged.
   */
  async #fetch(spec: ConsumerSpec, max: number, me: string): Promise<ProviderDelivery[]> {
    const matches = compilePattern(spec.pattern);
    const taken = await this.#locked(async (db) => {
      const now = Date.now();
      const row = db.selectFrom("event_consumer").select(["cursor"]).where("name", "=", spec.name);
      const consumer = await (this.#postgres ? row.forUpdate() : row).executeTakeFirst();
      if (!consumer) return [];
      const out: { seq: number; body: string; deliveries: number }[] = [];
      const due = await db.selectFrom("event_pending as p")
        .leftJoin("event_log as l", "l.seq", "p.seq")
        .select(["p.seq", "p.deliveries", "l.body", "p.partition_key"])
        .where("p.consumer", "=", spec.name).where("p.visible_at", "<=", now)
        .where(({ not, exists, selectFrom }) =>
          not(exists(
            selectFrom("event_pending as b").select("b.seq")
              .whereRef("b.consumer", "=", "p.consumer")
              .whereRef("b.partition_key", "=", "p.partition_key")
              .whereRef("b.seq", "<", "p.seq")
              .where("b.visible_at", ">", now)
              .where((eb) =>
                eb.or([
                  eb("b.holder", "is", null),
                  eb("b.holder", "<>", me),
                  eb("b.deliveries", ">", 1),
                ])
              ),
          ))
        )
        .orderBy("p.seq").limit(max).execute();
      const gone = due.filter((d) => d.body === null).map((d) => Number(d.seq));
      if (gone.length) {
        await db.deleteFrom("event_pending").where("consumer", "=", spec.name)
          .where("seq", "in", gone).execute();
      }
      // After a redelivery (a nacked or expired event come back) its key's later due rows stay
      // pending: they would wait in the consumer's memory behind it; here they wait at the
      // broker, blocked by its lease until it is acknowledged (#blockedKeys).
      const redelivering = new Set<string>();
      const redeliver = due.filter((d) => {
        if (d.body === null) return false;
        if (d.partition_key === null) return true;
        if (redelivering.has(d.partition_key)) return false;
        if (Number(d.deliveries) >= 1) redelivering.add(d.partition_key);
        return true;
      });
      if (redeliver.length) {
        await db.updateTable("event_pending")
          .set((eb) => ({
            deliveries: eb("deliveries", "+", 1),
            visible_at: now + spec.ackWaitMs,
            holder: me,
          }))
          .where("consumer", "=", spec.name)
          .where("seq", "in", redeliver.map((d) => Number(d.seq)))
          .execute();
        for (const d of redeliver) {
          out.push({ seq: Number(d.seq), body: d.body!, deliveries: Number(d.deliveries) + 1 });
        }
      }
      if (out.length >= max) return out;
      const blocked = await this.#blockedKeys(db, spec.name, now, me);
      let cursor = Number(consumer.cursor);
      const start = cursor;
      const fresh: { seq: number; body: string; key: string | null }[] = [];
      const heldBack: { seq: number; key: string }[] = [];
      scan: while (out.length + fresh.length < max) {
        const rows = await db.selectFrom("event_log")
          .select(["seq", "subject", "body", "partition_key"])
          .where("seq", ">", cursor).orderBy("seq").limit(SCAN).execute();
        for (const row of rows) {
          // Held-back rows are bounded per fetch, so one transaction stays small.
          if (out.length + fresh.length >= max || heldBack.length >= SCAN) break scan;
          cursor = Number(row.seq);
          if (!matches(row.subject)) continue;
          const key = row.partition_key;
          if (key !== null && blocked.has(key)) heldBack.push({ seq: cursor, key });
          else fresh.push({ seq: cursor, body: row.body, key });
        }
        if (rows.length < SCAN) break;
      }
      const rows = [
        ...fresh.map((f) => ({
          consumer: spec.name,
          seq: f.seq,
          deliveries: 1,
          visible_at: now + spec.ackWaitMs,
          partition_key: f.key,
          holder: me,
        })),
        ...heldBack.map((h) => ({
          consumer: spec.name,
          seq: h.seq,
          deliveries: 0,
          visible_at: now,
          partition_key: h.key,
          holder: null,
        })),
      ];
      if (rows.length) await db.insertInto("event_pending").values(rows).execute();
      for (const f of fresh) out.push({ seq: f.seq, body: f.body, deliveries: 1 });
      if (cursor !== start) {
        await db.updateTable("event_consumer").set({ cursor }).where("name", "=", spec.name)
          .execute();
      }
      return out;
    }, "consumer");
    return taken.map((t) => this.#delivery(spec, t.seq, t.body, t.deliveries));
  }

  /**
   * Acks of one tick are one DELETE per consumer. An ack removes the pending row whatever
   * lease it came from: the event was handled, so a redelivery in flight has nothing left to do.
   */
  #ack(consumer: string, seq: number): Promise<void> {
    const seqs = this.#acks.get(consumer);
    if (seqs) seqs.push(seq);
    else this.#acks.set(consumer, [seq]);
    return this.#flushAcks();
  }

  readonly #flushAcks = coalesce(async () => {
    const batch = [...this.#acks];
    this.#acks.clear();
    for (const [name, seqs] of batch) {
      await this.#db.deleteFrom("event_pending").where("consumer", "=", name)
        .where("seq", "in", seqs).execute();
    }
    // Events held back behind an acknowledged one may go now.
    this.#wakeup.notify();
  });

  /** The deliveries guard keeps a late nack of an expired lease from delaying a newer one. */
  #delivery(spec: ConsumerSpec, seq: number, body: string, deliveries: number): ProviderDelivery {
    const consumer = spec.name;
    return {
      seq: String(seq),
      // Rows are this module's own writes; a damaged one is named by the consumer's pattern,
      // as this path does not read the row's subject.
      event: readStoredEvent(body, String(seq), spec.pattern),
      deliveries,
      ack: () => this.#ack(consumer, seq),
      nack: async (delayMs: number) => {
        // Without a holder the row blocks its key for every instance until it is acknowledged.
        await this.#db.updateTable("event_pending")
          .set({ visible_at: Date.now() + delayMs, holder: null })
          .where("consumer", "=", consumer).where("seq", "=", seq)
          .where("deliveries", "=", deliveries).execute();
        setTimeout(() => this.#wakeup.notify(), delayMs + 1);
      },
      extend: async () => {
        await this.#db.updateTable("event_pending")
          .set({ visible_at: Date.now() + spec.ackWaitMs })
          .where("consumer", "=", consumer).where("seq", "=", seq)
          .where("deliveries", "=", deliveries).execute();
      },
    };
  }

  /** When the next lease or nack delay runs out (held-back rows wait for an ack instead). */
  async #nextVisible(name: string): Promise<number> {
    const row = await this.#db.selectFrom("event_pending")
      .select((eb) => eb.fn.min("visible_at").as("next"))
      .where("consumer", "=", name).where("visible_at", ">", Date.now()).executeTakeFirst();
    return row?.next === null || row?.next === undefined ? Infinity : Number(row.next);
  }

  async *consume(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
  ): AsyncIterable<ProviderDelivery> {
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    const me = spec.instance ?? crypto.randomUUID();
    while (!stop.aborted) {
      // A publish or ack that lands while the fetch runs must not wait for the next poll.
      const generation = this.#wakeup.generation;
      const taken = await this.#fetch(spec, batch, me);
      for (const delivery of taken) {
        if (stop.aborted) return;
        yield delivery;
      }
      if (taken.length === 0) {
        const next = await this.#nextVisible(spec.name);
        await this.#wakeup.wait(
          Math.max(1, Math.min(this.#pollMs, next - Date.now())),
          stop,
          generation,
        );
      }
    }
  }

  async deleteConsumer(name: string): Promise<void> {
    await this.#db.deleteFrom("event_pending").where("consumer", "=", name).execute();
    await this.#db.deleteFrom("event_consumer").where("name", "=", name).execute();
  }

  /** Durable consumers with their lag and unacknowledged deliveries. */
  async consumers(): Promise<ConsumerInfo[]> {
    const rows = await this.#db.selectFrom("event_consumer").select(["name", "pattern", "cursor"])
      .orderBy("name").execute();
    const unacked = await this.#db.selectFrom("event_pending")
      .select((eb) => ["consumer", eb.fn.countAll().as("n")]).where("deliveries", ">", 0)
      .groupBy("consumer").execute();
    const unackedBy = new Map(unacked.map((u) => [u.consumer, Number(u.n)]));
    // Held back behind an earlier event of their key, never delivered: still lag.
    const heldBack = await this.#db.selectFrom("event_pending")
      .select((eb) => ["consumer", eb.fn.countAll().as("n")]).where("deliveries", "=", 0)
      .groupBy("consumer").execute();
    const heldBackBy = new Map(heldBack.map((u) => [u.consumer, Number(u.n)]));
    const out: ConsumerInfo[] = [];
    for (const row of rows) {
      const matches = compilePattern(row.pattern);
      const bySubject = await this.#db.selectFrom("event_log")
        .select((eb) => ["subject", eb.fn.countAll().as("n")])
        .where("seq", ">", Number(row.cursor)).groupBy("subject").execute();
      const pending = bySubject.filter((s) => matches(s.subject))
        .reduce((sum, s) => sum + Number(s.n), 0);
      out.push({
        name: row.name,
        pattern: row.pattern,
        pending: pending + (heldBackBy.get(row.name) ?? 0),
        unacked: unackedBy.get(row.name) ?? 0,
      });
    }
    return out;
  }

  /** Subjects in the log with their event counts. */
  async subjects(): Promise<SubjectInfo[]> {
    const rows = await this.#db.selectFrom("event_log")
      .select((eb) => ["subject", eb.fn.countAll().as("n")]).groupBy("subject").orderBy("subject")
      .execute();
    return rows.map((r) => ({ subject: r.subject, events: Number(r.n) }));
  }

  /** Stops loops and the LISTEN connection; the store stays open. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#wakeup.notify();
    await this.#listener?.end().catch(() => {});
    await this.#listenLoop;
  }
}
