import { deepStrictEqual as assertEquals } from "node:assert";
import { BARE, digest, FIXTURE_URL, LONG_TOKENIZERS, longTexts } from "./_long_pieces.ts";

const texts = longTexts();
const expected: Record<string, Record<string, [number, string]>> = JSON.parse(
  await Deno.readTextFile(FIXTURE_URL),
);

for (const [name, open] of Object.entries(LONG_TOKENIZERS)) {
  Deno.test(`${name}: long pieces give the ids pinned in long_pieces.json`, async () => {
    const tokenizer = await open();
    try {
      assertEquals(Object.keys(expected[name]), Object.keys(texts));
      for (const [label, text] of Object.entries(texts)) {
        assertEquals(await digest(tokenizer.encode(text, BARE)), expected[name][label], label);
        assertEquals(tokenizer.count(text), expected[name][label][0], label);
      }
    } finally {
      tokenizer.free();
    }
  });
}
