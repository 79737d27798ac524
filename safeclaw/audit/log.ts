/**
 * The tamper-evident audit log: every decision is an append-only record in the shared store,
 * chained by HMAC-SHA256 under a key from config. Each record's hash covers its fields and the
 * previous hash, so an edited, deleted, inserted or reordered record breaks the chain at that
 * record; a signed head catches a cut-off tail, and signed checkpoints let old records be pruned
 * while the rest still verifies.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Store, StoreKind } from "@a3s/common";
import { A3sError } from "@a3s/common/errors";
import type { AuditAnchor } from "./anchor.ts";
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
/** The PostgreSQL advisory lock that orders appends and prunes across processes. */
const WRITE_LOCK = 0x5afec1a0;
/**
 * How many times a write is tried while another process holds SQLite's write lock past the
 * store's busy timeout (a long `audit prune`, say), and the first wait between tries in ms.
 */
const WRITE_ATTEMPTS = 6;
const WRITE_BACKOFF_MS = 50;
/** How many times `verify` starts over when a prune moved the checkpoint under its walk. */
const VERIFY_ATTEMPTS = 3;

/** SQLite's answer when another connection holds the write lock longer than busy_timeout. */
function isLockBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(String(error));
}

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
 * `text` as a store keeps it: a NUL (SQLite ends a text there) and an unpaired surrogate (stored
 * as U+FFFD) replaced before the record is hashed, so the hash covers what is stored; a session
 * named by a platform's user id may hold either.
 */
function storable(text: string): string {
  return text.toWellFormed().replaceAll("\0", "\uFFFD");
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
  #kind: StoreKind;
  #key: string;
  #now: () => number;
  #tail: Promise<unknown> = Promise.resolve();
  #observers = new Set<(record: AuditRecord) => void>();

  private constructor(store: Store, options: AuditLogOptions) {
    this.#db = store.db<AuditTables>();
    this.#kind = store.kind;
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

  #anchorSignature(seq: number, hash: string): string {
    return this.#mac(`anchor:${seq}:${hash}`);
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

  /**
   * Runs `work` in a transaction that holds the write lock from its first statement: SQLite's
   * (`begin immediate`; a deferred transaction that reads the head and then writes fails with
   * SQLITE_BUSY, which busy_timeout does not cover, when another process wrote in between) or
   * a PostgreSQL advisory lock, so that appends and prunes of every process take turns and no
   * two of them chain onto the same head.
   */
  async #writeTransaction<T>(work: (conn: Kysely<AuditTables>) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        const begin = this.#kind === "sqlite"
          ? "begin immediate"
          : `begin; select pg_advisory_xact_lock(${WRITE_LOCK})`;
        return await this.#transaction(begin, work);
      } catch (error) {
        if (attempt >= WRITE_ATTEMPTS || !isLockBusy(error)) throw error;
        await new Promise((wake) =>
          setTimeout(wake, WRITE_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random()))
        );
      }
    }
  }

  /**
   * Runs the reads of `work` on one consistent snapshot: records, head and checkpoint are
   * each changed in one transaction, and reading them in separate statements could see one
   * before and another after an append or prune.
   */
  async #readSnapshot<T>(work: (conn: Kysely<AuditTables>) => Promise<T>): Promise<T> {
    const begin = this.#kind === "sqlite"
      ? "begin"
      : "begin isolation level repeatable read read only";
    return await this.#transaction(begin, work);
  }

  /** Runs `work` on one connection inside a transaction opened by `begin`. */
  async #transaction<T>(
    begin: string,
    work: (conn: Kysely<AuditTables>) => Promise<T>,
  ): Promise<T> {
    return await this.#db.connection().execute(async (conn) => {
      await sql`${sql.raw(begin)}`.execute(conn);
      try {
        const out = await work(conn);
        await sql`commit`.execute(conn);
        return out;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    });
  }

  async #appendNow(event: AuditEvent): Promise<AuditRecord> {
    return await this.#writeTransaction(async (conn) => {
      const head = await conn.selectFrom("safeclaw_audit_head").selectAll()
        .where("id", "=", 1).executeTakeFirst();
      // No head is right only for an empty log. With records or a checkpoint behind it, the head
      // was deleted, perhaps with the tail it covered; rebuilding it from what is left would
      // chain new records over the gap and hide the deletion from `verify`.
      if (!head && await this.#holdsHistory(conn)) {
        throw new A3sError(
          "audit_head_missing",
          "safeclaw audit: the signed head is missing while the log holds records or a pruning " +
            "checkpoint, so records were deleted outside the log; nothing is appended until it " +
            "is looked into (`safeclaw audit verify`)",
        );
      }
      const prevSeq = head ? Number(head.seq) : 0;
      const prevHash = head ? head.hash : GENESIS;
      const row: Omit<AuditRow, "hash"> = {
        seq: prevSeq + 1,
        ts: this.#now(),
        kind: storable(event.kind),
        severity: event.severity,
        session: event.session == null ? null : storable(event.session),
        data: canonicalJson(event.data ?? {}),
        prev_hash: prevHash,
      };
      const hash = this.#recordHash(row);
      await conn.insertInto("safeclaw_audit").values({ ...row, hash }).execute();
      const signature = this.#headSignature(row.seq, hash);
      if (head) {
        await conn.updateTable("safeclaw_audit_head").set({ seq: row.seq, hash, signature })
          .where("id", "=", 1).where("seq", "=", prevSeq).execute();
      } else {
        await conn.insertInto("safeclaw_audit_head").values({
          id: 1,
          seq: row.seq,
          hash,
          signature,
        }).execute();
      }
      return toRecord({ ...row, hash });
    });
  }

  async #holdsHistory(conn: Kysely<AuditTables>): Promise<boolean> {
    const record = await conn.selectFrom("safeclaw_audit").select("seq").limit(1)
      .executeTakeFirst();
    if (record) return true;
    const checkpoint = await conn.selectFrom("safeclaw_audit_checkpoints").select("seq").limit(1)
      .executeTakeFirst();
    return checkpoint !== undefined;
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

  /**
   * Walks the whole chain and names the first record that does not verify.
   *
   * It checks the chain as it stood at one moment: the signed head, the checkpoint and the
   * newest seq are read together first, and the walk stops at that seq, so records appended
   * while it runs are left for the next verify rather than taken for a cut-off tail. What it
   * cannot see is a wipe of every record, the head and every checkpoint: an empty log is a
   * valid log, and telling the two apart needs an anchor kept outside the store.
   */
  /**
   * Signs the newest record of a log that verifies: an anchor to keep outside the store, which
   * {@linkcode AuditLog.verify} then checks the log against. Null for a log with no records; a
   * 409 when the log does not verify (an anchor must never vouch for a tampered log).
   */
  async anchor(): Promise<AuditAnchor | null> {
    const result = await this.verify();
    if (!result.ok) {
      throw new A3sError(
        "audit_tampered",
        `the audit log does not verify (record ${result.firstBad!.seq}: ${
          result.firstBad!.reason
        }); no anchor is issued`,
        { status: 409 },
      );
    }
    const seq = (result.checkpointSeq ?? 0) + result.records;
    if (seq === 0) return null;
    const row = await this.#db.selectFrom("safeclaw_audit").select("hash").where("seq", "=", seq)
      .executeTakeFirst();
    // Pruned meanwhile: the checkpoint holds its hash.
    const hash = row?.hash ??
      (await this.#db.selectFrom("safeclaw_audit_checkpoints").select("hash")
        .where("seq", "=", seq).executeTakeFirst())?.hash;
    if (hash === undefined) throw new Error(`audit record ${seq} vanished while anchoring`);
    return { seq, hash, signature: this.#anchorSignature(seq, hash) };
  }

  /**
   * Checks the chain, its head and its checkpoint, and, given an `anchor` kept outside the
   * store, that the log still holds the record it vouches for: a log cut back to an older head,
   * or wiped, verifies on its own but not against a newer anchor.
   */
  async verify(options: { anchor?: AuditAnchor } = {}): Promise<VerifyResult> {
    const result = await this.#verifyChain();
    if (!result.ok || !options.anchor) return result;
    return await this.#checkAnchor(result, options.anchor);
  }

  async #checkAnchor(result: VerifyResult, anchor: AuditAnchor): Promise<VerifyResult> {
    const fail = (seq: number, reason: string): VerifyResult => ({
      ...result,
      ok: false,
      firstBad: { seq, reason },
    });
    if (!sameHex(this.#anchorSignature(anchor.seq, anchor.hash), anchor.signature)) {
      return fail(anchor.seq, "the anchor's signature is invalid: not made with this log's key");
    }
    const lastSeq = (result.checkpointSeq ?? 0) + result.records;
    if (anchor.seq > lastSeq) {
      return fail(
        lastSeq + 1,
        `chain ends at ${lastSeq} but the anchor kept outside vouches for record ${anchor.seq}: ` +
          "records cut off or the log wiped",
      );
    }
    const row = await this.#db.selectFrom("safeclaw_audit").select("hash")
      .where("seq", "=", anchor.seq).executeTakeFirst();
    const checkpoint = await this.#db.selectFrom("safeclaw_audit_checkpoints").select("hash")
      .where("seq", "=", anchor.seq).executeTakeFirst();
    // Older than the checkpoint and not the checkpoint itself: pruned, and the chain past the
    // checkpoint verified, so the log only grew since.
    const hash = row?.hash ?? checkpoint?.hash;
    if (hash !== undefined && !sameHex(hash, anchor.hash)) {
      return fail(
        anchor.seq,
        `record ${anchor.seq} is not the one the anchor vouches for: the log was rewritten`,
      );
    }
    return result;
  }

  async #verifyChain(): Promise<VerifyResult> {
    for (let attempt = 1;; attempt++) {
      const result = await this.#verifyOnce();
      if (result.ok || attempt >= VERIFY_ATTEMPTS) return result;
      // A prune that committed after our snapshot deleted records the walk had yet to read;
      // the chain is checked again from the checkpoint it left.
      const latest = await this.#db.selectFrom("safeclaw_audit_checkpoints").select("seq")
        .orderBy("seq", "desc").limit(1).executeTakeFirst();
      if ((latest ? Number(latest.seq) : null) === result.checkpointSeq) return result;
    }
  }

  async #verifyOnce(): Promise<VerifyResult> {
    const { checkpoint, head, newestSeq, staleSeq } = await this.#readSnapshot(async (conn) => {
      const checkpoint = await conn.selectFrom("safeclaw_audit_checkpoints").selectAll()
        .orderBy("seq", "desc").limit(1).executeTakeFirst();
      const head = await conn.selectFrom("safeclaw_audit_head").selectAll()
        .where("id", "=", 1).executeTakeFirst();
      const newest = await conn.selectFrom("safeclaw_audit").select("seq")
        .orderBy("seq", "desc").limit(1).executeTakeFirst();
      // Records at or below the checkpoint should have been pruned, and seqs start at 1: one
      // found there was inserted, and the walk, which starts past it, would not see it.
      const stale = await conn.selectFrom("safeclaw_audit").select("seq")
        .where("seq", "<=", checkpoint ? Number(checkpoint.seq) : 0).orderBy("seq", "asc")
        .limit(1).executeTakeFirst();
      return {
        checkpoint,
        head,
        newestSeq: newest ? Number(newest.seq) : 0,
        staleSeq: stale ? Number(stale.seq) : null,
      };
    });
    const checkpointSeq = checkpoint ? Number(checkpoint.seq) : null;
    const fail = (seq: number, reason: string, records: number): VerifyResult => ({
      ok: false,
      records,
      checkpointSeq,
      firstBad: { seq, reason },
    });
    let expectedSeq = 1;
    let expectedPrev = GENESIS;
    if (checkpoint) {
      const signature = this.#checkpointSignature(
        Number(checkpoint.seq),
        checkpoint.hash,
        Number(checkpoint.ts),
      );
      if (!sameHex(signature, checkpoint.signature)) {
        return fail(Number(checkpoint.seq), "checkpoint signature is invalid", 0);
      }
      expectedSeq = Number(checkpoint.seq) + 1;
      expectedPrev = checkpoint.hash;
    }
    if (staleSeq !== null) {
      const reason = checkpoint
        ? "record precedes the pruning checkpoint"
        : "record precedes the start of the chain";
      return fail(staleSeq, reason, 0);
    }
    const headSeq = head ? Number(head.seq) : null;
    let signedRecordHash: string | null = null;
    let count = 0;
    let after = checkpointSeq ?? 0;
    while (after < newestSeq) {
      const page = await this.#db.selectFrom("safeclaw_audit").selectAll()
        .where("seq", ">", after).where("seq", "<=", newestSeq)
        .orderBy("seq", "asc").limit(PAGE).execute();
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
        if (seq === headSeq) signedRecordHash = hash;
        expectedPrev = hash;
        expectedSeq = seq + 1;
        count++;
      }
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1].seq);
    }
    const lastSeq = expectedSeq - 1;
    if (!head) {
      // A log with a checkpoint always keeps its newest record and the head over it, so a
      // missing head there means the tail was deleted with it, even when no record is left.
      if (count > 0) return fail(lastSeq, "the signed head is missing", count);
      if (checkpoint) {
        return fail(
          lastSeq + 1,
          "the signed head and every record after the checkpoint are missing",
          0,
        );
      }
      return { ok: true, records: 0, checkpointSeq };
    }
    const signedSeq = Number(head.seq);
    if (!sameHex(this.#headSignature(signedSeq, head.hash), head.signature)) {
      return fail(signedSeq, "head signature is invalid", count);
    }
    if (signedSeq > lastSeq) {
      return fail(
        lastSeq + 1,
        `chain ends at ${lastSeq} but the signed head is ${signedSeq}: records cut off`,
        count,
      );
    }
    if (checkpointSeq !== null && signedSeq <= checkpointSeq) {
      // An older head put back: pruning leaves the head above the checkpoint.
      return fail(
        checkpointSeq + 1,
        `the signed head ${signedSeq} is not past the checkpoint: records cut off`,
        count,
      );
    }
    if (signedSeq < lastSeq) {
      // The snapshot read the head and the newest record together, and an append moves both
      // in one transaction: a record past the head was written around the log.
      return fail(
        signedSeq + 1,
        `record ${signedSeq + 1} follows the signed head: inserted`,
        count,
      );
    }
    if (signedRecordHash === null || !sameHex(head.hash, signedRecordHash)) {
      return fail(signedSeq, `record ${signedSeq} is not the one the signed head covers`, count);
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
    // It keeps the newest record, so the head always sits above the checkpoint: `verify` counts
    // a checkpoint without a head as a deleted tail.
    return await this.#writeTransaction(async (trx) => {
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
