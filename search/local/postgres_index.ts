/**
 * The local index on PostgreSQL full-text search: a stored `tsvector` (title weighted A, body
 * B) under a GIN index, ranked by `ts_rank_cd` (cover density, PostgreSQL's closest to BM25),
 * snippets from `ts_headline`.
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
import { parseQuery, toTsquery } from "./query.ts";

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
}];

/** ts_headline options: one fragment of about 30 words with matches in `<mark>`. */
const HEADLINE = "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=1";

/** The PostgreSQL implementation of {@linkcode LocalIndex}. */
export class PostgresTextIndex implements LocalIndex {
  readonly backend = "postgres-fts" as const;

  private constructor(private readonly db: Kysely<Tables>) {}

  /** Opens the index on a PostgreSQL store, migrating it first. */
  static async open(store: Store): Promise<PostgresTextIndex> {
    await store.migrate("search_pgfts", MIGRATIONS);
    return new PostgresTextIndex(store.db<Tables>());
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
    let hits = await this.#match(toTsquery(clauses, "AND"), limit, offset);
    if (!hits.length && clauses.length > 1) {
      hits = await this.#match(toTsquery(clauses, "OR"), limit, offset);
    }
    return hits;
  }

  async #match(tsquery: string, limit: number, offset: number): Promise<LocalHit[]> {
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
