import { assertEquals } from "@a3s/common/testing";
import { foldForDetection } from "./fold.ts";

Deno.test("text with nothing to fold has no folded view", () => {
  for (const text of ["", "plain ascii 4111", "Grüße aus München 😀", "中文文本、没有句号"]) {
    assertEquals(foldForDetection(text), undefined, text);
  }
});

Deno.test("folding maps look-alikes to ASCII and drops invisible characters", () => {
  const cases: [string, string][] = [
    ["４１１１ １１１１", "4111 1111"],
    ["𝟒𝟏𝟏𝟏 𝐀𝐁", "4111 AB"],
    ["4111\u200b1111\u200c\u200d\u2060\ufeff\u00ad1", "411111111"],
    ["alice＠example．com", "alice@example.com"],
    ["a@b\u2024c﹒d。e｡f", "a@b.c.d.e.f"],
    ["555\u2011123\u20104567", "555-123-4567"],
    // Digits grouped by no-break, narrow, figure, thin or ideographic spaces (web pages, PDFs,
    // French formatting) are grouped by spaces.
    ["4111\u00a01111\u202f1111\u20071111", "4111 1111 1111 1111"],
    ["536\u200922\u30001234", "536 22 1234"],
  ];
  for (const [text, folded] of cases) assertEquals(foldForDetection(text)?.folded, folded, text);
});

Deno.test("folded offsets map back to the original characters", () => {
  const text = "x 𝟒\u200b４1 y";
  const view = foldForDetection(text)!;
  assertEquals(view.folded, "x 441 y");
  // The folded "441" (2..5) covers the mathematical 4, the zero-width space, ４ and 1.
  assertEquals([view.originalStart(2), view.originalEnd(5)], [2, 7]);
  assertEquals(text.slice(2, 7), "𝟒\u200b４1");
  // A span ending before a dropped character does not take it.
  assertEquals([view.originalStart(2), view.originalEnd(3)], [2, 4]);
  // A span starting after it does not take it either.
  assertEquals([view.originalStart(3), view.originalEnd(4)], [5, 6]);
  // Plain characters map to themselves.
  assertEquals([view.originalStart(6), view.originalEnd(7)], [8, 9]);
});

Deno.test("Arabic-Indic and Extended Arabic-Indic digits fold to ASCII, at their own offsets", () => {
  const cases: [string, string][] = [
    ["٠١٢٣٤٥٦٧٨٩", "0123456789"],
    ["۰۱۲۳۴۵۶۷۸۹", "0123456789"],
    ["هاتف ٤١٥-٥٥٥-٢٦٧١", "هاتف 415-555-2671"],
    // The Arabic letter mark is invisible, as the other bidi marks are.
    ["٤١\u061c١١", "4111"],
  ];
  for (const [text, folded] of cases) assertEquals(foldForDetection(text)?.folded, folded, text);
  // Arabic letters and punctuation are not look-alikes of anything.
  assertEquals(foldForDetection("رقم الهاتف، شكرا"), undefined);
  const text = "tel ٤١٥\u061c-٥٥٥ end";
  const view = foldForDetection(text)!;
  assertEquals(view.folded, "tel 415-555 end");
  // The folded "415-555" (4..11) covers the digits and the dropped mark between them.
  assertEquals([view.originalStart(4), view.originalEnd(11)], [4, 12]);
  assertEquals(text.slice(4, 12), "٤١٥\u061c-٥٥٥");
});
