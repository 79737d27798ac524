import { assert, assertEquals } from "@a3s/common/testing";
import { startFixtureServer } from "./_test_fixtures.ts";
import { runEngine } from "./engine_runner.ts";
import { WEB_ENGINES } from "./engines/mod.ts";
import { DEFAULT_RANKING, mergeResults, ndcg, RRF_K } from "./rank.ts";
import type { EngineResult } from "./types.ts";

const r = (engine: string, position: number, url: string, title = url): EngineResult => ({
  engine,
  position,
  url,
  title,
  snippet: "",
});

Deno.test("duplicates across engines merge under one normalized URL", () => {
  const ranked = mergeResults([
    [r("a", 1, "https://www.x.example/page/?utm_source=a", "Page"), r("a", 2, "https://y.example")],
    [r("b", 3, "http://x.example/page#top", "Page")],
  ]);
  assertEquals(ranked.length, 2);
  assertEquals(ranked[0].engines, ["a", "b"]);
  assertEquals(ranked[0].positions, { a: 1, b: 3 });
  assertEquals(ranked[0].url, "http://x.example/page#top");
});

Deno.test("near-duplicate titles on one host merge; short titles on other hosts do not", () => {
  const ranked = mergeResults([
    [r("a", 1, "https://docs.example/guide/install", "Installing the runtime - Docs")],
    [r("b", 1, "https://docs.example/en/guide/install", "Installing the runtime | Docs")],
    [r("c", 1, "https://other.example/install", "Installing the runtime")],
  ]);
  assertEquals(ranked.length, 2);
  assertEquals(ranked[0].engines, ["a", "b"]);
});

Deno.test("both formulas compute their documented scores", () => {
  const weights = { a: 2, b: 0.5 };
  const lists = [[r("a", 2, "https://p.example")], [r("b", 4, "https://p.example")]];
  const [rrf] = mergeResults(lists, weights, "rrf");
  assert(Math.abs(rrf.score - (2 / (RRF_K + 2) + 0.5 / (RRF_K + 4))) < 1e-12);
  const [searx] = mergeResults(lists, weights, "searxng");
  const weight = 2 * 0.5 * 2;
  assert(Math.abs(searx.score - (weight / 2 + weight / 4)) < 1e-12);
});

Deno.test("consensus beats a single engine's first place under both formulas", () => {
  const lists = ["a", "b", "c"].map((
    e,
  ) => [r(e, 1, `https://only-${e}.example`), r(e, 2, "https://all.example")]);
  for (const method of ["rrf", "searxng"] as const) {
    assertEquals(mergeResults(lists, {}, method)[0].url, "https://all.example", method);
  }
});

Deno.test("engine weights decide between single-engine results", () => {
  const lists = [[r("trusted", 2, "https://t.example")], [r("noisy", 1, "https://n.example")]];
  for (const method of ["rrf", "searxng"] as const) {
    const ranked = mergeResults(lists, { trusted: 3, noisy: 1 }, method);
    assertEquals(ranked[0].url, "https://t.example", method);
  }
});

Deno.test("on the judged fixtures the default formula ranks at least as well as the other", async () => {
  const server = await startFixtureServer();
  try {
    const lists: EngineResult[][] = [];
    for (const [name, adapter] of Object.entries(WEB_ENGINES)) {
      if (name === "searxng") continue; // an aggregate of the others; it would count them twice
      lists.push(
        await runEngine(adapter, { query: "deno typescript runtime", page: 1, safeSearch: "off" }, {
          baseUrl: server.baseUrls[name],
          timeoutMs: 5000,
        }),
      );
    }
    const { grades } = JSON.parse(
      await Deno.readTextFile(new URL("./testdata/engines/relevance.json", import.meta.url)),
    );
    const scores = {
      rrf: ndcg(mergeResults(lists, {}, "rrf"), grades),
      searxng: ndcg(mergeResults(lists, {}, "searxng"), grades),
    };
    console.log(
      `nDCG@10 on the fixtures: rrf ${scores.rrf.toFixed(4)}, searxng ${scores.searxng.toFixed(4)}`,
    );
    const other = DEFAULT_RANKING === "rrf" ? "searxng" : "rrf";
    assert(scores[DEFAULT_RANKING] >= scores[other], JSON.stringify(scores));
    // The spam page two Chinese engines rank high must stay out of the top five.
    const top5 = mergeResults(lists).slice(0, 5).map((x) => x.url);
    assert(!top5.some((u) => u.includes("deno-xiazai")), top5.join(" "));
  } finally {
    await server.close();
  }
});

Deno.test("ndcg is 1 for the ideal order and lower for a worse one", () => {
  const grades = { "https://a.example": 3, "https://b.example": 1 };
  assertEquals(ndcg([{ url: "https://a.example" }, { url: "https://b.example" }], grades), 1);
  assert(ndcg([{ url: "https://b.example" }, { url: "https://a.example" }], grades) < 1);
});
