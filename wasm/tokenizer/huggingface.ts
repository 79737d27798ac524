/**
 * Tokenizers described by a Hugging Face `tokenizer.json`: BPE (byte-level like GPT-2, Llama-3
 * and Qwen, or SentencePiece-style with byte fallback like Llama-2 and Gemma), WordPiece
 * (BERT) and Unigram (T5), with their normalizers, pre-tokenizers, post-processors, decoders and added tokens.
 * Ids match transformers.js token for token.
 */
import { A3sError } from "@a3s/common/errors";
import { BYTE_TO_CHAR, byteLevelBytes } from "./_byte_level.ts";
import { Engine, Split } from "./_engine.ts";
import { AddedTokenSplitter } from "./added_tokens.ts";
import { buildDecoder, cleanup, type DecoderStep } from "./decoders.ts";
import { buildNormalizer, type Normalizer } from "./normalizers.ts";
import { buildPostProcessor, type PostProcessor } from "./post_processors.ts";
import { planPreTokenizer, type PreTokenizerPlan } from "./pre_tokenizers.ts";
import type { DecodeOptions, EncodeOptions, SpecialMode, Tokenizer } from "./types.ts";
import { UnigramModel } from "./unigram.ts";
import { wordPiece, type WordPieceModel } from "./wordpiece.ts";
import { concatIds } from "./_concat_ids.ts";

type Config = Record<string, unknown>;

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const NO_ID = 0xffffffff;
const UNKNOWN_CHAR = 0xfffffffe;

function invalid(message: string, field: string): A3sError {
  return new A3sError("invalid_tokenizer", message, { status: 400, field });
}

function hasByteLevel(config: Config | null | undefined): boolean {
  if (!config) return false;
  if (config.type === "ByteLevel") return true;
  const children = (config.pretokenizers ?? config.decoders) as Config[] | undefined;
  return Array.isArray(children) && children.some(hasByteLevel);
}

type Model =
  | { kind: "bpe"; engine: Engine; plan: PreTokenizerPlan; byteLevel: boolean; fuseUnk: boolean }
  | { kind: "wordpiece"; wordpiece: WordPieceModel; plan: PreTokenizerPlan }
  | { kind: "unigram"; unigram: UnigramModel; plan: PreTokenizerPlan };

class HuggingFaceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly chatTemplate?: string;
  readonly #cleanup: boolean;
  readonly #model: Model;
  readonly #vocab: Map<string, number>;
  readonly #tokens: string[];
  readonly #added = new Map<number, AddedToken>();
  readonly #addedByContent = new Map<string, AddedToken>();
  readonly #allSplitter: AddedTokenSplitter;
  readonly #plainSplitter: AddedTokenSplitter;
  readonly #normalizer?: Normalizer;
  readonly #postProcessor?: PostProcessor;
  readonly #decoder: DecoderStep;
  readonly #unkId: number | undefined;

  constructor(
    model: Model,
    vocab: Map<string, number>,
    added: AddedToken[],
    json: Config,
    unkId: number | undefined,
    config: Config,
  ) {
    this.#model = model;
    this.#cleanup = config.clean_up_tokenization_spaces === true;
    this.chatTemplate = chatTemplateOf(config.chat_template);
    this.#vocab = vocab;
    this.#unkId = unkId;
    for (const token of added) {
      this.#added.set(token.id, token);
      this.#addedByContent.set(token.content, token);
      vocab.set(token.content, token.id);
    }
    const tokens: string[] = [];
    for (const [token, id] of vocab) tokens[id] = token;
    this.#tokens = tokens;
    this.vocabSize = tokens.length;
    this.specialTokens = new Map(added.filter((t) => t.special).map((t) => [t.content, t.id]));
    this.#allSplitter = new AddedTokenSplitter(added.map((t) => [t.content, t.id]));
    this.#plainSplitter = new AddedTokenSplitter(
      added.filter((t) => !t.special).map((t) => [t.content, t.id]),
    );
    this.#normalizer = buildNormalizer(json.normalizer as Config);
    this.#postProcessor = buildPostProcessor(json.post_processor as Config, (t) => vocab.get(t));
    this.#decoder = buildDecoder(json.decoder as Config);
  }

  #encodeSection(text: string, sectionIndex: number): ArrayLike<number> {
    const model = this.#model;
    if (model.kind === "bpe") {
      const plan = model.plan;
      let ids: ArrayLike<number>;
      if (plan.kind === "native") {
        ids = model.engine.encodeView(
          plan.prefixSpace && !text.startsWith(" ") ? " " + text : text,
        ).slice();
      } else {
        ids = model.engine.encodePiecesView(plan.run(text, sectionIndex)).slice();
      }
      return model.fuseUnk ? this.#fuseUnknown(ids) : ids;
    }
    const plan = model.plan;
    const words = plan.kind === "native" ? [text] : plan.run(text, sectionIndex);
    const out: number[] = [];
    if (model.kind === "unigram") {
      for (const word of words) model.unigram.encode(word, out);
    } else {
      for (const word of words) wordPiece(model.wordpiece, word, out);
    }
    return out;
  }

  #fuseUnknown(ids: ArrayLike<number>): ArrayLike<number> {
    const unk = this.#unkId;
    if (unk === undefined) return ids;
    // Most texts hold no two unknown ids in a row: keep their ids as they are, uncopied.
    let pair = 1;
    while (pair < ids.length && !(ids[pair] === unk && ids[pair - 1] === unk)) pair++;
    if (pair >= ids.length) return ids;
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === unk && out.length && out[out.length - 1] === unk) continue;
      out.push(ids[i]);
    }
    return out;
  }

  #encodeText(text: string, special: SpecialMode | undefined): Uint32Array {
    const splitter = special === "all" ? this.#allSplitter : this.#plainSplitter;
    const sections = splitter.split(text);
    // Added tokens with lstrip/rstrip eat the whitespace beside them.
    for (let i = 0; i < sections.length; i++) {
      const id = sections[i].id;
      const token = id === undefined ? undefined : this.#added.get(id);
      if (!token) continue;
      const before = sections[i - 1];
      if (token.lstrip && before && before.id === undefined) {
        sections[i - 1] = { text: before.text.trimEnd() };
      }
      const after = sections[i + 1];
      if (token.rstrip && after && after.id === undefined) {
        sections[i + 1] = { text: after.text.trimStart() };
      }
    }
    const parts: ArrayLike<number>[] = [];
    let total = 0;
    sections.forEach((section, index) => {
      if (section.id !== undefined) {
        parts.push([section.id]);
        total++;
        return;
      }
      let x = section.text;
      if (x.length === 0) return;
      if (this.#normalizer) x = this.#normalizer(x);
      if (x.length === 0) return;
      const ids = this.#encodeSection(x, index);
      parts.push(ids);
      total += ids.length;
    });
    return concatIds(parts, total);
  }

  encode(text: string, options?: EncodeOptions): Uint32Array {
    const ids = this.#encodeText(text, options?.special);
    return this.#postProcessor ? this.#postProcessor(ids, options?.addSpecialTokens ?? true) : ids;
  }

  count(text: string, options?: { special?: SpecialMode }): number {
    const model = this.#model;
    if (
      model.kind === "bpe" && model.plan.kind === "native" && !model.plan.prefixSpace &&
      !this.#normalizer && !model.fuseUnk && this.#plainSplitter.size === 0 &&
      options?.special !== "all"
    ) {
      return model.engine.count(text);
    }
    return this.#encodeText(text, options?.special).length;
  }

  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    const text = this.#decode(ids, options);
    return this.#cleanup ? cleanup(text) : text;
  }

  #decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    const skip = options?.skipSpecialTokens === true;
    const model = this.#model;
    if (model.kind === "bpe" && model.byteLevel) {
      // Bytes of ordinary tokens come from the engine; added tokens are spliced in as text.
      let text = "";
      let run: number[] = [];
      const flush = () => {
        if (run.length) text += utf8Decoder.decode(model.engine.decodeBytes(run));
        run = [];
      };
      for (let i = 0; i < ids.length; i++) {
        const added = this.#added.get(ids[i]);
        if (!added) {
          run.push(ids[i]);
          continue;
        }
        flush();
        if (!(skip && added.special)) text += added.content;
      }
      flush();
      return text;
    }
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const added = this.#added.get(ids[i]);
      if (added?.special && skip) continue;
      const token = this.#tokens[ids[i]];
      if (token !== undefined) tokens.push(token);
    }
    return this.#decoder(tokens).join("");
  }

  tokenToId(token: string): number | undefined {
    return this.#vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.#tokens[id];
  }

  tokenBytes(id: number): Uint8Array {
    if (this.#added.get(id)?.special) return new Uint8Array(0);
    const model = this.#model;
    if (model.kind === "bpe" && model.byteLevel && !this.#added.has(id)) {
      return model.engine.tokenBytes(id);
    }
    const token = this.#tokens[id];
    if (token === undefined) return new Uint8Array(0);
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (byte && model.kind === "bpe") return Uint8Array.of(parseInt(byte[1], 16));
    return utf8Encoder.encode(this.#decoder([token]).join(""));
  }

  free(): void {
    if (this.#model.kind === "bpe") this.#model.engine.free();
  }
}

function parseMerges(raw: unknown[]): [string, string][] {
  return raw.map((merge) => {
    if (Array.isArray(merge)) return [String(merge[0]), String(merge[1])];
    const text = String(merge);
    const space = text.indexOf(" ", 1);
    return [text.slice(0, space), text.slice(space + 1)];
  });
}

async function buildBpe(model: Config, json: Config, vocab: Map<string, number>): Promise<Model> {
  const byteLevel = hasByteLevel(json.pre_tokenizer as Config) ||
    hasByteLevel(json.decoder as Config);
  if (model.continuing_subword_prefix || model.end_of_word_suffix) {
    throw new A3sError(
      "unsupported_tokenizer",
      "BPE with continuing_subword_prefix or end_of_word_suffix is not supported",
      { status: 400, field: "model" },
    );
  }
  const plan = planPreTokenizer(json.pre_tokenizer as Config);
  const unkId = typeof model.unk_token === "string" ? vocab.get(model.unk_token) : undefined;
  const engine = await Engine.create({
    split: plan.kind === "native" ? plan.split : Split.none,
    jsFlavor: true,
    rankByBytes: false,
    byteLevel,
    ignoreMerges: model.ignore_merges === true,
    unkId: unkId ?? -1,
    loneSurrogates: !byteLevel,
  });
  const ids: number[] = [];
  const tokens: Uint8Array[] = [];
  for (const [token, id] of vocab) {
    const bytes = byteLevel ? byteLevelBytes(token) : utf8Encoder.encode(token);
    if (!bytes || bytes.length === 0) continue;
    ids.push(id);
    tokens.push(bytes);
  }
  engine.loadVocab(ids, tokens);
  const merges = parseMerges((model.merges as unknown[]) ?? []);
  const triples = new Uint32Array(merges.length * 3);
  let count = 0;
  for (const [left, right] of merges) {
    const a = vocab.get(left);
    const b = vocab.get(right);
    const merged = vocab.get(left + right);
    if (a === undefined || b === undefined || merged === undefined) continue;
    triples[count * 3] = a;
    triples[count * 3 + 1] = b;
    triples[count * 3 + 2] = merged;
    count++;
  }
  engine.loadMerges(triples.subarray(0, count * 3));
  const byteIds = new Uint32Array(256).fill(UNKNOWN_CHAR);
  const fallbackIds = new Uint32Array(256).fill(NO_ID);
  for (let b = 0; b < 256; b++) {
    if (byteLevel) byteIds[b] = vocab.get(BYTE_TO_CHAR[b]) ?? UNKNOWN_CHAR;
    if (model.byte_fallback === true) {
      const hex = b.toString(16).toUpperCase().padStart(2, "0");
      fallbackIds[b] = vocab.get(`<0x${hex}>`) ?? NO_ID;
    }
  }
  engine.setByteTables(byteIds, fallbackIds);
  return { kind: "bpe", engine, plan, byteLevel, fuseUnk: model.fuse_unk === true };
}

function chatTemplateOf(template: unknown): string | undefined {
  if (typeof template === "string") return template;
  // Some configs carry named templates; the default one is what chat uses.
  if (Array.isArray(template)) {
    const named = template.find((t) => t?.name === "default") ?? template[0];
    return typeof named?.template === "string" ? named.template : undefined;
  }
  return undefined;
}

function addedTokens(json: Config): AddedToken[] {
  return ((json.added_tokens as Config[]) ?? []).map((t) => ({
    id: Number(t.id),
    content: String(t.content),
    special: t.special === true,
    lstrip: t.lstrip === true,
    rstrip: t.rstrip === true,
  }));
}

/**
 * Builds a tokenizer from parsed `tokenizer.json` content and, optionally, the parsed
 * `tokenizer_config.json` beside it (its chat template and `clean_up_tokenization_spaces`).
 */
export async function fromTokenizerJson(json: Config, config: Config = {}): Promise<Tokenizer> {
  const model = json.model as Config | undefined;
  if (!model || typeof model !== "object") throw invalid("tokenizer.json has no model", "model");
  const rawVocab = model.vocab;
  const type = model.type ??
    (Array.isArray(rawVocab) ? "Unigram" : model.merges ? "BPE" : "WordPiece");
  if (type === "Unigram") {
    if (!Array.isArray(rawVocab)) {
      throw invalid("Unigram needs a [piece, score] list", "model.vocab");
    }
    const pieces = rawVocab as [string, number][];
    const unigramUnk = Number(model.unk_id ?? 0);
    const vocab = new Map<string, number>(pieces.map(([piece], id) => [piece, id]));
    const built: Model = {
      kind: "unigram",
      unigram: new UnigramModel(pieces, unigramUnk),
      plan: planPreTokenizer(json.pre_tokenizer as Config),
    };
    return new HuggingFaceTokenizer(built, vocab, addedTokens(json), json, unigramUnk, config);
  }
  if (!rawVocab || typeof rawVocab !== "object" || Array.isArray(rawVocab)) {
    throw invalid("model.vocab must map tokens to ids", "model.vocab");
  }
  const vocab = new Map<string, number>(Object.entries(rawVocab as Record<string, number>));
  const added = addedTokens(json);
  const unkId = typeof model.unk_token === "string" ? vocab.get(model.unk_token) : undefined;
  let built: Model;
  if (type === "BPE") {
    built = await buildBpe(model, json, vocab);
  } else if (type === "WordPiece") {
    if (unkId === undefined) {
      throw invalid("WordPiece needs an unk_token in its vocabulary", "model.unk_token");
    }
    built = {
      kind: "wordpiece",
      plan: planPreTokenizer(json.pre_tokenizer as Config),
      wordpiece: {
        vocab,
        unkId,
        prefix: String(model.continuing_subword_prefix ?? "##"),
        maxChars: Number(model.max_input_chars_per_word ?? 100),
      },
    };
  } else {
    throw new A3sError("unsupported_tokenizer", `model type '${type}' is not supported`, {
      status: 400,
      field: "model.type",
    });
  }
  return new HuggingFaceTokenizer(built, vocab, added, json, unkId, config);
}
