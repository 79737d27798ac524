import { assert, assertEquals } from "@a3s/common/testing";
import { createTestDatabase } from "@a3s/common/testing";
import { openStore, type Store } from "@a3s/common";
import { StoreMemory } from "./memory.ts";
import { StoreHistory } from "./history.ts";
import { CODE_MIGRATIONS, type CodeTables } from "./migrations.ts";

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

  // Namespaces: a chat's memories are its own; the agent's shared ones are not in it.
  const shared = await StoreMemory.open(store, { project: "/src/app", user: "ada" });
  const alice = shared.inNamespace("1:telegram:1");
  const bob = shared.inNamespace("2:slack:2");
  const secret = await alice.save("user", "alice's locker code is 4711", ["locker"]);
  await bob.save("project", "bob likes the blue theme", []);
  assertEquals((await alice.search("locker code", { limit: 5 })).map((r) => r.id), [secret.id]);
  assertEquals(await bob.search("locker code", { limit: 5 }), []);
  assertEquals(await shared.search("locker code", { limit: 5 }), []);
  assertEquals((await bob.list({ limit: 10 })).map((r) => r.content), [
    "bob likes the blue theme",
  ]);
  // The shared memory (saved before chats had their own) is not a chat's either.
  assertEquals((await shared.list({ limit: 10 })).length, 1);
  assertEquals((await alice.list({ limit: 10 })).length, 1);
  assertEquals(await bob.remove(secret.id), false);
  assertEquals(await shared.remove(secret.id), false);
  assertEquals(await alice.remove(secret.id), true);

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

/** Migration 3 on a store as the code module left it before namespaces, holding one memory. */
async function exerciseNamespaceMigration(store: Store) {
  {
    // A store as the code module left it before namespaces: migrations 1 and 2, one memory.
    await store.migrate("code", CODE_MIGRATIONS.filter((m) => m.version <= 2));
    await store.db<
      Omit<CodeTables, "code_memories"> & {
        code_memories: Omit<CodeTables["code_memories"], "namespace">;
      }
    >().insertInto("code_memories").values({
      id: "mem_old",
      scope: "project",
      owner: "/src/app",
      content: "the build runs on fridays",
      tags: "[]",
      embedding: null,
      created_at: 1,
    }).execute();
    const memory = await StoreMemory.open(store, { project: "/src/app", user: "ada" });
    assertEquals((await memory.search("build fridays", { limit: 5 })).map((r) => r.id), [
      "mem_old",
    ]);
    assertEquals(await memory.inNamespace("1:telegram:1").list({ limit: 5 }), []);
    // Reopening (serve's next start) runs no migration twice.
    await StoreMemory.open(store, { project: "/src/app", user: "ada" });
  }
}

Deno.test("state: memories stored before namespaces existed load as the agent's shared memory", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await exerciseNamespaceMigration(store);
  } finally {
    await store.close();
  }
});

Deno.test("state: memories stored before namespaces existed load on PostgreSQL too", async () => {
  const db = await createTestDatabase("a3s_code_ns");
  if (!db) return;
  const store = await openStore({ databaseUrl: db.url });
  try {
    await exerciseNamespaceMigration(store);
  } finally {
    await store.close();
    await db.drop();
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
