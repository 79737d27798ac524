/**
 * The local index on PostgreSQL full-text search: a stored `tsvector` (title weighted A, body
 * B) under a GIN index, snippets from `ts_headline`. Matches are ranked by BM25 (the default,
 * see `_postgres_bm25.ts`) or by PostgreSQL's own `ts_rank_cd` (cover density).
 */
import { sql } from "kysely";
import type { Kysely } from "kysely";
import type { Store } from "@a3s/common";
import {
  countDocuments,
  type DocumentTables as Tables,
  listDocuments,
  removeDocuments,
} from "./_documents_table.ts";
import {
  contentHash,
  type IndexedDocument,
  type LocalDocument,
  type LocalHit,
  type LocalIndex,
  MAX_BODY_CHARS,
  type UpsertOutcome,
} from "./local_index.ts";
import { type Clause, parseQuery, toTsquery } from "./query.ts";
import { BM25_MIGRATION, bm25Match } from "./_postgres_bm25.ts";

/** How the PostgreSQL index orders matches. */
export type PostgresRanking = "bm25" | "ts_rank_cd";

const MIGRATIONS = [{
  version: 1,
  name: "tsvector_documents",
  async up(db: Kysely<unknown>) {
    await sql`create table search_documents (
      id bigserial primary key,
      uri text not null unique,
      title text not null,
      body text not null,
      source text not null,
      hash text not null,
      size integer not null,
      updated_at bigint not null,
      tsv tsvector generated always as (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', left(body, 1000000)), 'B')
      ) stored
    )`.execute(db);
    await sql`create index search_documents_tsv on search_documents using gin (tsv)`.execute(db);
  },
}, BM25_MIGRATION];

/** ts_headline options: one fragment of about 30 words with matches in `<mark>`. */
const HEADLINE = "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=1";

/** The PostgreSQL implementation of {@linkcode LocalIndex}. */
export class PostgresTextIndex implements LocalIndex {
  readonly backend = "postgres-fts" as const;

  private constructor(
    private readonly db: Kysely<Tables>,
    /** The ranking this index uses. */
    readonly ranking: PostgresRanking,
  ) {}

  /** Opens the index on a PostgreSQL store, migrating it first; BM25 ranking unless told. */
  static async open(
    store: Store,
    ranking: PostgresRanking = "bm25",
  ): Promise<PostgresTextIndex> {
    await store.migrate("search_pgfts", MIGRATIONS);
    return new PostgresTextIndex(store.db<Tables>(), ranking);
  }

  async upsert(docs: readonly LocalDocument[]): Promise<UpsertOutcome[]> {
    const outcomes: UpsertOutcome[] = [];
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      for (const raw of docs) {
        // NUL cannot be stored in PostgreSQL text; it carries no meaning in a document anyway.
        const body = raw.body.slice(0, MAX_BODY_CHARS).replaceAll("\u0000", "");
        const title = raw.title.replaceAll("\u0000", "");
        const doc = { ...raw, title, body };
        const hash = await contentHash(doc);
        const existing = await tx.selectFrom("search_documents").select(["id", "hash"])
          .where("uri", "=", doc.uri).executeTakeFirst();
        if (existing?.hash === hash) {
          outcomes.push("unchanged");
          continue;
        }
        const row = {
          uri: doc.uri,
          title,
          body,
          source: doc.source,
          hash,
          size: body.length,
          updated_at: now,
        };
        await tx.insertInto("search_documents").values(row)
          .onConflict((oc) => oc.column("uri").doUpdateSet(row)).execute();
        outcomes.push(existing ? "updated" : "added");
      }
    });
    return outcomes;
  }

  remove(uriOrPrefix: string): Promise<number> {
    return removeDocuments(this.db, uriOrPrefix);
  }

  list(
    options: { prefix?: string; limit?: number; offset?: number } = {},
  ): Promise<IndexedDocument[]> {
    return listDocuments(this.db, options);
  }

  count(): Promise<number> {
    return countDocuments(this.db);
  }

  async search(
    query: string,
    options: { limit?: number; offset?: number } = {},
  ): Promise<LocalHit[]> {
    const clauses = parseQuery(query);
    if (!clauses.length) return [];
    const limit = options.limit ?? 10;
    const offset = options.offset ?? 0;
    let hits = await this.#match(clauses, "AND", limit, offset);
    if (!hits.length && clauses.length > 1) {
      hits = await this.#match(clauses, "OR", limit, offset);
    }
    return hits;
  }

  #match(
    clauses: readonly Clause[],
    join: "AND" | "OR",
    limit: number,
    offset: number,
  ): Promise<LocalHit[]> {
    if (this.ranking === "bm25") {
      return bm25Match(this.db, clauses, join, { limit, offset, headline: HEADLINE });
    }
    return this.#matchCoverDensity(toTsquery(clauses, join), limit, offset);
  }

  async #matchCoverDensity(tsquery: string, limit: number, offset: number): Promise<LocalHit[]> {
    const { rows } = await sql<{ uri: string; title: string; snippet: string; score: number }>`
      with q as (select to_tsquery('english', ${tsquery}) as query),
      hits as (
        select d.uri, d.title, d.body, ts_rank_cd(d.tsv, q.query, 1) as score
        from search_documents d, q where d.tsv @@ q.query
        order by score desc, d.id limit ${limit} offset ${offset}
      )
      select hits.uri, hits.title, hits.score,
        ts_headline('english', left(hits.body, 100000), q.query, ${HEADLINE}) as snippet
      from hits, q order by hits.score desc`.execute(this.db);
    return rows.map((r) => ({
      uri: r.uri,
      title: r.title,
      snippet: r.snippet,
      score: Number(r.score),
    }));
  }
}
