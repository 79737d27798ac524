/**
 * API tokens kept in the shared store. A token is `a3s_<id>_<secret>`: the id finds the row,
 * and only a SHA-256 hash of the whole token is stored, compared in constant time. The plain
 * token exists once, in the answer to {@linkcode TokenStore.create}.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Migration, Store } from "../store.ts";
import { A3sError, NotFoundError, ValidationError } from "../errors.ts";
import { scopeSchema } from "./scopes.ts";

interface TokenRow {
  id: string;
  name: string;
  secret_hash: string;
  scopes: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface TokenTables {
  api_tokens: TokenRow;
}

/** A stored token as `token ls` shows it: never the secret. */
export interface TokenInfo {
  /** The public part of the token, used to revoke it. */
  id: string;
  /** A label. */
  name: string;
  /** What it may do. */
  scopes: string[];
  /** ISO time of creation. */
  createdAt: string;
  /** ISO time of last use, to a minute. */
  lastUsedAt?: string;
  /** ISO time of revocation. */
  revokedAt?: string;
}

/** Who a verified token belongs to. */
export interface TokenIdentity {
  /** The stored token's id, or `config:<n>` for a token from config. */
  id: string;
  /** A label for logs. */
  name: string;
  /** What it may do. */
  scopes: string[];
}

const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "api_tokens",
  up: (db) =>
    db.schema.createTable("api_tokens")
      .addColumn("id", "varchar(32)", (c) => c.primaryKey())
      .addColumn("name", "varchar(200)", (c) => c.notNull())
      .addColumn("secret_hash", "varchar(64)", (c) => c.notNull())
      .addColumn("scopes", "text", (c) => c.notNull())
      .addColumn("created_at", "varchar(40)", (c) => c.notNull())
      .addColumn("last_used_at", "varchar(40)")
      .addColumn("revoked_at", "varchar(40)")
      .execute(),
}];

const TOKEN_PATTERN = /^a3s_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/**
 * Whether `token` is one of ours by its look: every stored token starts `a3s_`, so one that
 * does and fails to verify is a mistyped, forged or revoked a3s token, not some other
 * service's placeholder key.
 *
 * @example
 * ```ts
 * import { looksLikeStoredToken } from "@a3s/common";
 * console.log(looksLikeStoredToken("a3s_0123456789abcdef_x")); // true
 * console.log(looksLikeStoredToken("ollama")); // false
 * ```
 */
export function looksLikeStoredToken(token: string): boolean {
  return token.startsWith("a3s_");
}

/** Compared against when no row matches, so a miss costs what a hit costs. */
const DUMMY_HASH = "0".repeat(64);
/** `last_used_at` is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/**
 * A verified token is trusted this long without asking the database again: a revocation by
 * another process (the CLI) takes effect within it; one by this process at once.
 */
const VERIFIED_TTL_MS = 1_000;
/** Verified tokens remembered at most; the cache is dropped whole when it fills. */
const VERIFIED_MAX = 1_000;

/** SHA-256 of `text`, as 64 hex digits. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Constant-time equality of two hex digests of the same length. */
export function digestsEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes),
    createdAt: row.created_at,
    ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
    ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
  };
}

/**
 * Creates, lists, revokes and verifies the tokens in the store.
 *
 * @example
 * ```ts
 * import { openStore, TokenStore } from "@a3s/common";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const tokens = await TokenStore.open(store);
 * const { token } = await tokens.create({ name: "ci", scopes: ["power:read"] });
 * console.log((await tokens.verify(token))?.scopes); // ["power:read"]
 * await store.close();
 * ```
 */
export class TokenStore {
  readonly #store: Store;
  readonly #lastUsedWritten = new Map<string, number>();
  readonly #verified = new Map<string, { identity: TokenIdentity; until: number }>();

  private constructor(store: Store) {
    this.#store = store;
  }

  /** Applies the token table's migrations and returns the store. */
  static async open(store: Store): Promise<TokenStore> {
    await store.migrate("security", MIGRATIONS);
    return new TokenStore(store);
  }

  #db() {
    return this.#store.db<TokenTables>();
  }

  /** Makes a token; the returned `token` is the only time its secret is seen. */
  async create(
    options: { name?: string; scopes: string[] },
  ): Promise<TokenInfo & { token: string }> {
    if (!options.scopes.length) throw new ValidationError("scope: at least one scope", "scope");
    for (const scope of options.scopes) {
      const checked = scopeSchema.safeParse(scope);
      if (!checked.success) {
        throw new ValidationError(`scope: '${scope}' ${checked.error.issues[0].message}`, "scope");
      }
    }
    const id = Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const token = `a3s_${id}_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
    const row: TokenRow = {
      id,
      name: options.name ?? id,
      secret_hash: sha256Hex(token),
      scopes: JSON.stringify([...new Set(options.scopes)]),
      created_at: new Date().toISOString(),
      last_used_at: null,
      revoked_at: null,
    };
    await this.#db().insertInto("api_tokens").values(row).execute();
    return { ...toInfo(row), token };
  }

  /** Every token, newest first; revoked ones too, marked. */
  async list(): Promise<TokenInfo[]> {
    const rows = await this.#db().selectFrom("api_tokens").selectAll().orderBy("created_at", "desc")
      .execute();
    return rows.map(toInfo);
  }

  /** Number of tokens that still work. */
  async activeCount(): Promise<number> {
    const rows = await this.#db().selectFrom("api_tokens").select("id").where(
      "revoked_at",
      "is",
      null,
    ).execute();
    return rows.length;
  }

  /** Revokes a token by id; it stops working on the next request. */
  async revoke(id: string): Promise<TokenInfo> {
    const row = await this.#db().selectFrom("api_tokens").selectAll().where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`token '${id}' not found`, "id");
    if (row.revoked_at) {
      throw new A3sError("already_revoked", `token '${id}' is already revoked`, {
        status: 409,
        field: "id",
      });
    }
    const revokedAt = new Date().toISOString();
    for (const [hash, entry] of this.#verified) {
      if (entry.identity.id === id) this.#verified.delete(hash);
    }
    await this.#db().updateTable("api_tokens").set({ revoked_at: revokedAt }).where("id", "=", id)
      .execute();
    return toInfo({ ...row, revoked_at: revokedAt });
  }

  /** The identity of a valid, unrevoked token, else undefined. Constant-time on the secret. */
  async verify(token: string): Promise<TokenIdentity | undefined> {
    const hash = sha256Hex(token);
    const known = this.#verified.get(hash);
    if (known && known.until > performance.now()) return known.identity;
    const id = token.match(TOKEN_PATTERN)?.[1];
    const row = id
      ? await this.#db().selectFrom("api_tokens").selectAll().where("id", "=", id)
        .executeTakeFirst()
      : undefined;
    const matches = digestsEqual(hash, row?.secret_hash ?? DUMMY_HASH);
    if (!row || !matches || row.revoked_at) return undefined;
    await this.#touch(row.id);
    const identity: TokenIdentity = { id: row.id, name: row.name, scopes: JSON.parse(row.scopes) };
    if (this.#verified.size >= VERIFIED_MAX) this.#verified.clear();
    this.#verified.set(hash, { identity, until: performance.now() + VERIFIED_TTL_MS });
    return identity;
  }

  async #touch(id: string): Promise<void> {
    const now = Date.now();
    if (now - (this.#lastUsedWritten.get(id) ?? 0) < LAST_USED_RESOLUTION_MS) return;
    this.#lastUsedWritten.set(id, now);
    await this.#db().updateTable("api_tokens").set({ last_used_at: new Date(now).toISOString() })
      .where("id", "=", id).execute();
  }
}
