/**
 * The local index on SQLite FTS5: documents in `search_documents`, an external-content FTS5
 * table kept in step by triggers, BM25 ranking with the title weighted over the body.
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
import { highlight } from "./highlight.ts";
import { type Clause, parseQuery, toFts5 } from "./query.ts";

/** BM25 column weights: a match in the title counts ten times one in the body. */
const TITLE_WEIGHT = 10;
const BODY_WEIGHT = 1;

const MIGRATIONS = [{
  version: 1,
  name: "fts5_documents",
  async up(db: Kysely<unknown>) {
    await sql`create table search_documents (
      id integer primary key,
      uri text not null unique,
      title text not null,
      body text not null,
      source text not null,
      hash text not null,
      size integer not null,
      updated_at integer not null
    )`.execute(db);
    // Porter stemming over unicode61: "runs" finds "running"; diacritics fold away.
    await sql`create virtual table search_fts using fts5(
      title, body, content='search_documents', content_rowid='id',
      tokenize='porter unicode61 remove_diacritics 2'
    )`.execute(db);
    await sql`create trigger search_documents_ai after insert on search_documents begin
      insert into search_fts(rowid, title, body) values (new.id, new.title, new.body);
    end`.execute(db);
    await sql`create trigger search_documents_ad after delete on search_documents begin
      insert into search_fts(search_fts, rowid, title, body) values ('delete', old.id, old.title, old.body);
    end`.execute(db);
    await sql`create trigger search_documents_au after update on search_documents begin
      insert into search_fts(search_fts, rowid, title, body) values ('delete', old.id, old.title, old.body);
      insert into search_fts(rowid, title, body) values (new.id, new.title, new.body);
    end`.execute(db);
  },
}, {
  version: 2,
  name: "fts5_rank",
  async up(db: Kysely<unknown>) {
    // The weighted BM25 as the table's own rank, so `order by rank limit n` takes FTS5's
    // optimized path instead of calling bm25() as an ordinary function per row.
    await sql`insert into search_fts(search_fts, rank) values ('rank', ${
      sql.raw(`'bm25(${TITLE_WEIGHT}.0, ${BODY_WEIGHT}.0)'`)
    })`.execute(db);
  },
}, {
  version: 3,
  name: "fts5_titles",
  async up(db: Kysely<unknown>) {
    // FTS5's BM25 takes a term's IDF over whole documents, so a word common in bodies
    // ("user", "account") weighs nothing even in a title. A titles-only index gives titles
    // their own IDF, as per-field BM25 engines (Lucene, MiniSearch) do.
    await sql`create virtual table search_titles using fts5(
      title, content='search_documents', content_rowid='id',
      tokenize='porter unicode61 remove_diacritics 2'
    )`.execute(db);
    await sql`insert into search_titles(search_titles) values ('rebuild')`.execute(db);
    await sql`create trigger search_titles_ai after insert on search_documents begin
      insert into search_titles(rowid, title) values (new.id, new.title);
    end`.execute(db);
    await sql`create trigger search_titles_ad after delete on search_documents begin
      insert into search_titles(search_titles, rowid, title) values ('delete', old.id, old.title);
    end`.execute(db);
    await sql`create trigger search_titles_au after update on search_documents begin
      insert into search_titles(search_titles, rowid, title) values ('delete', old.id, old.title);
      insert into search_titles(rowid, title) values (new.id, new.title);
    end`.execute(db);
  },
}];

/** Documents re-ranked with their title scores: the best of the whole-document ranking. */
const RERANK_WINDOW = 200;

/** The SQLite FTS5 implementation of {@linkcode LocalIndex}. */
export class Fts5Index implements LocalIndex {
  readonly backend = "sqlite-fts5" as const;

  private constructor(private readonly db: Kysely<Tables>) {}

  /** Opens the index on a SQLite store, migrating it first. */
  static async open(store: Store): Promise<Fts5Index> {
    await store.migrate("search_fts5", MIGRATIONS);
    return new Fts5Index(store.db<Tables>());
  }

  async upsert(docs: readonly LocalDocument[]): Promise<UpsertOutcome[]> {
    const prepared = await Promise.all(docs.map(async (doc) => {
      const body = doc.body.slice(0, MAX_BODY_CHARS);
      return { ...doc, body, hash: await contentHash({ ...doc, body }) };
    }));
    return await this.db.transaction().execute(async (tx) => {
      const outcomes: UpsertOutcome[] = [];
      const now = Date.now();
      for (const doc of prepared) {
        const existing = await tx.selectFrom("search_documents").select(["id", "hash"])
          .where("uri", "=", doc.uri).executeTakeFirst();
        if (existing?.hash === doc.hash) {
          outcomes.push("unchanged");
          continue;
        }
        const row = {
          uri: doc.uri,
          title: doc.title,
          body: doc.body,
          source: doc.source,
          hash: doc.hash,
          size: doc.body.length,
          updated_at: now,
        };
        if (existing) {
          await tx.updateTable("search_documents").set(row).where("id", "=", existing.id).execute();
          outcomes.push("updated");
        } else {
          await tx.insertInto("search_documents").values(row).execute();
          outcomes.push("added");
        }
      }
      return outcomes;
    });
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
    let hits = await this.#match(toFts5(clauses, "AND"), clauses, limit, offset);
    if (!hits.length && clauses.length > 1) {
      hits = await this.#match(toFts5(clauses, "OR"), clauses, limit, offset);
    }
    return hits;
  }

  async #match(
    match: string,
    clauses: readonly Clause[],
    limit: number,
    offset: number,
  ): Promise<LocalHit[]> {
    // 1. Rank in the index alone (selecting bodies or snippet() here would do that work for
    //    every matching row before the sort).
    const window = Math.max(RERANK_WINDOW, offset + limit);
    const { rows } = await sql<{ id: number; rank: number }>`
      select rowid as id, rank from search_fts where search_fts match ${match}
      order by rank limit ${window}`.execute(this.db);
    if (rows.length <= offset) return [];
    // 2. Add each candidate's title score, with IDF over titles (any query word may match).
    const ids = rows.map((r) => Number(r.id));
    const { rows: titled } = await sql<{ id: number; score: number }>`
      select rowid as id, bm25(search_titles) as score from search_titles
      where search_titles match ${toFts5(clauses, "OR")} and rowid in (${sql.join(ids)})`
      .execute(this.db);
    const titleScore = new Map(titled.map((t) => [Number(t.id), -t.score]));
    // FTS5's bm25 is negative, lower is better; scores here are higher-is-better.
    const ranked = rows.map((r) => ({
      id: Number(r.id),
      score: -r.rank + (titleScore.get(Number(r.id)) ?? 0),
    })).sort((a, b) => b.score - a.score).slice(offset, offset + limit);
    // 3. Read the page's documents and build their snippets.
    const documents = await this.db.selectFrom("search_documents")
      .select(["id", "uri", "title", "body"])
      .where("id", "in", ranked.map((r) => r.id)).execute();
    const byId = new Map(documents.map((d) => [Number(d.id), d]));
    return ranked.flatMap((r) => {
      const doc = byId.get(r.id);
      if (!doc) return [];
      return [{
        uri: doc.uri,
        title: doc.title,
        snippet: highlight(doc.body, clauses),
        score: r.score,
      }];
    });
  }
}
