import { deepStrictEqual as assertEquals } from "node:assert";
import { get_encoding } from "tiktoken";
import { ENCODING_NAMES, getEncoding } from "./tiktoken.ts";
import { list, loadCorpus, randomStrings } from "./_test_corpus.ts";

const corpus = await loadCorpus();
const random = randomStrings(7, 400, 24);

for (const name of ENCODING_NAMES) {
  Deno.test(`${name}: ids equal the tiktoken bindings, special tokens allowed and disallowed`, async () => {
    const ours = await getEncoding(name);
    const reference = get_encoding(name);
    try {
      for (const text of [...corpus, ...random]) {
        assertEquals(list(ours.encode(text)), list(reference.encode_ordinary(text)), text);
        assertEquals(
          list(ours.encode(text, { special: "all" })),
          list(reference.encode(text, "all")),
          text,
        );
        assertEquals(ours.count(text), reference.encode_ordinary(text).length, text);
        assertEquals(ours.count(text, { special: "all" }), reference.encode(text, "all").length);
      }
    } finally {
      ours.free();
      reference.free();
    }
  });
}

Deno.test("cl100k_base and o200k_base: long runs of one letter, spaces and digits match tiktoken", async () => {
  for (const name of ["cl100k_base", "o200k_base"] as const) {
    const ours = await getEncoding(name);
    const reference = get_encoding(name);
    for (
      const text of [
        "a".repeat(3000),
        " ".repeat(3000),
        " ".repeat(2999) + "x",
        "\n".repeat(500) + " \n",
        "7".repeat(1001),
        "ab".repeat(1500),
        "😀".repeat(400),
      ]
    ) {
      assertEquals(
        list(ours.encode(text)),
        list(reference.encode_ordinary(text)),
        text.slice(0, 8),
      );
    }
    ours.free();
    reference.free();
  }
});

Deno.test("decode inverts encode and tokenBytes spells each token", async () => {
  const enc = await getEncoding("o200k_base");
  for (const text of corpus) {
    const clean = text.toWellFormed();
    const ids = enc.encode(clean, { special: "all" });
    assertEquals(enc.decode(ids), clean);
    const bytes = list(ids).flatMap((id) =>
      enc.specialTokens.has(enc.idToToken(id) ?? "") ? [] : [...enc.tokenBytes(id)]
    );
    const withoutSpecial = enc.decode(ids, { skipSpecialTokens: true });
    assertEquals(new TextDecoder().decode(Uint8Array.from(bytes)), withoutSpecial);
  }
  assertEquals(enc.tokenToId("<|endoftext|>"), 199999);
  assertEquals(enc.idToToken(enc.tokenToId("hello")!), "hello");
  assertEquals(enc.tokenBytes(199999).length, 0);
  enc.free();
});

Deno.test("a freed tokenizer refuses work", async () => {
  const enc = await getEncoding("cl100k_base");
  assertEquals(enc.count(corpus.join("\n")) > 0, true);
  enc.free();
  let threw = false;
  try {
    enc.count("x");
  } catch {
    threw = true;
  }
  assertEquals(threw, true);
});

Deno.test("character classes agree with tiktoken across the whole code space", async () => {
  // Every 32nd code point (all of them take ~30 s; they pass too), each between letters, digits,
  // spaces, a contraction and a line break, so each branch of both split patterns sees it.
  let text = "";
  for (let cp = 0; cp < 0x110000; cp += 32) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    text += `a${c}A${c}${c} ${c}1${c}'s${c}\n`;
  }
  for (const name of ["cl100k_base", "o200k_base"] as const) {
    const ours = await getEncoding(name);
    const reference = get_encoding(name);
    assertEquals(list(ours.encode(text)), list(reference.encode_ordinary(text)));
    ours.free();
    reference.free();
  }
});
