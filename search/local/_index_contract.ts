/** The behaviour both local-index backends must show; run by each backend's test file. */
import { assert, assertEquals } from "@a3s/common/testing";
import type { LocalIndex } from "./local_index.ts";

const DOCS = [
  {
    uri: "memory:fox",
    title: "Foxes",
    body: "The quick brown fox jumps over the lazy dog.",
    source: "memory",
  },
  {
    uri: "memory:apart",
    title: "Colours",
    body: "A brown bear is quick to anger near the river.",
    source: "memory",
  },
  {
    uri: "memory:ts",
    title: "TypeScript handbook",
    body: "Types for JavaScript programs, checked at compile time.",
    source: "api",
  },
  {
    uri: "memory:deno",
    title: "Runtime notes",
    body: "Deno runs TypeScript directly; it type-checks TypeScript modules.",
    source: "api",
  },
  { uri: "file:///docs/a/one.txt", title: "One", body: "alpha beta gamma", source: "file" },
  { uri: "file:///docs/a/two.txt", title: "Two", body: "beta gamma delta", source: "file" },
  { uri: "file:///docs/b/three.txt", title: "Three", body: "gamma delta epsilon", source: "file" },
];

/** Runs every contract check against a fresh, empty index. */
export async function checkIndexContract(index: LocalIndex): Promise<void> {
  assertEquals(await index.upsert(DOCS), DOCS.map(() => "added"));
  assertEquals(await index.count(), DOCS.length);

  // A title match outranks body matches.
  const ts = await index.search("typescript");
  assertEquals(ts.map((h) => h.uri).slice(0, 2).sort(), ["memory:deno", "memory:ts"]);
  assertEquals(ts[0].uri, "memory:ts");
  assert(ts[0].score > ts[1].score);

  // A phrase needs its words adjacent; the words alone match both.
  assertEquals((await index.search('"quick brown"')).map((h) => h.uri), ["memory:fox"]);
  assertEquals((await index.search("quick brown")).map((h) => h.uri).sort(), [
    "memory:apart",
    "memory:fox",
  ]);

  // Prefixes.
  assertEquals((await index.search("typescr*")).length, 2);
  assertEquals((await index.search("epsil*")).map((h) => h.uri), ["file:///docs/b/three.txt"]);

  // Snippets mark the matched terms.
  const [fox] = await index.search("lazy");
  assert(/<mark>lazy<\/mark>/i.test(fox.snippet), fox.snippet);

  // All clauses must match; when none matches them all, any clause may.
  assertEquals((await index.search("alpha delta")).length, 3);
  assertEquals((await index.search("alpha beta")).map((h) => h.uri), ["file:///docs/a/one.txt"]);

  // Query syntax of the backends is never interpreted.
  for (
    const hostile of [
      "NEAR(fox dog)",
      "fox OR",
      '"unterminated',
      "*",
      "-fox",
      "a:b",
      "'; drop table x; --",
      "(((",
      "fox & | !",
    ]
  ) {
    await index.search(hostile);
  }
  assertEquals(await index.search("  ... !!! "), []);

  // Incremental: unchanged content is not rewritten; changed content is re-indexed.
  assertEquals(await index.upsert([DOCS[0]]), ["unchanged"]);
  assertEquals(
    await index.upsert([{ ...DOCS[0], body: "A slow red fox sleeps all day." }]),
    ["updated"],
  );
  assertEquals((await index.search('"quick brown"')).length, 0);
  assertEquals((await index.search("sleeps")).map((h) => h.uri), ["memory:fox"]);

  // Paging.
  const page1 = await index.search("gamma", { limit: 2 });
  const page2 = await index.search("gamma", { limit: 2, offset: 2 });
  assertEquals(page1.length, 2);
  assertEquals(page2.length, 1);
  assert(!page1.some((h) => h.uri === page2[0].uri));

  // Listing and removing, one URI or a whole prefix.
  const listed = await index.list({ prefix: "file:///docs/a/" });
  assertEquals(listed.map((d) => d.uri), ["file:///docs/a/one.txt", "file:///docs/a/two.txt"]);
  assertEquals(listed[0].size, "alpha beta gamma".length);
  assertEquals(await index.remove("file:///docs/a/"), 2);
  assertEquals(await index.remove("memory:ts"), 1);
  assertEquals(await index.remove("memory:none"), 0);
  assertEquals((await index.search("gamma")).map((h) => h.uri), ["file:///docs/b/three.txt"]);
  assertEquals(await index.count(), DOCS.length - 3);
  // A prefix with LIKE wildcards matches literally.
  assertEquals(await index.remove("memory:%/"), 0);
}
