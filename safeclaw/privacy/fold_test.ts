import { assert, assertEquals } from "@a3s/common/testing";
import { createClassifier } from "../classify.ts";
import { foldedWindows, foldForDetection } from "./fold.ts";
import { Random } from "../quality/random.ts";

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

/** The stretches as `foldedWindows` defines them: each foldable character with `context` on
 * either side, widened to a whitespace (at most 64 further), overlapping ones joined. */
function definedStretches(text: string, context: number): [number, number][] {
  const widen = (at: number, step: -1 | 1) => {
    if (at <= 0) return 0;
    if (at >= text.length) return text.length;
    for (let i = 0; i < 64; i++, at += step) {
      if (at <= 0 || at >= text.length || /\s/.test(text[step < 0 ? at - 1 : at])) break;
    }
    return Math.max(0, Math.min(text.length, at));
  };
  const stretches: [number, number][] = [];
  for (const match of text.matchAll(/[\u0660-\u0669\u200b\uff11]|\ud835[\udc00-\udfff]/g)) {
    const start = widen(match.index - context, -1);
    const end = widen(match.index + match[0].length + context, 1);
    const last = stretches.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else stretches.push([start, end]);
  }
  return stretches;
}

Deno.test("foldedWindows: the stretches around foldable characters, widened and joined", () => {
  const random = new Random(5);
  const pieces = ["a", "b", " ", "\n", "1", "\u0661", "\u200b", "\uff11", "\ud835\udfcf"];
  for (let round = 0; round < 300; round++) {
    let text = "";
    const length = random.int(0, 400);
    // Dense and sparse: foldable characters from every one to one in a hundred.
    const foldable = random.pick([0.9, 0.3, 0.05, 0.01]);
    while (text.length < length) {
      text += random.next() < foldable
        ? random.pick(pieces.slice(5))
        : random.pick(pieces.slice(0, 5));
    }
    for (const context of [0, 3, 40]) {
      const windows = foldedWindows(text, context);
      assertEquals(
        windows.map((
          { offset, view },
        ) => [offset, offset + view.originalStart(view.folded.length)]),
        definedStretches(text, context),
        JSON.stringify({ text, context }),
      );
    }
  }
});

Deno.test("a text written in Arabic-Indic digits folds and maps back character by character", () => {
  const digits = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹".repeat(5_000) + " x\u200by ٤";
  const view = foldForDetection(digits)!;
  assertEquals(view.folded, "01234567890123456789".repeat(5_000) + " xy 4");
  for (const i of [0, 1, 19, 20, 99_999]) {
    assertEquals([view.originalStart(i), view.originalEnd(i + 1)], [i, i + 1]);
  }
  // "xy" covers the zero-width space between them; the last digit maps to its own place.
  assertEquals([view.originalStart(100_001), view.originalEnd(100_003)], [100_001, 100_004]);
  assertEquals([view.originalStart(100_004), view.originalEnd(100_005)], [100_005, 100_006]);
});

Deno.test("classify: a megabyte written in Arabic-Indic digits takes about as long as one in ASCII digits", () => {
  // Each of its characters was widened into a stretch of its own, 64 steps a side where no
  // whitespace is near, and was a segment of the folded view of its own: 2.3 s against 41 ms.
  const ascii = "0123456789".repeat(100_000);
  const arabic = ascii.replace(/\d/g, (d) => String.fromCharCode(0x0660 + Number(d)));
  const classifier = createClassifier();
  const time = (text: string) => {
    const started = performance.now();
    classifier.classify(text);
    return performance.now() - started;
  };
  time(ascii);
  time(arabic);
  const asciiMs = Math.min(time(ascii), time(ascii));
  const arabicMs = Math.min(time(arabic), time(arabic));
  classifier.free();
  assert(
    arabicMs < 4 * asciiMs + 150,
    `${arabicMs.toFixed(0)} ms against ${asciiMs.toFixed(0)} ms`,
  );
});

Deno.test("every default-ignorable code point is dropped, a supplementary one at its own offsets", () => {
  const marks = [
    "\u034f",
    "\u115f",
    "\u17b4",
    "\u180b",
    "\u3164",
    "\ufe0f",
    "\uffa0",
    "\u{e0041}",
    "\u{1bca0}",
    "\u{1d173}",
  ];
  for (const mark of marks) {
    const text = `card 4111${mark}1111 1111 1111`;
    const view = foldForDetection(text);
    assertEquals(view?.folded, "card 41111111 1111 1111", `U+${mark.codePointAt(0)!.toString(16)}`);
    assertEquals(view!.originalEnd(view!.folded.length), text.length);
    assertEquals(view!.originalStart(9), 9 + mark.length);
  }
  // Ordinary non-ASCII text still comes back unfolded.
  assertEquals(foldForDetection("Grüße aus Köln, 30 €"), undefined);
});

Deno.test("bidi embeddings, isolates and other format characters between digits are dropped", () => {
  for (const mark of ["\u202e", "\u2066", "\u2069", "\u180f", "\ufff0"]) {
    const view = foldForDetection(`card 4111${mark}1111 1111 1111`);
    assertEquals(view?.folded, "card 41111111 1111 1111", `U+${mark.codePointAt(0)!.toString(16)}`);
  }
});
