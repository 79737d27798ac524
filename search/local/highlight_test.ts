import { assert, assertEquals } from "@a3s/common/testing";
import { highlight } from "./highlight.ts";
import { parseQuery } from "./query.ts";

Deno.test("highlight marks terms, stems, prefixes and phrase words", () => {
  assertEquals(
    highlight("The quick brown fox", parseQuery("fox")),
    "The quick brown <mark>fox</mark>",
  );
  assertEquals(
    highlight("Deno runs modules; running is fast", parseQuery("run")),
    "Deno <mark>runs</mark> modules; <mark>running</mark> is fast",
  );
  assertEquals(
    highlight("TypeScript types", parseQuery("typesc*")),
    "<mark>TypeScript</mark> types",
  );
  assertEquals(
    highlight("a quick brown fox", parseQuery('"brown fox"')),
    "a quick <mark>brown</mark> <mark>fox</mark>",
  );
});

Deno.test("highlight picks the window with the most distinct query words and marks cuts", () => {
  const filler = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
  const body = `alpha ${filler} alpha beta gamma ${filler}`;
  const snippet = highlight(body, parseQuery("alpha beta gamma"));
  assert(snippet.startsWith("…") && snippet.endsWith("…"), snippet);
  assert(snippet.includes("<mark>alpha</mark> <mark>beta</mark> <mark>gamma</mark>"), snippet);
  assertEquals(highlight("", parseQuery("x")), "");
});
