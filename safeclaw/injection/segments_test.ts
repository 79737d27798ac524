import { assertEquals } from "@a3s/common/testing";
import { MAX_SEGMENTS, sentenceSegments } from "./segments.ts";

Deno.test("sentenceSegments: lines and sentences, then each pair of neighbours", () => {
  assertEquals(sentenceSegments("Hi Ann.\nSee you at 5. Bring the slides."), [
    "Hi Ann.",
    "See you at 5.",
    "Bring the slides.",
    "Hi Ann. See you at 5.",
    "See you at 5. Bring the slides.",
  ]);
  // Table rows are lines; a row of numbers alone has no letters and is no segment.
  assertEquals(sentenceSegments("| a | b |\n| 1 | 2 |\n| c | d |"), [
    "| a | b |",
    "| c | d |",
    "| a | b | | c | d |",
  ]);
});

Deno.test("sentenceSegments: a text without letters is its own segment; huge ones are capped", () => {
  assertEquals(sentenceSegments("12 34 56"), ["12 34 56"]);
  const huge = Array.from({ length: 2000 }, (_, i) => `Line ${i}.`).join("\n");
  assertEquals(sentenceSegments(huge).length, MAX_SEGMENTS);
});
