/**
 * BM25 on PostgreSQL full-text search. PostgreSQL ranks with `ts_rank`/`ts_rank_cd`, which weigh
 * how often and how close the query's words occur but not how rare they are in the corpus, so a
 * common word counts as much as a distinctive one. BM25 needs three corpus figures besides the
 * stored `tsvector`:
 *
 * - the number of documents and their mean length and mean title length, kept in
 *   `search_corpus_stats` by a trigger on every insert, update and delete (a length is a count of
 *   distinct lexemes, `length(tsv)`);
 * - each query lexeme's document frequency, counted at query time through the GIN index;
 * - each lexeme's frequency in a matching document: the number of its positions in the stored
 *   `tsvector` (PostgreSQL keeps at most 256 per lexeme, far past BM25's saturation), of which
 *   those in the title are counted by parsing the (short) title again.
 *
 * The title and the body are scored as two fields (BM25F's shape), each with its own length
 * normalization, the title's weighted 3×:
 *
 * score(d) = Σ_t idf(t) · (3 · sat(f_title, |title|, avgtl) + sat(f_body, |d|, avgdl)), where
 * sat(f, l, avg) = f · (k1 + 1) / (f + k1 · (1 − b + b · l / avg)), k1 = 1.2, b = 0.75 and
 * idf(t) = ln(1 + (N − n_t + 0.5) / (n_t + 0.5)). On known-item queries a single weighted term
 * frequency (f = w · f_title + f_body) saturated too soon for the title to tell.
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
/** The title field's weight against the body's. */
const TITLE_WEIGHT = 3;
/** Prefixes expand to the lexemes of at most this many matching documents... */
const PREFIX_SAMPLE = 200;
/** ...and to the most frequent of them there. */
const PREFIX_LEXEMES = 20;

/** Adds the corpus statistics table and the trigger that keeps it. */
export const BM25_MIGRATION = {
  version: 2,
  name: "bm25_corpus_stats",
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`create table search_corpus_stats (
      id smallint primary key check (id = 1),
      documents bigint not null,
      lexemes bigint not null,
      title_lexemes bigint not null
    )`.execute(db);
    await sql`insert into search_corpus_stats (id, documents, lexemes, title_lexemes)
      select 1, count(*), coalesce(sum(length(tsv)), 0),
        coalesce(sum(length(ts_filter(tsv, '{a}'))), 0)
      from search_documents`.execute(db);
    await sql`create function search_corpus_stats_track() returns trigger
      language plpgsql as $$
      begin
        if tg_op in ('UPDATE', 'DELETE') then
          update search_corpus_stats
            set documents = documents - 1, lexemes = lexemes - length(old.tsv),
              title_lexemes = title_lexemes - length(ts_filter(old.tsv, '{a}'))
            where id = 1;
        end if;
        if tg_op in ('INSERT', 'UPDATE') then
          update search_corpus_stats
            set documents = documents + 1, lexemes = lexemes + length(new.tsv),
              title_lexemes = title_lexemes + length(ts_filter(new.tsv, '{a}'))
            where id = 1;
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
  return await db.transaction().execute(async (tx) => {
    // The plan's cost estimate can pass the JIT threshold, and compiling it costs more (about
    // 200 ms) than running it: this query is interpreted.
    await sql`set local jit = off`.execute(tx);
    const { rows } = await sql<
      { uri: string; title: string; snippet: string; score: number }
    >`
    with q as (
      select to_tsquery('english', ${toTsquery(clauses, join)}) as query,
        tsvector_to_array(to_tsvector('english', ${words})) as exact,
        array(
          select coalesce((tsvector_to_array(to_tsvector('english', p)))[1], p)
          from unnest(${prefixes}::text[]) p
        ) as prefixes
    ),
    matches as materialized (
      select d.id, d.tsv, to_tsvector('english', d.title) as title
      from search_documents d, q where d.tsv @@ q.query
    ),
    lexemes as (
      select array(
        select unnest(q.exact)
        union
        (select l from (select tsv from matches limit ${sql.lit(PREFIX_SAMPLE)}) m,
          unnest(tsvector_to_array(m.tsv)) l, unnest(q.prefixes) p
        where starts_with(l, p) group by l order by count(*) desc, l
        limit ${sql.lit(PREFIX_LEXEMES)})
      ) as list from q
    ),
    corpus as (
      select greatest(documents, 1)::float8 as n,
        greatest(lexemes::float8 / greatest(documents, 1), 1) as avgdl,
        greatest(title_lexemes::float8 / greatest(documents, 1), 1) as avgtl
      from search_corpus_stats where id = 1
    ),
    idf as materialized (
      select l.lexeme, ln(1 + (c.n - df.n + 0.5) / (df.n + 0.5)) as idf
      from lexemes, unnest(lexemes.list) as l(lexeme), corpus c,
        lateral (
          select count(*)::float8 as n from search_documents d
          where d.tsv @@ quote_literal(l.lexeme)::tsquery
        ) df
    ),
    scored as (
      select m.id, coalesce((
        select sum(i.idf * (
          ${sql.lit(TITLE_WEIGHT)} * f.in_title * ${sql.lit(K1 + 1)} / (f.in_title + ${
      sql.lit(K1)
    } * (1 - ${sql.lit(B)} + ${sql.lit(B)} * length(m.title) / c.avgtl)) +
          f.in_body * ${sql.lit(K1 + 1)} / (f.in_body + ${sql.lit(K1)} * (1 - ${sql.lit(B)} + ${
      sql.lit(B)
    } * length(m.tsv) / c.avgdl))
        ))
        from (
          select a.lexeme, coalesce(array_length(t.positions, 1), 0) as in_title,
            array_length(a.positions, 1) - coalesce(array_length(t.positions, 1), 0) as in_body
          from unnest(ts_filter(setweight(m.tsv, 'C', lx.list), '{c}')) a
          left join unnest(m.title) t on t.lexeme = a.lexeme
        ) f join idf i on i.lexeme = f.lexeme
      ), 0) as score
      from matches m, lexemes lx, corpus c
    ),
    hits as (
      select * from scored order by score desc, id limit ${page.limit} offset ${page.offset}
    )
    select d.uri, d.title, hits.score,
      ts_headline('english', left(d.body, 100000), q.query, ${page.headline}) as snippet
    from hits join search_documents d on d.id = hits.id, q
    order by hits.score desc, hits.id`.execute(tx);
    return rows.map((r) => ({
      uri: r.uri,
      title: r.title,
      snippet: r.snippet,
      score: Number(r.score),
    }));
  });
}
