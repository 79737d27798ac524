/** The agent's memory, followed by search's local index: found by a plain `search`, offline. */
import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { defaultSearchConfig, SearchService } from "@a3s/search";
import { Agent } from "../agent/agent.ts";
import { ScriptedProvider } from "../llm/scripted.ts";
import { IndexedMemory } from "./indexed_memory.ts";
import { StoreMemory } from "./memory.ts";

const FACT = "The staging database listens on port 6543 behind the bastion host";

Deno.test("memory → search: what an agent saves, search finds with no engine configured; what it deletes, search forgets", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-memory-index-" });
  const search = await SearchService.open(store, defaultSearchConfig());
  // A memory saved before search followed memory (another process, an older version).
  const earlier = await (await StoreMemory.open(store, { project: dir, user: "default" }))
    .save("project", "Releases are cut from the trunk every Tuesday", ["release"]);
  let saved = "";
  const llm = new ScriptedProvider([
    {
      toolCalls: [{
        name: "memory",
        arguments: { action: "save", content: FACT, tags: ["infra"] },
      }],
    },
    (req) => {
      saved = /saved (mem_\S+)/.exec(req.messages.at(-1)!.content)?.[1] ?? "";
      return { text: "Noted." };
    },
    (req) =>
      req.messages.at(-1)!.role === "tool"
        ? { text: "Forgotten." }
        : { toolCalls: [{ name: "memory", arguments: { action: "delete", id: saved } }] },
  ]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    store,
    providers: { s: llm },
    memoryIndex: search.memory,
  });
  try {
    // Building the agent indexed the earlier memory.
    const release = await search.search("releases trunk tuesday");
    assertEquals(release.results[0]?.url, `memory:${earlier.id}`, JSON.stringify(release));

    const session = agent.session();
    await session.send("remember where the staging database is");
    assert(saved.startsWith("mem_"), `no memory id in the tool result: ${saved}`);
    // A plain search: the default config asks only the local index, so this works offline.
    const found = await search.search("staging database port");
    assertEquals(found.engines.map((e) => e.engine), ["local"]);
    assertEquals(found.results[0]?.url, `memory:${saved}`, JSON.stringify(found.results));
    assert(found.results[0].snippet.includes("6543"), found.results[0].snippet);
    // Tags are searchable like the text.
    assertEquals((await search.search("infra")).results[0]?.url, `memory:${saved}`);

    await session.send("forget it");
    assertEquals((await search.search("staging database port")).results, []);
    assertEquals((await search.memory.list()).map((d) => d.uri), [`memory:${earlier.id}`]);
  } finally {
    await agent.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memory → search: an index that refuses a write is reported, and the memory is kept", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const memory = await StoreMemory.open(store, { project: "/p", user: "u" });
    const refused: string[] = [];
    const broken = {
      upsert: () => Promise.reject(new Error("index is read-only")),
      remove: () => Promise.reject(new Error("index is read-only")),
    };
    const indexed = new IndexedMemory(memory, broken, (e, id) => refused.push(`${id}: ${e}`));
    const record = await indexed.save("user", "prefers tabs", []);
    assertEquals((await memory.list({ limit: 5 })).map((m) => m.id), [record.id]);
    assertEquals(await indexed.remove(record.id), true);
    assertEquals(refused, [
      `${record.id}: Error: index is read-only`,
      `${record.id}: Error: index is read-only`,
    ]);
    // Nothing to remove: the index is not asked.
    assertEquals(await indexed.remove("mem_none"), false);
    assertEquals(refused.length, 2);
  } finally {
    await store.close();
  }
});

Deno.test("memory → search: a chat's own memories stay out of the shared index and out of other chats", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const dir = await Deno.makeTempDir({ prefix: "a3s-code-memory-chats-" });
  const search = await SearchService.open(store, defaultSearchConfig());
  // Saves what the user says after "remember", or searches memory for what follows "recall".
  const llm = new ScriptedProvider([(req) => {
    const last = req.messages.at(-1)!;
    if (last.role === "tool") return { text: `memory: ${last.content}` };
    const [verb, ...rest] = last.content.split(" ");
    return {
      toolCalls: [{
        name: "memory",
        arguments: verb === "remember"
          ? { action: "save", content: rest.join(" "), scope: "user" }
          : { action: "search", query: rest.join(" ") },
      }],
    };
  }]);
  const agent = await Agent.fromConfig({ workspace: dir, default_model: "s/m" }, {
    store,
    providers: { s: llm },
    memoryIndex: search.memory,
  });
  try {
    const alice = agent.session({ memoryNamespace: "1:telegram:1" });
    assert((await alice.send(`remember ${FACT}`)).text.includes("saved mem_"));
    assert((await alice.send("recall staging database")).text.includes("6543"));
    // Bob's chat, and the agent's shared memory, recall none of it; nor does the local index.
    const bob = agent.session({ memoryNamespace: "2:slack:2" });
    assertEquals((await bob.send("recall staging database")).text, "memory: nothing found");
    assertEquals(
      (await agent.session().send("recall staging database")).text,
      "memory: nothing found",
    );
    assertEquals((await search.search("staging database port")).results, []);
    // A subagent of Alice's session remembers in her namespace.
    assert(
      (await alice.runSubagent("explore", "recall staging database", new AbortController().signal))
        .includes("6543"),
    );
  } finally {
    await agent.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
