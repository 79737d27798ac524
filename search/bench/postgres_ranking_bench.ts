/**
 * PostgreSQL's two rankings of the local index on one corpus in one run: BM25 (the default,
 * `local/_postgres_bm25.ts`) against `ts_rank_cd`, with the same top-10 quality check on
 * known-item queries and query latency p50/p99 measured in interleaved rounds, and the SQLite
 * FTS5 index (BM25 by FTS5) beside them. The figures print once at load; `deno bench` then
 * times one query per iteration.
 *
 *   deno bench -A search/bench/postgres_ranking_bench.ts
 *
 * Needs the test PostgreSQL (`A3S_TEST_DATABASE_URL`, or the one `.ci/postgres.sh` starts).
 * Set A3S_BENCH_DOCS to change the corpus size (default 12,000).
 */
import { openStore } from "@a3s/common";
import { createTestDatabase, testPostgresUrl } from "@a3s/common/testing";
import { sql } from "kysely";
import { Fts5Index } from "../local/fts5_index.ts";
import type { LocalIndex } from "../local/local_index.ts";
import { PostgresTextIndex } from "../local/postgres_index.ts";
import { knownItemQueries, loadCorpus } from "./_corpus.ts";

const SIZE = Number(Deno.env.get("A3S_BENCH_DOCS") ?? 12_000);
const ROUNDS = 2;

// The unload handler below cannot wait for the drop of this run's database, so the next run
// drops what an earlier one left.
const admin = await testPostgresUrl();
if (admin) {
  const adminStore = await openStore({ databaseUrl: admin });
  const { rows } = await sql<{ datname: string }>`
    select datname from pg_database where datname like 'a3s_search_bench_%'`.execute(
    adminStore.db(),
  );
  for (const { datname } of rows) {
    await sql`drop database if exists ${sql.id(datname)} with (force)`.execute(adminStore.db());
  }
  await adminStore.close();
}
const database = await createTestDatabase("a3s_search_bench");
if (!database) throw new Error("this benchmark needs PostgreSQL: set A3S_TEST_DATABASE_URL");
const docs = await loadCorpus(SIZE);
const queries = knownItemQueries(docs, 200);
if (!queries.length) {
  throw new Error(`no man pages among the first ${docs.length} documents; raise A3S_BENCH_DOCS`);
}

const pgStore = await openStore({ databaseUrl: database.url });
const home = await Deno.makeTempDir({ prefix: "search_pg_bench_" });
const sqliteStore = await openStore({ home });
const bm25 = await PostgresTextIndex.open(pgStore, "bm25");
const coverDensity = await PostgresTextIndex.open(pgStore, "ts_rank_cd");
const fts5 = await Fts5Index.open(sqliteStore);

async function fill(index: LocalIndex): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < docs.length; i += 500) {
    await index.upsert(
      docs.slice(i, i + 500).map((d) => ({
        uri: d.uri,
        title: d.title,
        body: d.body,
        source: "file",
      })),
    );
  }
  return docs.length / ((performance.now() - started) / 1000);
}
// Both PostgreSQL rankings read the same rows: one fill serves them.
const pgRate = await fill(bm25);
const sqliteRate = await fill(fts5);

const contenders: Array<{ name: string; index: LocalIndex; docsPerSecond: number }> = [
  { name: "PostgreSQL BM25", index: bm25, docsPerSecond: pgRate },
  { name: "PostgreSQL ts_rank_cd", index: coverDensity, docsPerSecond: pgRate },
  { name: "SQLite FTS5 BM25", index: fts5, docsPerSecond: sqliteRate },
];

async function top10(index: LocalIndex, query: string): Promise<string[]> {
  return (await index.search(query, { limit: 10 })).map((h) => h.uri);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const table: string[][] = [];
const latencies = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const q of queries) {
    for (const c of contenders) {
      const t = performance.now();
      await top10(c.index, q.query);
      latencies.get(c.name)!.push(performance.now() - t);
    }
  }
}
for (const c of contenders) {
  let found = 0;
  let reciprocal = 0;
  for (const q of queries) {
    const rank = (await top10(c.index, q.query)).indexOf(q.relevant);
    if (rank >= 0) {
      found++;
      reciprocal += 1 / (rank + 1);
    }
  }
  const sorted = latencies.get(c.name)!.sort((a, b) => a - b);
  table.push([
    c.name,
    c.docsPerSecond.toFixed(0),
    (found / queries.length).toFixed(3),
    (reciprocal / queries.length).toFixed(3),
    percentile(sorted, 50).toFixed(1),
    percentile(sorted, 99).toFixed(1),
  ]);
}
const header = ["ranking", "docs/s", "recall@10", "MRR@10", "p50 ms", "p99 ms"];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
console.log(
  `\nPostgreSQL ranking benchmark: ${docs.length} documents, ${queries.length} known-item ` +
    `queries, ${ROUNDS} interleaved latency rounds\n` +
    [header, ...table].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n") +
    "\n",
);

let next = 0;
const nextQuery = () => queries[next++ % queries.length].query;
for (const c of contenders) {
  Deno.bench({
    name: c.name,
    group: "local query",
    baseline: c === contenders[0],
    async fn() {
      await top10(c.index, nextQuery());
    },
  });
}

globalThis.addEventListener("unload", () => {
  Promise.all([pgStore.close(), sqliteStore.close()])
    .then(() => database.drop())
    .finally(() => Deno.removeSync(home, { recursive: true }));
});
