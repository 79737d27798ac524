/**
 * OpenAI's tiktoken encodings. The rank data is read at run time from the `tiktoken` npm
 * package (its `encoders/*.json`), so nothing large is committed here.
 */
import { Buffer } from "node:buffer";
import { parseRankListing } from "./_base64.ts";
import { concatIds } from "./_concat_ids.ts";
import { Engine, Split } from "./_engine.ts";
import { AddedTokenSplitter } from "./added_tokens.ts";
import type { DecodeOptions, EncodeOptions, SpecialMode, Tokenizer } from "./types.ts";

/** The tiktoken encodings this module ships. */
export type EncodingName = "cl100k_base" | "o200k_base" | "p50k_base" | "r50k_base";

/** Names accepted by {@linkcode getEncoding}. */
export const ENCODING_NAMES: readonly EncodingName[] = [
  "cl100k_base",
  "o200k_base",
  "p50k_base",
  "r50k_base",
];

interface RankFile {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

function rankData(module: unknown): RankFile {
  return (module as { default: RankFile }).default;
}

async function rankFile(name: EncodingName): Promise<RankFile> {
  // Literal specifiers keep the imports visible to the module graph.
  switch (name) {
    case "cl100k_base":
      return rankData(
        await import("tiktoken/encoders/cl100k_base.json", { with: { type: "json" } }),
      );
    case "o200k_base":
      return rankData(
        await import("tiktoken/encoders/o200k_base.json", { with: { type: "json" } }),
      );
    case "p50k_base":
      return rankData(await import("tiktoken/encoders/p50k_base.json", { with: { type: "json" } }));
    case "r50k_base":
      return rankData(await import("tiktoken/encoders/r50k_base.json", { with: { type: "json" } }));
  }
}

const SPLIT_OF: Record<EncodingName, number> = {
  cl100k_base: Split.cl100k,
  o200k_base: Split.o200k,
  p50k_base: Split.gpt2,
  r50k_base: Split.gpt2,
};

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

class TiktokenTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly #engine: Engine;
  readonly #specialById = new Map<number, string>();
  readonly #splitter: AddedTokenSplitter;

  constructor(engine: Engine, specials: Record<string, number>) {
    this.#engine = engine;
    this.specialTokens = new Map(Object.entries(specials));
    let size = engine.size;
    for (const [text, id] of this.specialTokens) {
      this.#specialById.set(id, text);
      size = Math.max(size, id + 1);
    }
    this.vocabSize = size;
    this.#splitter = new AddedTokenSplitter(this.specialTokens);
  }

  encode(text: string, options?: EncodeOptions): Uint32Array {
    if (options?.special !== "all") return this.#engine.encodeView(text).slice();
    const parts: Uint32Array[] = [];
    let total = 0;
    for (const section of this.#splitter.split(text)) {
      const ids = section.id === undefined
        ? this.#engine.encodeView(section.text).slice()
        : Uint32Array.of(section.id);
      parts.push(ids);
      total += ids.length;
    }
    return concatIds(parts, total);
  }

  count(text: string, options?: { special?: SpecialMode }): number {
    if (options?.special !== "all") return this.#engine.count(text);
    let total = 0;
    for (const section of this.#splitter.split(text)) {
      total += section.id === undefined ? this.#engine.count(section.text) : 1;
    }
    return total;
  }

  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    if (this.#specialById.size === 0) return this.#engine.decodeText(ids);
    let runStart = 0;
    const bytes: Uint8Array[] = [];
    const flush = (end: number) => {
      if (end > runStart) {
        bytes.push(this.#engine.decodeBytes(Array.prototype.slice.call(ids, runStart, end)));
      }
    };
    for (let i = 0; i < ids.length; i++) {
      const special = this.#specialById.get(ids[i]);
      if (special === undefined) continue;
      flush(i);
      runStart = i + 1;
      if (!options?.skipSpecialTokens) bytes.push(new TextEncoder().encode(special));
    }
    flush(ids.length);
    return decoder.decode(Buffer.concat(bytes));
  }

  tokenToId(token: string): number | undefined {
    return this.specialTokens.get(token) ?? this.#engine.tokenId(token);
  }

  idToToken(id: number): string | undefined {
    const special = this.#specialById.get(id);
    if (special !== undefined) return special;
    const bytes = this.#engine.tokenBytes(id);
    return bytes.length ? decoder.decode(bytes) : undefined;
  }

  tokenBytes(id: number): Uint8Array {
    return this.#engine.tokenBytes(id);
  }

  free(): void {
    this.#engine.free();
  }
}

/**
 * Loads a tiktoken encoding.
 *
 * @example
 * ```ts
 * import { getEncoding } from "@a3s/wasm/tokenizer";
 * const enc = await getEncoding("cl100k_base");
 * console.log(enc.count("hello world")); // 2
 * enc.free();
 * ```
 */
export async function getEncoding(name: EncodingName): Promise<Tokenizer> {
  if (!ENCODING_NAMES.includes(name)) {
    throw new Error(`unknown encoding '${name}'; expected one of ${ENCODING_NAMES.join(", ")}`);
  }
  const file = await rankFile(name);
  const packed = parseRankListing(file.bpe_ranks);
  const engine = await Engine.create({
    split: SPLIT_OF[name],
    jsFlavor: false,
    rankByBytes: true,
    byteLevel: true,
    ignoreMerges: true,
    unkId: -1,
  });
  engine.loadPacked(packed);
  const byteIds = new Uint32Array(256).fill(0xffffffff);
  let offset = 0;
  for (let i = 0; i < packed.ids.length; i++) {
    if (packed.lengths[i] === 1) byteIds[packed.bytes[offset]] = packed.ids[i];
    offset += packed.lengths[i];
  }
  engine.setByteTables(byteIds, new Uint32Array(256).fill(0xffffffff));
  return new TiktokenTokenizer(engine, file.special_tokens);
}
