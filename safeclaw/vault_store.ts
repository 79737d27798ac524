/**
 * Placeholder vaults kept in the shared store, so a restart does not lose the mapping needed to
 * give a user's own values back. Each original is encrypted at rest with AES-256-GCM under a key
 * derived from the audit key (HKDF), bound to its session and placeholder (so a row copied to
 * another session does not decrypt), and expires after a configured time.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import type { Kysely } from "kysely";
import type { Migration, Store } from "@a3s/common";
import { Vault, type VaultEntry, type VaultOrigin } from "./sanitize.ts";

interface VaultTables {
  safeclaw_vault: {
    session: string;
    placeholder: string;
    type: string;
    /** base64 of iv (12 bytes) | tag (16 bytes) | ciphertext. */
    sealed: string;
    /**
     * `input`, `output` or `untrusted` (see `VaultOrigin`); rows from before the column are
     * `input`.
     */
    origin: string;
    created_at: number;
    expires_at: number;
  };
}

const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "vault",
  async up(db: Kysely<unknown>) {
    await db.schema.createTable("safeclaw_vault")
      .addColumn("session", "text", (c) => c.notNull())
      .addColumn("placeholder", "text", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("sealed", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("safeclaw_vault_pk", ["session", "placeholder"])
      .execute();
    await db.schema.createIndex("safeclaw_vault_expires").on("safeclaw_vault")
      .column("expires_at").execute();
  },
}, {
  version: 2,
  name: "vault origin",
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("safeclaw_vault")
      .addColumn("origin", "text", (c) => c.notNull().defaultTo("input")).execute();
  },
}];

/** Options of {@linkcode VaultStore.open}. */
export interface VaultStoreOptions {
  /** The secret the encryption key is derived from (the audit HMAC key); 16+ bytes. */
  secret: string;
  /** How long an original is kept after it was first redacted, in milliseconds. */
  ttlMs: number;
  /** The clock (tests move it). */
  now?: () => number;
}

/**
 * Persistent, encrypted, expiring vaults, one per session.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { VaultStore } from "./vault_store.ts";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const vaults = await VaultStore.open(store, { secret: "a key of at least 16 bytes", ttlMs: 3_600_000 });
 * const vault = await vaults.load("u:c:t");
 * const p = vault.placeholderFor("email", "ada@example.org");
 * await vaults.flush();
 * console.log((await vaults.load("u:c:t")).restore(p)); // ada@example.org
 * await store.close();
 * ```
 */
export class VaultStore {
  #db: Kysely<VaultTables>;
  #key: Buffer;
  #hashKey: Uint8Array;
  #ttlMs: number;
  #now: () => number;
  #pending = new Set<Promise<void>>();
  // Placeholders made since the last write, written together: a text with 20,000 distinct
  // values made 20,000 inserts, each its own transaction, and held the server for 13 s.
  #queued: { session: string; entry: VaultEntry }[] = [];
  #writeScheduled = false;

  private constructor(store: Store, options: VaultStoreOptions) {
    this.#db = store.db<VaultTables>();
    this.#key = Buffer.from(
      hkdfSync("sha256", options.secret, "a3s safeclaw", "placeholder vault v1", 32),
    );
    // Another key from the same secret for redaction's hash mode: the same value hashes the
    // same across sessions and restarts of one deployment, and differently in another.
    this.#hashKey = new Uint8Array(
      hkdfSync("sha256", options.secret, "a3s safeclaw", "redaction hash v1", 32),
    );
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** Migrates the table and returns the store. */
  static async open(store: Store, options: VaultStoreOptions): Promise<VaultStore> {
    if (new TextEncoder().encode(options.secret).length < 16) {
      throw new Error("safeclaw vault: the secret must be at least 16 bytes");
    }
    if (!(options.ttlMs > 0)) throw new Error("safeclaw vault: ttlMs must be positive");
    await store.migrate("safeclaw_vault", MIGRATIONS);
    return new VaultStore(store, options);
  }

  #seal(session: string, placeholder: string, value: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(`${session}\u0000${placeholder}`));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  #open(session: string, placeholder: string, sealed: string): string | undefined {
    try {
      const raw = Buffer.from(sealed, "base64");
      const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${session}\u0000${placeholder}`));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      // A row that does not authenticate (another key, edited, moved) is not an original.
      return undefined;
    }
  }

  /**
   * The session's vault with every unexpired original it had, each expiring in memory when its
   * row does; new placeholders it makes are written behind it (see {@linkcode VaultStore.flush}).
   */
  async load(session: string): Promise<Vault> {
    // Placeholders made but not yet written are read back too: a vault loaded again (the guard
    // lets idle ones go) would otherwise number a new value like one still in the queue.
    await Promise.allSettled([...this.#pending]);
    const rows = await this.#db.selectFrom("safeclaw_vault").selectAll()
      .where("session", "=", session).execute();
    const now = this.#now();
    const entries: VaultEntry[] = [];
    // Expired rows not purged yet: their numbers are not given again (the new row's insert
    // would meet the old one's key and be dropped, losing the new original on the next load).
    const retired: Pick<VaultEntry, "placeholder" | "type">[] = [];
    for (const row of rows) {
      const expiresAt = Number(row.expires_at);
      const value = expiresAt > now ? this.#open(session, row.placeholder, row.sealed) : undefined;
      if (value === undefined) {
        retired.push({ placeholder: row.placeholder, type: row.type });
        continue;
      }
      entries.push({
        placeholder: row.placeholder,
        type: row.type,
        value,
        origin: originOf(row.origin),
        expiresAt,
      });
    }
    return new Vault({
      entries,
      retired,
      onAdd: (entry) => this.#enqueue(session, entry),
      ttlMs: this.#ttlMs,
      now: this.#now,
      hashKey: this.#hashKey,
    });
  }

  #track(write: Promise<void>): void {
    const tracked = write.finally(() => this.#pending.delete(tracked));
    // `flush` reports a failed write; until it is asked, the failure is not an unhandled one.
    tracked.catch(() => {});
    this.#pending.add(tracked);
  }

  #enqueue(session: string, entry: VaultEntry): void {
    this.#queued.push({ session, entry });
    if (this.#writeScheduled) return;
    this.#writeScheduled = true;
    // Once the code that made it yields: every placeholder one text makes (synchronously, in one
    // pass) goes in the same write, and the write starts before anything awaited resumes.
    this.#track(Promise.resolve().then(() => this.#writeQueued()));
  }

  async #writeQueued(): Promise<void> {
    const batch = this.#queued;
    this.#queued = [];
    this.#writeScheduled = false;
    const now = this.#now();
    const rows = batch.map(({ session, entry }) => ({
      session,
      placeholder: entry.placeholder,
      type: entry.type,
      sealed: this.#seal(session, entry.placeholder, entry.value),
      origin: entry.origin ?? "input",
      created_at: now,
      // As the vault in memory has it, so the original expires there and here alike.
      expires_at: entry.expiresAt ?? now + this.#ttlMs,
    }));
    await this.#db.transaction().execute(async (trx) => {
      // Seven values a row: 500 rows stay under every database's limit on bound parameters.
      for (let i = 0; i < rows.length; i += 500) {
        await trx.insertInto("safeclaw_vault").values(rows.slice(i, i + 500))
          .onConflict((oc) => oc.columns(["session", "placeholder"]).doNothing()).execute();
      }
    });
  }

  /** Resolves once every placeholder made so far is stored; rejects if a write failed. */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  /** Deletes expired originals; returns how many. */
  async purgeExpired(): Promise<number> {
    const result = await this.#db.deleteFrom("safeclaw_vault")
      .where("expires_at", "<=", this.#now()).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }
}

/**
 * A stored origin as a {@linkcode VaultOrigin}; one this code does not know is not taken for the
 * user's own (only `input` is ever given back to the user).
 */
function originOf(stored: string): VaultOrigin {
  return stored === "input" || stored === "output" ? stored : "untrusted";
}
