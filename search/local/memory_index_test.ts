import { openStore, type Store, ValidationError } from "@a3s/common";
import { assert, assertEquals, assertRejects, createTestDatabase } from "@a3s/common/testing";
import { defaultSearchConfig } from "../config.ts";
import { SearchService } from "../search.ts";
import { memoryIdOf, memoryUri } from "./memory_index.ts";

/** What the agent framework does with its memories, seen through a plain `search`. */
async function checkMemoryFeed(store: Store): Promise<void> {
  // Nothing configured: the default engine set is the local index alone.
  const search = await SearchService.open(store, defaultSearchConfig());
  assertEquals(search.defaultEngines(), ["local"]);
  await search.index.upsert([{
    uri: "file:///docs/lanes.md",
    title: "Lanes",
    body: "Per-session priority queues with retries.",
    source: "file",
  }]);

  assertEquals(
    await search.memory.upsert({
      id: "mem_tests",
      text: "The project's tests run with deno test -A from the repository root, module by module.",
      tags: ["testing", "workflow"],
    }),
    "added",
  );
  await search.memory.upsert({ id: "user/prefs", text: "The user prefers tabs over spaces." });

  const found = await search.search("how do tests run");
  assertEquals(found.results[0].url, "memory:mem_tests");
  assertEquals(
    found.results[0].title,
    "The project's tests run with deno test -A from the repository root, module by m…",
  );
  assert(found.results[0].snippet.includes("<mark>"), found.results[0].snippet);
  // Tags are searchable, and memories sit beside files in one index.
  assertEquals((await search.search("workflow")).results.map((r) => r.url), [
    "memory:mem_tests",
  ]);
  assertEquals((await search.search("priority queues")).results[0].url, "file:///docs/lanes.md");
  // An id with a slash is one memory, never a prefix.
  assertEquals((await search.search("tabs")).results[0].url, memoryUri("user/prefs"));
  assertEquals(memoryIdOf(memoryUri("user/prefs")), "user/prefs");

  // Saving the same memory again writes nothing; editing it replaces the old text.
  assertEquals(
    await search.memory.upsert({
      id: "mem_tests",
      text: "The project's tests run with deno test -A from the repository root, module by module.",
      tags: ["testing", "workflow"],
    }),
    "unchanged",
  );
  assertEquals(
    await search.memory.upsert({
      id: "mem_tests",
      title: "Tests",
      text: "Run CI with bash .ci/run",
    }),
    "updated",
  );
  assertEquals((await search.search("repository root")).results, []);
  assertEquals((await search.search("ci run")).results[0].title, "Tests");

  // Forgetting removes it from the index, and only it.
  assertEquals(await search.memory.remove("mem_tests"), true);
  assertEquals(await search.memory.remove("mem_tests"), false);
  assertEquals((await search.search("ci run")).results, []);
  assertEquals(await search.index.count(), 2);

  // A sync at start-up makes the index match the agent's store exactly.
  await search.memory.upsert({ id: "stale", text: "Forgotten while the index was closed." });
  const summary = await search.memory.sync([
    { id: "user/prefs", text: "The user prefers tabs over spaces." },
    { id: "mem_new", text: "Benchmarks live in bench/ folders." },
  ]);
  assertEquals(summary, { added: 1, updated: 0, unchanged: 1, removed: 1 });
  assertEquals((await search.memory.list()).map((d) => d.uri).sort(), [
    "memory:mem_new",
    memoryUri("user/prefs"),
  ]);
  assertEquals(await search.index.count(), 3, "the file is untouched by a memory sync");

  const invalid = await assertRejects(
    () => search.memory.upsert({ id: "", text: "x" }),
    ValidationError,
  );
  assertEquals(invalid.field, "id");
  const empty = await assertRejects(
    () => search.memory.upsert({ id: "a", text: "  " }),
    ValidationError,
  );
  assertEquals(empty.field, "text");
}

Deno.test("the agent's memories are found by a plain search (SQLite FTS5)", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await checkMemoryFeed(store);
  } finally {
    await store.close();
  }
});

Deno.test("the agent's memories are found by a plain search (PostgreSQL)", async () => {
  const database = await createTestDatabase("a3s_search_mem");
  if (!database) return;
  const store = await openStore({ databaseUrl: database.url });
  try {
    await checkMemoryFeed(store);
  } finally {
    await store.close();
    await database.drop();
  }
});
