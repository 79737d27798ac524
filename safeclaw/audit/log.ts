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
import { appendAnchorLine, type AuditAnchor, formatAnchor, parseAnchorLines } from "./anchor.ts";
import { MIN_KEY_BYTES } from "./key.ts";
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
  /**
   * The first bad record and what is wrong with it. `seq` is 0 when no record can be named (a
   * table dropped; a row whose stored seq is no integer, then shown as stored in `row`).
   */
  firstBad?: { seq: number; reason: string; row?: string };
  /**
   * Set when the log verified but a cut of its newest records (back to an older signed head,
   * which a copy of the database or its WAL may hold) or a wipe of the whole log cannot be ruled
   * out: no anchor was checked, this process could not write its anchor file
   * ({@linkcode AuditLog.anchorError}), or the anchor file lags the log by more than the
   * anchoring interval allows. Several reasons are joined with `; `.
   */
  warning?: string;
}

/** {@linkcode VerifyResult.warning} when no anchor was checked. */
export const NO_ANCHOR_WARNING =
  "no anchor was checked: a cut of the newest records or a wipe of the whole log cannot be " +
  "ruled out; keep anchors outside the store (safeclaw audit anchor, or an anchor file)";

/** How often, by default, the log appends an anchor to its anchor file. */
export const ANCHOR_EVERY_RECORDS = 100;
/** ... or, when records come slowly, after this long (ms) since the last anchor. */
export const ANCHOR_EVERY_MS = 5 * 60_000;

/** The largest seq (and ts) a record may hold: beyond it, JavaScript numbers lose digits. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

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
  /**
   * A file outside the store that the log appends a signed anchor line to, every
   * `anchorEveryRecords` records or `anchorEveryMs` (checked at each append), and at
   * {@linkcode AuditLog.close}; {@linkcode AuditLog.verify} checks the log against its newest
   * anchor. It catches a cut of the newest records or a wipe of the log by whoever can write
   * the store but not this file, up to the last anchor written (records after it can still go
   * unnoticed). Whoever can also rewrite or truncate this file can roll both back together: put
   * it on another volume or machine, or an append-only file, never beside the database. Unset:
   * no anchors are written, and verify warns that a cut tail cannot be ruled out.
   */
  anchorFile?: string;
  /** Records between two anchors written to `anchorFile` (default 100). */
  anchorEveryRecords?: number;
  /** Milliseconds after which the next append writes an anchor anyway (default 5 minutes). */
  anchorEveryMs?: number;
  /**
   * Called when a write to `anchorFile` fails after the last one succeeded (once an outage, not
   * at each retry), with the error and the first record left unanchored: for the server to log.
   * Appends go on regardless; {@linkcode AuditLog.anchorError} and
   * {@linkcode AuditLog.verify} report it too. It must not throw.
   */
  onAnchorError?: (error: Error, unanchoredFrom: number) => void;
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
  #anchorFile?: string;
  #anchorEveryRecords: number;
  #anchorEveryMs: number;
  /** The newest record this process appended and has not anchored yet. */
  #unanchored?: { seq: number; hash: string };
  #sinceAnchor = 0;
  #lastAnchorAt: number;
  #anchorError?: Error;
  /** The first record left unanchored since the anchor file stopped being writable. */
  #anchorFailingFrom?: number;
  /** The first record appended since the last anchor this process wrote. */
  #unanchoredFrom?: number;
  #onAnchorError?: (error: Error, unanchoredFrom: number) => void;
  #anchorTimer?: ReturnType<typeof setTimeout>;

  private constructor(store: Store, options: AuditLogOptions) {
    this.#db = store.db<AuditTables>();
    this.#kind = store.kind;
    this.#key = options.hmacKey;
    this.#now = options.now ?? Date.now;
    this.#anchorFile = options.anchorFile;
    this.#anchorEveryRecords = Math.max(1, options.anchorEveryRecords ?? ANCHOR_EVERY_RECORDS);
    this.#anchorEveryMs = options.anchorEveryMs ?? ANCHOR_EVERY_MS;
    this.#onAnchorError = options.onAnchorError;
    // Read only with an anchor file: a test's clock may count its calls.
    this.#lastAnchorAt = options.anchorFile === undefined ? 0 : this.#now();
  }

  /** Migrates the tables and returns the log. */
  static async open(store: Store, options: AuditLogOptions): Promise<AuditLog> {
    if (new TextEncoder().encode(options.hmacKey).length < MIN_KEY_BYTES) {
      throw new A3sError(
        "audit_key_invalid",
        `safeclaw audit: the HMAC key must be at least ${MIN_KEY_BYTES} bytes`,
      );
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
    const run = this.#tail.then(() => this.#appendNow(event)).then(async (record) => {
      for (const observe of this.#observers) observe(record);
      await this.#noteForAnchor(record);
      return record;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * The last failure to write the anchor file, if the newest attempt failed (a full disk, a
   * permission, a symlink planted at its path). Appends go on regardless, since refusing every
   * decision for want of an anchor would stop the service; the next append tries again.
   * {@linkcode AuditLogOptions.onAnchorError} is told at the first failure, and
   * {@linkcode AuditLog.verify} warns while it lasts.
   */
  get anchorError(): Error | undefined {
    return this.#anchorError;
  }

  async #noteForAnchor(record: AuditRecord): Promise<void> {
    if (this.#anchorFile === undefined) return;
    this.#unanchored = { seq: record.seq, hash: record.hash };
    this.#unanchoredFrom ??= record.seq;
    this.#sinceAnchor++;
    if (
      this.#sinceAnchor >= this.#anchorEveryRecords ||
      this.#now() - this.#lastAnchorAt >= this.#anchorEveryMs
    ) await this.#writeAnchor();
    else if (this.#anchorTimer === undefined) {
      // A quiet log still anchors its newest records within anchorEveryMs, not only at the next
      // append or a clean close (a crash has none).
      const timer = setTimeout(() => {
        this.#anchorTimer = undefined;
        const run = this.#tail.then(() => this.#writeAnchor());
        this.#tail = run.catch(() => undefined);
      }, this.#anchorEveryMs);
      // It must not keep a process alive that is otherwise done.
      Deno.unrefTimer(timer);
      this.#anchorTimer = timer;
    }
  }

  /**
   * Appends the newest record this process wrote to the anchor file. Written only after the
   * record committed, so an anchor never vouches for a record a reader cannot see yet.
   */
  async #writeAnchor(): Promise<void> {
    const record = this.#unanchored;
    if (this.#anchorFile === undefined || record === undefined) return;
    const line = formatAnchor({
      ...record,
      signature: this.#anchorSignature(record.seq, record.hash),
    });
    try {
      await appendAnchorLine(this.#anchorFile, line);
      this.#anchorError = undefined;
      this.#anchorFailingFrom = undefined;
      this.#unanchoredFrom = undefined;
      this.#unanchored = undefined;
      clearTimeout(this.#anchorTimer);
      this.#anchorTimer = undefined;
      this.#sinceAnchor = 0;
      this.#lastAnchorAt = this.#now();
    } catch (error) {
      this.#anchorError = error instanceof Error ? error : new Error(String(error));
      if (this.#anchorFailingFrom === undefined) {
        this.#anchorFailingFrom = this.#unanchoredFrom ?? record.seq;
        try {
          this.#onAnchorError?.(this.#anchorError, this.#anchorFailingFrom);
        } catch {
          // A logger's failure must not fail the append whose record is already committed.
        }
      }
    }
  }

  /**
   * Waits for pending appends and anchors the newest record this process wrote, so that a
   * clean shutdown leaves no unanchored tail. The store is the caller's to close, after this.
   */
  async close(): Promise<void> {
    clearTimeout(this.#anchorTimer);
    this.#anchorTimer = undefined;
    await this.#tail;
    const run = this.#tail.then(() => this.#writeAnchor());
    this.#tail = run.catch(() => undefined);
    await run;
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
   * store (or else the newest anchor of `anchorFile`, by default the log's own), that the log
   * still holds the record it vouches for: a log cut back to an older head, or wiped, verifies
   * on its own but not against a newer anchor. Without any anchor the result carries
   * {@linkcode VerifyResult.warning}. A store damaged past reading (a table dropped, a seq no
   * JavaScript number holds) is a failed result, not an error.
   */
  async verify(
    options: { anchor?: AuditAnchor; anchorFile?: string } = {},
  ): Promise<VerifyResult> {
    const anchorFile = options.anchor ? undefined : options.anchorFile ?? this.#anchorFile;
    // Read before the chain: an anchor is written after its record commits, so every anchor
    // read now vouches for a record the chain's snapshot must hold. Read after, an anchor of a
    // record appended meanwhile would look like a cut-off tail.
    const kept = anchorFile === undefined ? undefined : await this.#readAnchorFile(anchorFile);
    let result: VerifyResult;
    try {
      result = await this.#verifyChain();
    } catch (error) {
      if (!isStoreDamage(error)) throw error;
      return {
        ok: false,
        records: 0,
        checkpointSeq: null,
        firstBad: {
          seq: 0,
          reason: `the audit tables cannot be read as the log wrote them (${
            error instanceof Error ? error.message : String(error)
          }): changed outside the log`,
        },
      };
    }
    if (!result.ok) return result;
    const warnings: string[] = [];
    if (this.#anchorError && this.#anchorFile !== undefined) {
      warnings.push(
        `this process could not write its anchor file ${this.#anchorFile} since record ${
          this.#anchorFailingFrom ?? "?"
        } (${this.#anchorError.message}): records after its newest anchor can be cut unnoticed`,
      );
    }
    let checked: VerifyResult;
    if (options.anchor) checked = await this.#checkAnchor(result, options.anchor);
    else if (kept?.failure) return { ...result, ok: false, firstBad: kept.failure };
    else if (kept?.anchor) {
      checked = await this.#checkAnchor(result, kept.anchor);
      const lag = checked.ok ? await this.#anchorLag(anchorFile!, kept.anchor.seq) : undefined;
      if (lag) warnings.push(lag);
    } else {
      checked = result;
      warnings.push(
        anchorFile === undefined
          ? NO_ANCHOR_WARNING
          : `the anchor file ${anchorFile} ${
            kept?.missing ? "does not exist (not written yet, or deleted)" : "holds no anchor"
          }: ${NO_ANCHOR_WARNING}`,
      );
    }
    if (!checked.ok || !warnings.length) return checked;
    return { ...checked, warning: warnings.join("; ") };
  }

  /**
   * Why the anchor file, whose newest anchor is record `anchored`, lags the log more than its
   * writers allow, or undefined. A writer anchors each record within `anchorEveryMs` of it (its
   * timer), so a record older than twice that (the slack covers a slow disk and the clocks of
   * two hosts) with no anchor at or past it means anchoring has stopped: the file cannot be
   * written, or a writer is configured without it.
   *
   * A warning and not a failure: the log still verified against the anchor up to `anchored`,
   * and a writer that crashed before its timer fired leaves such a tail too, innocently; failing
   * would make every crash look like tampering, and an alarm that rings for nothing is turned
   * off. What it flags is real, though: those records can be cut without verify seeing it, so it
   * is said plainly, with the records at stake. Only time is weighed, not the count of records
   * (`anchorEveryRecords`): several processes appending to one log each anchor their own every
   * so many records, so the count between two anchors has no bound, while the time does.
   */
  async #anchorLag(anchorFile: string, anchored: number): Promise<string | undefined> {
    const first = await this.#db.selectFrom("safeclaw_audit").select(["seq", "ts"])
      .where("seq", ">", anchored).orderBy("seq", "asc").limit(1).executeTakeFirst();
    if (!first) return undefined;
    const age = this.#now() - Number(first.ts);
    if (age <= 2 * this.#anchorEveryMs) return undefined;
    const newest = await this.#db.selectFrom("safeclaw_audit").select("seq")
      .orderBy("seq", "desc").limit(1).executeTakeFirst();
    return `the anchor file ${anchorFile} lags the log: its newest anchor is record ${anchored}, ` +
      `and records ${first.seq} to ${newest?.seq ?? first.seq} are covered by none, the oldest ` +
      `written ${Math.round(age / 1000)} s ago (anchors are due within ${
        Math.round(this.#anchorEveryMs / 1000)
      } s): a cut of them would go unnoticed; check that every writer can write the anchor file`;
  }

  /** The newest anchor of `path`, or the reason the file cannot vouch for anything. */
  async #readAnchorFile(path: string): Promise<{
    anchor?: AuditAnchor;
    failure?: NonNullable<VerifyResult["firstBad"]>;
    missing?: boolean;
  }> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { missing: true };
      throw new A3sError(
        "audit_anchor_unreadable",
        `cannot read the audit anchor file ${path}: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    let newest: AuditAnchor | undefined;
    for (const { line, anchor } of parseAnchorLines(text)) {
      if (!anchor) {
        return { failure: { seq: 0, reason: `anchor file ${path} line ${line} is malformed` } };
      }
      if (!sameHex(this.#anchorSignature(anchor.seq, anchor.hash), anchor.signature)) {
        return {
          failure: {
            seq: anchor.seq,
            reason: `anchor file ${path} line ${line}: the signature is invalid: not made ` +
              "with this log's key (a different key, or a forged line)",
          },
        };
      }
      if (!newest || anchor.seq > newest.seq) newest = anchor;
    }
    return { anchor: newest };
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
    const snapshot = await this.#readSnapshot(async (conn) => {
      // First, since reading such a seq as a number would throw (or round it to another).
      const odd = await this.#oddSeqRow(conn);
      if (odd) return { odd };
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
    if ("odd" in snapshot) {
      const { seqText, seqOk } = snapshot.odd!;
      return {
        ok: false,
        records: 0,
        checkpointSeq: null,
        firstBad: seqOk
          ? {
            seq: Number(seqText),
            reason: "its time is not a safe integer: edited outside the log",
          }
          : {
            seq: 0,
            row: seqText,
            reason: `a row whose seq is ${
              JSON.stringify(seqText)
            }, not a whole number the log writes, was written outside the log`,
          },
      };
    }
    const { checkpoint, head, newestSeq, staleSeq } = snapshot;
    // A wrong key fails the head and every record alike; named as such, it is not mistaken for
    // an edit of the first record (an edit alone leaves the head's signature good).
    const headSignedByOtherKey = head !== undefined &&
      !sameHex(this.#headSignature(Number(head.seq), head.hash), head.signature);
    const keyMismatch = (seq: number, records: number) =>
      fail(
        seq,
        "the audit key does not match the one this log was chained with: neither the signed " +
          "head nor the oldest record verifies under it (check safeclaw.auditKey, " +
          "A3S_SAFECLAW_AUDIT_KEY and <home>/safeclaw/audit.key; if the key is right, the log " +
          "was rewritten)",
        records,
      );
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
        if (headSignedByOtherKey) return keyMismatch(Number(checkpoint.seq), 0);
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
      const page = await this.#page(after, newestSeq);
      for (const { stored, ...row } of page) {
        const seq = Number(row.seq);
        if (seq !== expectedSeq) {
          return fail(expectedSeq, `record ${expectedSeq} is missing (next is ${seq})`, count);
        }
        if (!sameHex(row.prev_hash, expectedPrev)) {
          return fail(seq, "previous-hash link does not match: inserted or reordered", count);
        }
        const { hash, ...rest } = row;
        if (!sameHex(this.#recordHash(rest), hash)) {
          if (count === 0 && headSignedByOtherKey) return keyMismatch(seq, count);
          return fail(seq, "record hash does not match its contents: edited", count);
        }
        const hidden = hiddenBytes(row, stored);
        if (hidden) {
          return fail(
            seq,
            `its ${hidden} holds bytes after a NUL, which readers of the file see and the ` +
              "hash does not cover: edited",
            count,
          );
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
   * A record whose stored seq is no integer a JavaScript number holds exactly (text, a blob, a
   * fraction, past 2^53), or whose time is out of that range: the log writes none, and reading
   * one as a number would throw or take it for another record.
   */
  async #oddSeqRow(
    conn: Kysely<AuditTables>,
  ): Promise<{ seqText: string; seqOk: boolean } | undefined> {
    const found = this.#kind === "sqlite"
      ? await sql<{ seq_text: string; seq_ok: number }>`
          select cast(seq as text) as seq_text,
            (typeof(seq) = 'integer' and seq between ${-MAX_SEQ} and ${MAX_SEQ}) as seq_ok
          from safeclaw_audit
          where typeof(seq) <> 'integer' or seq not between ${-MAX_SEQ} and ${MAX_SEQ}
            or typeof(ts) <> 'integer' or ts not between ${-MAX_SEQ} and ${MAX_SEQ}
          order by seq_ok limit 1`.execute(conn)
      : await sql<{ seq_text: string; seq_ok: boolean }>`
          select seq::text as seq_text, (seq between ${-MAX_SEQ} and ${MAX_SEQ}) as seq_ok
          from safeclaw_audit
          where seq not between ${-MAX_SEQ} and ${MAX_SEQ} or ts not between ${-MAX_SEQ} and ${MAX_SEQ}
          order by seq_ok limit 1`.execute(conn);
    const row = found.rows[0];
    return row && { seqText: String(row.seq_text), seqOk: Boolean(row.seq_ok) };
  }

  /**
   * The next page of records after `after`, up to `last`, with the stored byte length of each
   * text field where the store can hold a NUL (SQLite): text read back stops at a NUL, so
   * bytes after one would be in the file but not in what is hashed.
   */
  async #page(after: number, last: number): Promise<(AuditRow & { stored?: StoredLengths })[]> {
    const base = this.#db.selectFrom("safeclaw_audit").selectAll()
      .where("seq", ">", after).where("seq", "<=", last).orderBy("seq", "asc").limit(PAGE);
    if (this.#kind !== "sqlite") return await base.execute();
    const rows = await base.select([
      sql<number>`length(cast(kind as blob))`.as("kind_bytes"),
      sql<number>`length(cast(severity as blob))`.as("severity_bytes"),
      sql<number | null>`length(cast(session as blob))`.as("session_bytes"),
      sql<number>`length(cast(data as blob))`.as("data_bytes"),
      sql<number>`length(cast(prev_hash as blob))`.as("prev_hash_bytes"),
      sql<number>`length(cast(hash as blob))`.as("hash_bytes"),
    ]).execute();
    return rows.map((
      {
        kind_bytes,
        severity_bytes,
        session_bytes,
        data_bytes,
        prev_hash_bytes,
        hash_bytes,
        ...row
      },
    ) => ({
      ...row,
      stored: {
        kind: kind_bytes,
        severity: severity_bytes,
        session: session_bytes,
        data: data_bytes,
        prev_hash: prev_hash_bytes,
        hash: hash_bytes,
      },
    }));
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

/** The stored byte length of each text field of a record. */
type StoredLengths = Record<
  "kind" | "severity" | "session" | "data" | "prev_hash" | "hash",
  number | null
>;

/** The first text field of `row` whose stored bytes are more than were read back, if any. */
function hiddenBytes(row: AuditRow, stored: StoredLengths | undefined): string | undefined {
  if (!stored) return undefined;
  const encoder = new TextEncoder();
  for (const [field, length] of Object.entries(stored)) {
    const text = row[field as keyof StoredLengths];
    if (length === null || typeof text !== "string") continue;
    if (encoder.encode(text).length !== Number(length)) return field;
  }
  return undefined;
}

/**
 * Whether `error` from reading the log means its tables were changed past reading, outside the
 * log (dropped, a column gone, a value out of range), rather than the database being away.
 */
function isStoreDamage(error: unknown): boolean {
  return error instanceof RangeError ||
    /no such (table|column)|(relation|column) "[^"]*" does not exist|malformed|not a database|datatype mismatch/i
      .test(
        String(error),
      );
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
