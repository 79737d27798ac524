/**
 * The tokenizer power uses: the wasm tokenizer from `@a3s/wasm/tokenizer`, seen through the
 * small interface the engine needs (plain `number[]` ids).
 */
import { loadTokenizer as loadWasmTokenizer } from "@a3s/wasm/tokenizer";

/** Options for {@linkcode Tokenizer.encode}. */
export interface EncodeOptions {
  /** "all" parses special tokens such as `<|im_start|>` in the text; "none" treats them as text. */
  special?: "all" | "none";
  addSpecialTokens?: boolean;
}

/** A loaded tokenizer. */
export interface Tokenizer {
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  count(text: string): number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** The exact bytes a token contributes to the output; empty for special tokens. */
  tokenBytes(id: number): Uint8Array;
  /** Special token strings mapped to their ids. */
  specialTokens: ReadonlyMap<string, number>;
  vocabSize: number;
  free(): void;
}

/**
 * Loads the tokenizer of a model directory (or a `tokenizer.json` path).
 *
 * @example
 * ```ts
 * const tokenizer = await loadTokenizer("power/testdata/tiny");
 * console.log(tokenizer.encode("hello"));
 * ```
 */
export async function loadTokenizer(pathOrDir: string): Promise<Tokenizer> {
  const inner = await loadWasmTokenizer(pathOrDir);
  // Token bytes are asked for on every step; the wasm call is cheap but a table is cheaper.
  const bytes: Uint8Array[] = [];
  for (let id = 0; id < inner.vocabSize; id++) bytes.push(inner.tokenBytes(id));
  const empty = new Uint8Array();
  return {
    encode: (text, options = {}) =>
      Array.from(inner.encode(text, {
        special: options.special ?? "none",
        addSpecialTokens: options.addSpecialTokens ?? false,
      })),
    decode: (ids, options = {}) =>
      inner.decode(ids, { skipSpecialTokens: options.skipSpecialTokens ?? false }),
    count: (text) => inner.count(text, { special: "all" }),
    tokenToId: (token) => inner.tokenToId(token),
    idToToken: (id) => inner.idToToken(id),
    tokenBytes: (id) => bytes[id] ?? empty,
    specialTokens: inner.specialTokens,
    vocabSize: inner.vocabSize,
    free: () => inner.free(),
  };
}
