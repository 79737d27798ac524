import { openStore } from "@a3s/common";
import { assertEquals } from "@a3s/common/testing";
import { openLocalIndex } from "./local_index.ts";
import { checkIndexContract } from "./_index_contract.ts";

Deno.test("SQLite FTS5 index: BM25, phrases, prefixes, snippets, incremental updates", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const index = await openLocalIndex(store);
    assertEquals(index.backend, "sqlite-fts5");
    await checkIndexContract(index);
  } finally {
    await store.close();
  }
});

Deno.test("SQLite FTS5 index survives reopening the store file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await openStore({ home: dir });
    await (await openLocalIndex(first)).upsert([
      { uri: "memory:1", title: "Kept", body: "persistent words", source: "memory" },
    ]);
    await first.close();
    const second = await openStore({ home: dir });
    const hits = await (await openLocalIndex(second)).search("persistent");
    assertEquals(hits.map((h) => h.uri), ["memory:1"]);
    await second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
