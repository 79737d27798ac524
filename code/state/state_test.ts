import { assert, assertEquals } from "@a3s/common/testing";
import { createTestDatabase } from "@a3s/common/testing";
import { openStore, type Store } from "@a3s/common";
import { StoreMemory } from "./memory.ts";
import { StoreHistory } from "./history.ts";

async function exercise(store: Store) {
  // Embeddings: a toy bag-of-letters vector, so similarity is real and deterministic.
  const embed = (texts: string[]) =>
    Promise.resolve(
      texts.map((t) =>
        Array.from({ length: 26 }, (_, i) =>
          [...t.toLowerCase()].filter((c) => c.charCodeAt(0) - 97 === i).length)
      ),
    );
  const project = await StoreMemory.open(store, { project: "/src/app", user: "ada" }, embed);
  const other = await StoreMemory.open(store, { project: "/src/other", user: "bob" });
  const a = await project.save("project", "tests run with deno task test", ["testing"]);
  await project.save("user", "prefers tabs over spaces", []);
  await other.save("project", "deploys on fridays", []);
  const hits = await project.search("how do I run the tests", { limit: 5 });
  assertEquals(hits[0].id, a.id);
  assert(hits[0].score! > 0);
  assertEquals((await project.list({ limit: 10 })).length, 2);
  assertEquals((await project.list({ scope: "user", limit: 10 })).map((r) => r.content), [
    "prefers tabs over spaces",
  ]);
  assertEquals((await other.search("tests", { limit: 5 })).length, 0);
  assertEquals(await other.remove(a.id), false);
  assertEquals(await project.remove(a.id), true);

  const history = await StoreHistory.open(store);
  await history.create("s1", "agent", "first");
  await history.append("s1", 0, { role: "system", content: "sys" });
  await history.append("s1", 1, { role: "user", content: "hi" });
  await history.append("s1", 2, {
    role: "assistant",
    content: "",
    toolCalls: [{ id: "c", name: "ls", arguments: {} }],
  });
  assertEquals((await history.load("s1"))!.map((m) => m.role), ["system", "user", "assistant"]);
  await history.replace("s1", [{ role: "system", content: "sys" }]);
  assertEquals((await history.load("s1"))!.length, 1);
  assertEquals((await history.list(5))[0].messages, 1);
  assertEquals(await history.load("nope"), undefined);
  assertEquals(await history.remove("s1"), true);
}

Deno.test("state: memory (keyword and embedding search, scopes, owners) and history on SQLite", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await exercise(store);
  } finally {
    await store.close();
  }
});

Deno.test("state: the same on PostgreSQL", async () => {
  const db = await createTestDatabase("a3s_code");
  if (!db) return;
  const store = await openStore({ databaseUrl: db.url });
  try {
    await exercise(store);
  } finally {
    await store.close();
    await db.drop();
  }
});
