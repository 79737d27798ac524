/**
 * The local full-text engine's contract and its factory: SQLite FTS5 on the embedded store,
 * PostgreSQL full-text search when the store is PostgreSQL. Both keep documents in the shared
 * store, so the index survives restarts and every process sees the same one.
 */
import type { Store } from "@a3s/common";
import { Fts5Index } from "./fts5_index.ts";
import { type PostgresRanking, PostgresTextIndex } from "./postgres_index.ts";

/** A document to index. */
export interface LocalDocument {
  /** Its identity: `file:///path`, `https://...`, or `memory:<id>` for the agent's memory. */
  uri: string;
  /** Its title, weighted above the body when ranking. */
  title: string;
  /** Its plain text; only the first 2 Mi characters are kept. */
  body: string;
  /** Where it came from: `file`, `url`, `memory` or `api`. */
  source: string;
}

/** A document as listed. */
export interface IndexedDocument {
  /** Its identity: `file:///path`, `https://...` or `memory:<id>`. */
  uri: string;
  /** Its title. */
  title: string;
  /** Where it came from: `file`, `url`, `memory` or `api`. */
  source: string;
  /** Body length in characters. */
  size: number;
  /** When its content was last written, in epoch milliseconds. */
  updatedAt: number;
}

/** One hit; `snippet` marks matched terms with `<mark>`…`</mark>`. */
export interface LocalHit {
  /** The matching document's URI. */
  uri: string;
  /** The document's title. */
  title: string;
  /** An excerpt around the matched terms. */
  snippet: string;
  /** Relevance, higher is better; comparable only within one search and one backend. */
  score: number;
}

/** What an upsert did. */
export type UpsertOutcome = "added" | "updated" | "unchanged";

/** Which implementation runs, for the README's "which one runs" and for `index ls`. */
export type LocalBackend = "sqlite-fts5" | "postgres-fts";

/** A full-text index over the user's documents. */
export interface LocalIndex {
  /** The implementation behind this index. */
  readonly backend: LocalBackend;
  /** Adds or replaces documents by URI; unchanged content is not rewritten. */
  upsert(docs: readonly LocalDocument[]): Promise<UpsertOutcome[]>;
  /** Removes the document with this URI, or every one under it when it ends in `/`. */
  remove(uriOrPrefix: string): Promise<number>;
  /** Documents in URI order, optionally only those whose URI starts with `prefix` (default 100). */
  list(options?: { prefix?: string; limit?: number; offset?: number }): Promise<IndexedDocument[]>;
  /** How many documents the index holds. */
  count(): Promise<number>;
  /** Ranked hits; all clauses must match, or, when none does, any. */
  search(query: string, options?: { limit?: number; offset?: number }): Promise<LocalHit[]>;
}

/** Body text kept per document: bigger files are indexed by their first 2 MiB of text. */
export const MAX_BODY_CHARS = 2 * 1024 * 1024;

/** SHA-256 hex of a document's content, to skip rewriting what did not change. */
export async function contentHash(doc: LocalDocument): Promise<string> {
  const bytes = new TextEncoder().encode(`${doc.title}\u0000${doc.body}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Opens the index on `store`, creating its tables on first use. On PostgreSQL, `postgresRanking`
 * picks BM25 (the default) or PostgreSQL's own `ts_rank_cd`.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { openLocalIndex } from "@a3s/search";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const index = await openLocalIndex(store);
 * await index.upsert([{ uri: "memory:1", title: "Note", body: "deno runs TypeScript", source: "memory" }]);
 * console.log((await index.search("typescript"))[0].uri); // "memory:1"
 * await store.close();
 * ```
 */
export async function openLocalIndex(
  store: Store,
  options: { postgresRanking?: PostgresRanking } = {},
): Promise<LocalIndex> {
  if (store.kind === "postgres") {
    return await PostgresTextIndex.open(store, options.postgresRanking);
  }
  return await Fts5Index.open(store);
}
