import { openStore, type Store } from "@a3s/common";
import { assert, assertEquals, createTestDatabase } from "@a3s/common/testing";
import { sql } from "kysely";
import { PostgresTextIndex } from "./postgres_index.ts";
import { defaultSearchConfig } from "../config.ts";
import { SearchService } from "../search.ts";
import { checkIndexContract } from "./_index_contract.ts";

/** A PostgreSQL store on a fresh database, or undefined (with a SKIPPED line) without one. */
async function withPostgres(fn: (store: Store) => Promise<void>): Promise<void> {
  const database = await createTestDatabase("a3s_search_bm25");
  if (!database) return;
  const store = await openStore({ databaseUrl: database.url });
  try {
    await fn(store);
  } finally {
    await store.close();
    await database.drop();
  }
}

Deno.test("PostgreSQL ranks by BM25: a rare word outweighs a common one", async () => {
  await withPostgres(async (store) => {
    const index = await PostgresTextIndex.open(store);
    assertEquals(index.ranking, "bm25");
    // "linux" is in every document, "kernel" in two: BM25's idf makes kernel decide.
    const filler = Array.from({ length: 20 }, (_, i) => ({
      uri: `memory:filler${i}`,
      title: `Note ${i}`,
      body: `linux desktop tips number ${i}`,
      source: "api",
    }));
    await index.upsert([
      {
        uri: "memory:linux",
        title: "Distribution",
        body: "linux linux linux linux linux kernel",
        source: "api",
      },
      {
        uri: "memory:kernel",
        title: "Internals",
        body: "kernel kernel kernel linux scheduler",
        source: "api",
      },
      ...filler,
    ]);
    const hits = await index.search("linux kernel");
    assertEquals(hits.map((h) => h.uri), ["memory:kernel", "memory:linux"]);

    // The score is BM25's, computed here from the same corpus figures.
    const { rows } = await sql<{ uri: string; len: number }>`
      select uri, length(tsv) as len from search_documents`.execute(store.db());
    const lengths = new Map(rows.map((r) => [r.uri, Number(r.len)]));
    const n = 22;
    const avgdl = [...lengths.values()].reduce((a, b) => a + b, 0) / n;
    const idf = (df: number) => Math.log(1 + (n - df + 0.5) / (df + 0.5));
    const term = (tf: number, len: number, df: number) =>
      idf(df) * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len / avgdl));
    const len = lengths.get("memory:kernel")!;
    const expected = term(3, len, 2) + term(1, len, 22);
    assert(Math.abs(hits[0].score - expected) < 1e-9, `${hits[0].score} vs ${expected}`);

    // The title is scored as its own field, three times the body's weight: one occurrence in
    // a short title outweighs three in a body.
    await index.upsert([{
      uri: "memory:titled",
      title: "Kernel",
      body: "linux notes",
      source: "api",
    }]);
    assertEquals((await index.search("linux kernel"))[0].uri, "memory:titled");

    // PostgreSQL's own ranking, still available, orders by cover density instead.
    const cd = await PostgresTextIndex.open(store, "ts_rank_cd");
    assertEquals(cd.ranking, "ts_rank_cd");
    assertEquals((await cd.search("linux kernel")).length, 3);
  });
});

Deno.test("the BM25 corpus figures follow every insert, update and delete", async () => {
  await withPostgres(async (store) => {
    const index = await PostgresTextIndex.open(store);
    const stats = async () => {
      const { rows } = await sql<{ documents: string; lexemes: string; actual: string }>`
        select s.documents, s.lexemes,
          (select coalesce(sum(length(tsv)), 0) from search_documents) as actual
        from search_corpus_stats s`.execute(store.db());
      return {
        documents: Number(rows[0].documents),
        lexemes: Number(rows[0].lexemes),
        actual: Number(rows[0].actual),
      };
    };
    await index.upsert([
      { uri: "file:///a/1", title: "One", body: "alpha beta gamma", source: "file" },
      { uri: "file:///a/2", title: "Two", body: "beta gamma delta epsilon", source: "file" },
      { uri: "file:///b/3", title: "Three", body: "zeta", source: "file" },
    ]);
    let s = await stats();
    assertEquals([s.documents, s.lexemes], [3, s.actual]);
    await index.upsert([{ uri: "file:///a/1", title: "One", body: "alpha", source: "file" }]);
    s = await stats();
    assertEquals([s.documents, s.lexemes], [3, s.actual]);
    assertEquals(await index.remove("file:///a/"), 2);
    s = await stats();
    assertEquals([s.documents, s.lexemes], [1, s.actual]);
  });
});

Deno.test("PostgreSQL with ts_rank_cd passes the same contract", async () => {
  await withPostgres(async (store) => {
    await checkIndexContract(await PostgresTextIndex.open(store, "ts_rank_cd"));
  });
});

Deno.test("the search config picks the PostgreSQL ranking", async () => {
  await withPostgres(async (store) => {
    const byDefault = await SearchService.open(store, defaultSearchConfig());
    assertEquals((byDefault.index as PostgresTextIndex).ranking, "bm25");
    const chosen = await SearchService.open(
      store,
      defaultSearchConfig({ postgresRanking: "ts_rank_cd" }),
    );
    assertEquals((chosen.index as PostgresTextIndex).ranking, "ts_rank_cd");
  });
});
