/**
 * BM25 on PostgreSQL full-text search. PostgreSQL ranks with `ts_rank`/`ts_rank_cd`, which weigh
 * how often and how close the query's words occur but not how rare they are in the corpus, so a
 * common word counts as much as a distinctive one. BM25 needs three corpus figures besides the
 * stored `tsvector`:
 *
 * - the number of documents and their mean length, kept in `search_corpus_stats` by a trigger
 *   on every insert, update and delete (a document's length is its count of distinct lexemes,
 *   `length(tsv)`);
 * - each query lexeme's document frequency, counted at query time through the GIN index;
 * - each lexeme's frequency in a matching document: the number of its positions in the stored
 *   `tsvector` (PostgreSQL keeps at most 256 per lexeme, far past BM25's saturation), split into
 *   title (weight A) and body (weight B) occurrences.
 *
 * score(d) = Σ_t idf(t) · f · (k1 + 1) / (f + k1 · (1 − b + b · |d| / avgdl)), with
 * f = 10 · f_title + f_body (the title boost the SQLite index uses), k1 = 1.2, b = 0.75 and
 * idf(t) = ln(1 + (N − n_t + 0.5) / (n_t + 0.5)).
 *
 * Only the query's lexemes are taken out of each document's `tsvector`, by `setweight` and
 * `ts_filter` (linear passes in C), so scoring a match costs about what `ts_rank_cd` does.
 */
import { type Kysely, sql } from "kysely";
import type { DocumentTables } from "./_documents_table.ts";
import type { LocalHit } from "./local_index.ts";
import { type Clause, toTsquery } from "./query.ts";

/** BM25's term-frequency saturation. */
const K1 = 1.2;
/** BM25's document-length normalization. */
const B = 0.75;
/** An occurrence in the title counts as this many in the body. */
const TITLE_WEIGHT = 10;
/** Prefixes expand to the lexemes of at most this many matching documents. */
const PREFIX_SAMPLE = 200;

/** Adds the corpus statistics table and the trigger that keeps it. */
export const BM25_MIGRATION = {
  version: 2,
  name: "bm25_corpus_stats",
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`create table search_corpus_stats (
      id smallint primary key check (id = 1),
      documents bigint not null,
      lexemes bigint not null
    )`.execute(db);
    await sql`insert into search_corpus_stats (id, documents, lexemes)
      select 1, count(*), coalesce(sum(length(tsv)), 0) from search_documents`.execute(db);
    await sql`create function search_corpus_stats_track() returns trigger
      language plpgsql as $$
      begin
        if tg_op in ('UPDATE', 'DELETE') then
          update search_corpus_stats
            set documents = documents - 1, lexemes = lexemes - length(old.tsv) where id = 1;
        end if;
        if tg_op in ('INSERT', 'UPDATE') then
          update search_corpus_stats
            set documents = documents + 1, lexemes = lexemes + length(new.tsv) where id = 1;
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger search_corpus_stats_track
      after insert or update or delete on search_documents
      for each row execute function search_corpus_stats_track()`.execute(db);
  },
};

/** One page of matches of `clauses`, best BM25 score first. */
export async function bm25Match(
  db: Kysely<DocumentTables>,
  clauses: readonly Clause[],
  join: "AND" | "OR",
  page: { limit: number; offset: number; headline: string },
): Promise<LocalHit[]> {
  const words = clauses.flatMap((c) =>
    c.kind === "term" ? [c.word] : c.kind === "phrase" ? c.words : []
  ).join(" ");
  const prefixes = clauses.filter((c) => c.kind === "prefix").map((c) => c.word.toLowerCase());
  const { rows } = await sql<{ uri: string; title: string; snippet: string; score: number }>`
    with q as (
      select to_tsquery('english', ${toTsquery(clauses, join)}) as query,
        tsvector_to_array(to_tsvector('english', ${words})) as exact,
        array(
          select coalesce((tsvector_to_array(to_tsvector('english', p)))[1], p)
          from unnest(${prefixes}::text[]) p
        ) as prefixes
    ),
    matches as (
      select d.id, d.uri, d.title, d.body, d.tsv from search_documents d, q
      where d.tsv @@ q.query
    ),
    lexemes as (
      select array(
        select unnest(q.exact)
        union
        select l from (select tsv from matches limit ${sql.lit(PREFIX_SAMPLE)}) m,
          unnest(tsvector_to_array(m.tsv)) l, unnest(q.prefixes) p
        where starts_with(l, p)
      ) as list from q
    ),
    corpus as (
      select greatest(documents, 1)::float8 as n,
        greatest(lexemes::float8 / greatest(documents, 1), 1) as avgdl
      from search_corpus_stats where id = 1
    ),
    idf as (
      select l.lexeme, ln(1 + (c.n - df.n + 0.5) / (df.n + 0.5)) as idf
      from lexemes, unnest(lexemes.list) as l(lexeme), corpus c,
        lateral (
          select count(*)::float8 as n from search_documents d
          where d.tsv @@ quote_literal(l.lexeme)::tsquery
        ) df
    ),
    scored as (
      select m.id, m.uri, m.title, m.body, coalesce((
        select sum(i.idf * f.tf * ${sql.lit(K1 + 1)} /
          (f.tf + ${sql.lit(K1)} * (1 - ${sql.lit(B)} + ${sql.lit(B)} * length(m.tsv) / c.avgdl)))
        from (
          select a.lexeme,
            ${sql.lit(TITLE_WEIGHT - 1)} * coalesce(array_length(t.positions, 1), 0) +
              coalesce(array_length(a.positions, 1), 0) as tf
          from unnest(ts_filter(setweight(setweight(m.tsv, 'D'), 'C', lx.list), '{c}')) a
          left join unnest(ts_filter(
            setweight(setweight(ts_filter(m.tsv, '{a}'), 'D'), 'C', lx.list), '{c}'
          )) t on t.lexeme = a.lexeme
        ) f join idf i on i.lexeme = f.lexeme
      ), 0) as score
      from matches m, lexemes lx, corpus c
    ),
    hits as (
      select * from scored order by score desc, id limit ${page.limit} offset ${page.offset}
    )
    select hits.uri, hits.title, hits.score,
      ts_headline('english', left(hits.body, 100000), q.query, ${page.headline}) as snippet
    from hits, q order by hits.score desc, hits.id`.execute(db);
  return rows.map((r) => ({
    uri: r.uri,
    title: r.title,
    snippet: r.snippet,
    score: Number(r.score),
  }));
}
