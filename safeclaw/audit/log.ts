/**
 * The tamper-evident audit log: every decision is an append-only record in the shared store,
 * chained by HMAC-SHA256 under a key from config. Each record's hash covers its fields and the
 * previous hash, so an edited, deleted, inserted or reordered record breaks the chain at that
 * record; a signed head catches a cut-off tail, and signed checkpoints let old records be pruned
 * while the rest still verifies.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Store } from "@a3s/common";
import {
  AUDIT_MIGRATIONS,
  type AuditCheckpointRow,
  type AuditRow,
  type AuditTables,
} from "./schema.ts";

/** How serious a recorded decision is. */
export const SEVERITIES = ["info", "warning", "critical"] as const;
/** A severity. */
export type Severity = (typeof SEVERITIES)[number];

/** What the caller records. */
export interface AuditEvent {
  /** What was decided: `classification`, `block`, `redaction`, `injection`, `approval`, ... */
  kind: string;
  /** How serious the decision is; filters and alerts go by it. */
  severity: Severity;
  /** The session the decision is about; null or absent for server-wide events. */
  session?: string | null;
  /** Details; stored as canonical JSON. Never the sensitive values themselves. */
  data?: Record<string, unknown>;
}

/** A stored record. */
export interface AuditRecord {
  /** Its position in the chain: 1 for the first record, one more for each after. */
  seq: number;
  /** When it was appended, in epoch milliseconds. */
  ts: number;
  /** The event's kind, as recorded. */
  kind: string;
  /** The event's severity. */
  severity: Severity;
  /** The event's session, or null when it had none. */
  session: string | null;
  /** The event's details. */
  data: Record<string, unknown>;
  /** The hash of the record before it (or of the checkpoint or genesis it follows). */
  prevHash: string;
  /** HMAC-SHA256 over this record's fields and `prevHash`: the link that breaks on tampering. */
  hash: string;
}

/** A filter for listing and exporting. */
export interface AuditFilter {
  /** Exactly this severity. */
  severity?: Severity;
  /** At or above this severity. */
  minSeverity?: Severity;
  /** Only this session's records. */
  session?: string;
  /** Only records of this kind. */
  kind?: string;
  /** Epoch milliseconds, inclusive. */
  since?: number;
  /** Epoch milliseconds, exclusive. */
  until?: number;
  /** Records after this seq (for paging). */
  afterSeq?: number;
  /** At most this many records (default 1000). */
  limit?: number;
  /** The newest `limit` matching records rather than the oldest (still listed oldest first). */
  newest?: boolean;
}

/** The outcome of {@linkcode AuditLog.verify}. */
export interface VerifyResult {
  /** True when the chain, its head and its checkpoint all check out. */
  ok: boolean;
  /** Records checked. */
  records: number;
  /** The checkpoint the chain resumed from, if old records were pruned. */
  checkpointSeq: number | null;
  /** The first bad record and what is wrong with it. */
  firstBad?: { seq: number; reason: string };
}

const GENESIS = "0".repeat(64);
const PAGE = 1000;

/** JSON with object keys sorted, so that a record hashes the same however it was built. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Options of {@linkcode AuditLog.open}. */
export interface AuditLogOptions {
  /** The HMAC key from config; at least 16 bytes. */
  hmacKey: string;
  /** The clock (tests pin it). */
  now?: () => number;
}

/**
 * The audit log over the shared store.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { AuditLog } from "@a3s/safeclaw";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const audit = await AuditLog.open(store, { hmacKey: "a key of at least 16 bytes" });
 * await audit.append({ kind: "block", severity: "critical", session: "u:c:t" });
 * console.log((await audit.verify()).ok); // true
 * await store.close();
 * ```
 */
export class AuditLog {
  #db: Kysely<AuditTables>;
  #key: string;
  #now: () => number;
  #tail: Promise<unknown> = Promise.resolve();
  #observers = new Set<(record: AuditRecord) => void>();

  private constructor(store: Store, options: AuditLogOptions) {
    this.#db = store.db<AuditTables>();
    this.#key = options.hmacKey;
    this.#now = options.now ?? Date.now;
  }

  /** Migrates the tables and returns the log. */
  static async open(store: Store, options: AuditLogOptions): Promise<AuditLog> {
    if (new TextEncoder().encode(options.hmacKey).length < 16) {
      throw new Error("safeclaw audit: the HMAC key must be at least 16 bytes");
    }
    await store.migrate("safeclaw_audit", AUDIT_MIGRATIONS);
    return new AuditLog(store, options);
  }

  #mac(text: string): string {
    return createHmac("sha256", this.#key).update(text).digest("hex");
  }

  #recordHash(r: Omit<AuditRow, "hash">): string {
    return this.#mac(canonicalJson({
      seq: Number(r.seq),
      ts: Number(r.ts),
      kind: r.kind,
      severity: r.severity,
      session: r.session,
      data: r.data,
      prev: r.prev_hash,
    }));
  }

  #headSignature(seq: number, hash: string): string {
    return this.#mac(`head:${seq}:${hash}`);
  }

  #checkpointSignature(seq: number, hash: string, ts: number): string {
    return this.#mac(`checkpoint:${seq}:${hash}:${ts}`);
  }

  /** Appends one record; appends from this process are serialized so the chain never forks. */
  append(event: AuditEvent): Promise<AuditRecord> {
    const run = this.#tail.then(() => this.#appendNow(event)).then((record) => {
      for (const observe of this.#observers) observe(record);
      return record;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Calls `observer` with each record once it is committed, in chain order (the bus publisher
   * uses it). The observer must not throw or block: it runs inside the append. Returns the
   * function that stops the calls.
   */
  observe(observer: (record: AuditRecord) => void): () => void {
    this.#observers.add(observer);
    return () => void this.#observers.delete(observer);
  }

  async #appendNow(event: AuditEvent): Promise<AuditRecord> {
    // Another process may append between our read and our insert; the seq primary key turns
    // that race into a conflict, and we retry on the new tail.
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#db.transaction().execute(async (trx) => {
          const head = await trx.selectFrom("safeclaw_audit_head").selectAll()
            .where("id", "=", 1).executeTakeFirst();
          const checkpoint = head ? undefined : await trx.selectFrom("safeclaw_audit_checkpoints")
            .selectAll().orderBy("seq", "desc").limit(1).executeTakeFirst();
          const prevSeq = head ? Number(head.seq) : checkpoint ? Number(checkpoint.seq) : 0;
          const prevHash = head ? head.hash : checkpoint ? checkpoint.hash : GENESIS;
          const row: Omit<AuditRow, "hash"> = {
            seq: prevSeq + 1,
            ts: this.#now(),
            kind: event.kind,
            severity: event.severity,
            session: event.session ?? null,
            data: canonicalJson(event.data ?? {}),
            prev_hash: prevHash,
          };
          const hash = this.#recordHash(row);
          await trx.insertInto("safeclaw_audit").values({ ...row, hash }).execute();
          const signature = this.#headSignature(row.seq, hash);
          if (head) {
            await trx.updateTable("safeclaw_audit_head").set({ seq: row.seq, hash, signature })
              .where("id", "=", 1).where("seq", "=", prevSeq).execute();
          } else {
            await trx.insertInto("safeclaw_audit_head").values({
              id: 1,
              seq: row.seq,
              hash,
              signature,
            }).execute();
          }
          return toRecord({ ...row, hash });
        });
      } catch (error) {
        if (attempt >= 5 || !/unique|duplicate|constraint/i.test(String(error))) throw error;
      }
    }
  }

  /**
   * Whether the log holds anything a key chained: records, a signed head or a checkpoint of
   * pruned ones. Migrates the tables; needs no key.
   */
  static async hasHistory(store: Store): Promise<boolean> {
    await store.migrate("safeclaw_audit", AUDIT_MIGRATIONS);
    const db = store.db<AuditTables>();
    const any = await Promise.all([
      db.selectFrom("safeclaw_audit").select("seq").limit(1).executeTakeFirst(),
      db.selectFrom("safeclaw_audit_head").select("seq").limit(1).executeTakeFirst(),
      db.selectFrom("safeclaw_audit_checkpoints").select("seq").limit(1).executeTakeFirst(),
    ]);
    return any.some((row) => row !== undefined);
  }

  /** How many records match `filter` (its `limit`, `newest` and `afterSeq` aside). */
  async count(filter: Omit<AuditFilter, "limit" | "newest" | "afterSeq"> = {}): Promise<number> {
    const row = await this.#filtered(filter).select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Records matching `filter`, oldest first. */
  async list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    let q = this.#filtered(filter).selectAll();
    if (filter.afterSeq !== undefined) q = q.where("seq", ">", filter.afterSeq);
    const limit = filter.limit ?? 1000;
    if (filter.newest) {
      const rows = await q.orderBy("seq", "desc").limit(limit).execute();
      return rows.reverse().map(toRecord);
    }
    const rows = await q.orderBy("seq", "asc").limit(limit).execute();
    return rows.map(toRecord);
  }

  #filtered(filter: Omit<AuditFilter, "limit" | "newest" | "afterSeq">) {
    let q = this.#db.selectFrom("safeclaw_audit");
    if (filter.severity) q = q.where("severity", "=", filter.severity);
    if (filter.minSeverity) {
      const allowed = SEVERITIES.slice(SEVERITIES.indexOf(filter.minSeverity));
      q = q.where("severity", "in", [...allowed]);
    }
    if (filter.session) q = q.where("session", "=", filter.session);
    if (filter.kind) q = q.where("kind", "=", filter.kind);
    if (filter.since !== undefined) q = q.where("ts", ">=", filter.since);
    if (filter.until !== undefined) q = q.where("ts", "<", filter.until);
    return q;
  }

  /** Every matching record, page by page, for export. */
  async *iterate(
    filter: Omit<AuditFilter, "limit" | "afterSeq"> = {},
  ): AsyncGenerator<AuditRecord> {
    let after = 0;
    while (true) {
      const page = await this.list({ ...filter, afterSeq: after, limit: PAGE });
      yield* page;
      if (page.length < PAGE) return;
      after = page[page.length - 1].seq;
    }
  }

  /** Walks the whole chain and names the first record that does not verify. */
  async verify(): Promise<VerifyResult> {
    const checkpoint = await this.#db.selectFrom("safeclaw_audit_checkpoints").selectAll()
      .orderBy("seq", "desc").limit(1).executeTakeFirst();
    let expectedSeq = 1;
    let expectedPrev = GENESIS;
    const checkpointSeq = checkpoint ? Number(checkpoint.seq) : null;
    if (checkpoint) {
      const signature = this.#checkpointSignature(
        Number(checkpoint.seq),
        checkpoint.hash,
        Number(checkpoint.ts),
      );
      if (!sameHex(signature, checkpoint.signature)) {
        return {
          ok: false,
          records: 0,
          checkpointSeq,
          firstBad: { seq: Number(checkpoint.seq), reason: "checkpoint signature is invalid" },
        };
      }
      expectedSeq = Number(checkpoint.seq) + 1;
      expectedPrev = checkpoint.hash;
    }
    const fail = (seq: number, reason: string, records: number): VerifyResult => ({
      ok: false,
      records,
      checkpointSeq,
      firstBad: { seq, reason },
    });
    let count = 0;
    let after = checkpoint ? Number(checkpoint.seq) : 0;
    // Records at or below the checkpoint should have been pruned; one left there was inserted.
    const stale = await this.#db.selectFrom("safeclaw_audit").select("seq")
      .where("seq", "<=", after).orderBy("seq", "asc").limit(1).executeTakeFirst();
    if (stale) return fail(Number(stale.seq), "record precedes the pruning checkpoint", 0);
    while (true) {
      const page = await this.#db.selectFrom("safeclaw_audit").selectAll()
        .where("seq", ">", after).orderBy("seq", "asc").limit(PAGE).execute();
      for (const row of page) {
        const seq = Number(row.seq);
        if (seq !== expectedSeq) {
          return fail(expectedSeq, `record ${expectedSeq} is missing (next is ${seq})`, count);
        }
        if (!sameHex(row.prev_hash, expectedPrev)) {
          return fail(seq, "previous-hash link does not match: inserted or reordered", count);
        }
        const { hash, ...rest } = row;
        if (!sameHex(this.#recordHash(rest), hash)) {
          return fail(seq, "record hash does not match its contents: edited", count);
        }
        expectedPrev = hash;
        expectedSeq = seq + 1;
        count++;
      }
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1].seq);
    }
    const head = await this.#db.selectFrom("safeclaw_audit_head").selectAll()
      .where("id", "=", 1).executeTakeFirst();
    if (head) {
      const headSeq = Number(head.seq);
      if (!sameHex(this.#headSignature(headSeq, head.hash), head.signature)) {
        return fail(headSeq, "head signature is invalid", count);
      }
      if (headSeq !== expectedSeq - 1 || !sameHex(head.hash, expectedPrev)) {
        return fail(
          expectedSeq,
          `chain ends at ${expectedSeq - 1} but the signed head is ${headSeq}: records cut off`,
          count,
        );
      }
    } else if (count > 0) {
      return fail(expectedSeq - 1, "the signed head is missing", count);
    }
    return { ok: true, records: count, checkpointSeq };
  }

  /**
   * Deletes records older than `before` (epoch ms), keeping at least the newest one, and leaves
   * a signed checkpoint at the last deleted record so the rest still verifies. Returns how many
   * records were deleted; with `dryRun`, how many would be, deleting nothing.
   */
  async prune(before: number, options: { dryRun?: boolean } = {}): Promise<number> {
    const run = this.#tail.then(() => this.#pruneNow(before, options.dryRun ?? false));
    this.#tail = run.catch(() => undefined);
    return await run;
  }

  async #pruneNow(before: number, dryRun: boolean): Promise<number> {
    return await this.#db.transaction().execute(async (trx) => {
      const newest = await trx.selectFrom("safeclaw_audit").select("seq").orderBy("seq", "desc")
        .limit(1).executeTakeFirst();
      if (!newest) return 0;
      const last = await trx.selectFrom("safeclaw_audit").selectAll()
        .where("ts", "<", before).where("seq", "<", Number(newest.seq))
        .orderBy("seq", "desc").limit(1).executeTakeFirst();
      if (!last) return 0;
      const seq = Number(last.seq);
      if (dryRun) {
        const going = await trx.selectFrom("safeclaw_audit")
          .select((eb) => eb.fn.countAll<number>().as("n")).where("seq", "<=", seq)
          .executeTakeFirstOrThrow();
        return Number(going.n);
      }
      const ts = this.#now();
      const checkpoint: AuditCheckpointRow = {
        seq,
        hash: last.hash,
        ts,
        signature: this.#checkpointSignature(seq, last.hash, ts),
      };
      await trx.insertInto("safeclaw_audit_checkpoints").values(checkpoint).execute();
      const deleted = await trx.deleteFrom("safeclaw_audit").where("seq", "<=", seq)
        .executeTakeFirst();
      return Number(deleted.numDeletedRows);
    });
  }
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: Number(row.seq),
    ts: Number(row.ts),
    kind: row.kind,
    severity: row.severity as Severity,
    session: row.session,
    data: parseData(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * A record's data. A row whose data is not JSON was damaged or edited outside the log (`verify`
 * names it); it is still listed and exported, its stored text under `unreadable`, so that the
 * log can be read to find out what happened.
 */
function parseData(stored: string): Record<string, unknown> {
  try {
    return JSON.parse(stored);
  } catch {
    return { unreadable: stored };
  }
}
