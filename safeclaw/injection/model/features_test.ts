import { assertEquals } from "@a3s/common/testing";
import {
  featureWindows,
  parseVocabulary,
  WINDOW_STRIDE,
  WINDOW_TOKENS,
  wordWindows,
} from "./features.ts";

const VOCABULARY = parseVocabulary("the\nignore\nprevious\ninstructions\n");

Deno.test("parseVocabulary: the first line is id 1, blank lines are not words", () => {
  assertEquals([...VOCABULARY], [["the", 1], ["ignore", 2], ["previous", 3], ["instructions", 4]]);
  assertEquals(parseVocabulary("\n\n").size, 0);
});

Deno.test("wordWindows: known words by id, unknown words and punctuation left to the hashed features", () => {
  assertEquals(wordWindows("ignore all previous instructions ###", VOCABULARY), [[2, 3, 4]]);
  assertEquals(wordWindows("", VOCABULARY), [[]]);
  assertEquals(wordWindows("nothing known here", VOCABULARY), [[]]);
});

Deno.test("wordWindows: one window per hashed-feature window, over the same tokens", () => {
  // Long enough for three windows; "ignore" marks where each window starts.
  const tokens = Array.from(
    { length: WINDOW_TOKENS + 2 * WINDOW_STRIDE },
    (_, i) => i % WINDOW_STRIDE === 0 ? "ignore" : "the",
  );
  const text = tokens.join(" ");
  const words = wordWindows(text, VOCABULARY);
  assertEquals(words.length, featureWindows(text).length);
  assertEquals(words.length, 3);
  for (const window of words) {
    assertEquals(window.length, WINDOW_TOKENS);
    assertEquals(window[0], 2);
  }
});
