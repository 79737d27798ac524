import process from "node:process";
import { ok as assert } from "node:assert";
import { LONG_TOKENIZERS } from "./_long_pieces.ts";
import { seededRandom } from "./_test_corpus.ts";
import type { Tokenizer } from "./types.ts";

/** `length` characters drawn from `chars`, or `chars` repeated when `random` is false. */
function fill(chars: string, length: number, random = true): string {
  if (!random) return chars.repeat(Math.ceil(length / chars.length)).slice(0, length);
  const units = [...chars];
  const next = seededRandom(length);
  return Array.from({ length }, () => units[Math.floor(next() * units.length)]).join("");
}

// Texts of one shape: runs the pre-tokenizers keep whole (one BPE piece of the whole text) and
// runs that their patterns scan to the end before they split (whitespace before a letter,
// uppercase, marks, apostrophes). (Random base64 is left out: its short pieces fit the piece
// cache at 20K characters but not at 200K, which says nothing of how the work grows.)
const SHAPES: Record<string, (n: number) => string> = {
  "letters": (n) => fill("abcdefghijklmnopqrstuvwxyz", n),
  "one letter": (n) => fill("a", n, false),
  "uppercase": (n) => fill("ABCDEFGHIJKLMNOPQRSTUVWXYZ", n),
  "CJK": (n) => fill("的一是不了人我在有他这中大来上国个到说们", n),
  "letters and marks": (n) => fill("ae\u0301\u0308", n),
  "emoji": (n) => fill("😀🙂🚀🎉", n),
  "spaces": (n) => fill(" ", n, false),
  "spaces, then a letter": (n) => fill(" ", n - 1, false) + "a",
  "newlines and spaces": (n) => fill(" \n", n, false),
  "punctuation": (n) => fill("!", n, false),
  "digits": (n) => fill("7", n, false),
  "apostrophes": (n) => fill("'", n, false),
};

/** Milliseconds of this process's CPU time per count of `text`, the mean of `repeat` counts. */
function timeCount(tokenizer: Tokenizer, text: string, repeat: number): number {
  const started = process.cpuUsage();
  for (let k = 0; k < repeat; k++) tokenizer.count(text);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000 / repeat;
}

/**
 * How many times longer `large` takes than `small`, each at its best over rounds taken in
 * turns (CPU time: on a busy host, wall time is mostly waiting for a core).
 */
function timeRatio(tokenizer: Tokenizer, small: string, large: string): number {
  let bestSmall = Infinity;
  let bestLarge = Infinity;
  let spent = 0;
  for (let round = 0; round < 5 && spent < 1000; round++) {
    bestSmall = Math.min(bestSmall, timeCount(tokenizer, small, 10));
    const large1 = timeCount(tokenizer, large, 1);
    bestLarge = Math.min(bestLarge, large1);
    spent += large1;
  }
  return bestLarge / bestSmall;
}

// The native splitters of cl100k and o200k, and Llama-2's merge rules over characters with no
// split (so every shape is one piece).
for (const name of ["cl100k_base", "o200k_base", "llama2"]) {
  Deno.test(`${name}: long runs of one shape tokenize in linear time`, async (t) => {
    const tokenizer = await LONG_TOKENIZERS[name]();
    try {
      for (const [shape, make] of Object.entries(SHAPES)) {
        await t.step(shape, () => {
          const small = make(20_000);
          const large = make(200_000);
          // Warm, so that both sizes run the engine's optimized code.
          for (let k = 0; k < 3; k++) tokenizer.count(small);
          tokenizer.count(large);
          const ratio = timeRatio(tokenizer, small, large);
          // Ten times the text: about 10 when linear, 100 when quadratic.
          assert(ratio < 30, `${shape}: 200K characters took ${ratio.toFixed(1)} times 20K`);
        });
      }
    } finally {
      tokenizer.free();
    }
  });
}
