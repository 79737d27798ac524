import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { A3sError } from "@a3s/common";
import { TokenizerLoader } from "@lenml/tokenizers";
import { loadTokenizer } from "./load.ts";
import { FIXTURES, withoutSpecialTokens } from "./_hf_fixtures.ts";
import { list, loadCorpus, randomStrings } from "./_test_corpus.ts";

const corpus = await loadCorpus();
const random = randomStrings(11, 160, 20);
const BYTE_LEVEL = new Set(["qwen3", "llama3", "gpt4o", "chatml-byte-level"]);
const texts = [...corpus, ...random, "a".repeat(2000), " ".repeat(2000), "9".repeat(999)];

function reference(json: Record<string, unknown>, config: Record<string, unknown>) {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
}

for (const [name, load] of Object.entries(FIXTURES)) {
  Deno.test(`${name}: ids and decoded text equal transformers.js, special tokens allowed and disallowed`, async () => {
    const fixture = await load();
    const ours = await loadTokenizer(fixture.json, fixture.config);
    const withSpecial = reference(fixture.json, fixture.config);
    const asText = reference(withoutSpecialTokens(fixture.json), fixture.config);
    try {
      for (const text of texts) {
        assertEquals(list(ours.encode(text, { special: "all" })), withSpecial.encode(text), text);
        assertEquals(list(ours.encode(text)), asText.encode(text), text);
        const bare = withSpecial.encode(text, { add_special_tokens: false });
        assertEquals(list(ours.encode(text, { special: "all", addSpecialTokens: false })), bare);
        assertEquals(ours.count(text, { special: "all" }), bare.length, text);
        // transformers.js refuses to decode an empty list.
        for (const skip of bare.length ? [false, true] : []) {
          assertEquals(
            ours.decode(bare, { skipSpecialTokens: skip }),
            withSpecial.decode(bare, { skip_special_tokens: skip }),
            text,
          );
        }
      }
      if (BYTE_LEVEL.has(name)) {
        // Byte-level vocabularies are lossless: decoding gives back the (normalized) text, and
        // the tokens' bytes spell it.
        for (const text of corpus) {
          const clean = name === "qwen3"
            ? text.toWellFormed().normalize("NFC")
            : text.toWellFormed();
          // (Llama-3's config asks decode to clean up spaces, so only its bytes are lossless.)
          if (fixture.config.clean_up_tokenization_spaces !== true) {
            assertEquals(ours.decode(ours.encode(clean, { special: "all" })), clean);
          }
          const bytes = list(ours.encode(clean)).flatMap((id) => [...ours.tokenBytes(id)]);
          assertEquals(new TextDecoder().decode(Uint8Array.from(bytes)), clean);
        }
      }
    } finally {
      ours.free();
    }
  });
}

Deno.test("malformed tokenizer.json input is a 4xx A3sError, never a crash", async () => {
  const cases: [unknown, number][] = [
    [{}, 400],
    [{ model: { type: "Nope", vocab: {} } }, 400],
    [{ model: { type: "BPE", vocab: [] } }, 400],
    [{ model: { type: "WordPiece", vocab: { a: 0 } } }, 400],
    [{ model: { type: "BPE", vocab: { a: 0 }, merges: [] }, normalizer: { type: "Nope" } }, 400],
    [{ model: { type: "BPE", vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: "Nope" } }, 400],
    ["/no/such/tokenizer.json", 404],
  ];
  for (const [source, status] of cases) {
    let caught: unknown;
    try {
      await loadTokenizer(source as Record<string, unknown>);
    } catch (error) {
      caught = error;
    }
    assert(caught instanceof A3sError, `${JSON.stringify(source)}: ${caught}`);
    assertEquals(caught.status, status, caught.message);
  }
  const empty = await loadTokenizer({ model: { type: "BPE", vocab: { a: 0 }, merges: [] } });
  assertEquals(list(empty.encode("aba")), [0, 0]);
  assertEquals(empty.decode([0, 99, 0]), "aa");
  empty.free();
});

Deno.test("added tokens that strip whitespace beside them match transformers.js", async () => {
  const fixture = await FIXTURES["chatml-byte-level"]();
  const added = fixture.json.added_tokens as Record<string, unknown>[];
  const size = added.length + Object.keys((fixture.json.model as { vocab: object }).vocab).length;
  const json = {
    ...fixture.json,
    added_tokens: [
      ...added,
      { id: size, content: "<mask>", lstrip: true, rstrip: false, special: true },
      { id: size + 1, content: "[sep]", lstrip: false, rstrip: true, special: false },
    ],
  };
  const ours = await loadTokenizer(json, fixture.config);
  const reference = TokenizerLoader.fromPreTrained({
    tokenizerJSON: json,
    tokenizerConfig: fixture.config,
  });
  for (const text of ["a  <mask>  b", "<mask> x [sep]   y", "x\t\n<mask>[sep]\n z", "  [sep]  "]) {
    assertEquals(list(ours.encode(text, { special: "all" })), reference.encode(text), text);
  }
  ours.free();
});

Deno.test("fuse_unk joins runs of unknown characters as transformers.js does", async () => {
  const json = {
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: {
      type: "BPE",
      vocab: { "<unk>": 0, a: 1, b: 2, ab: 3 },
      merges: ["a b"],
      unk_token: "<unk>",
      fuse_unk: true,
    },
  };
  const ours = await loadTokenizer(json);
  const reference = TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: {} });
  for (const text of ["ab", "xab", "xyab", "abxyz", "xaby", "x", "xy", "abab", "a".repeat(300)]) {
    assertEquals(list(ours.encode(text)), reference.encode(text), text);
  }
  assertEquals(list(ours.encode("xyzab")), [0, 3]);
  ours.free();
});
