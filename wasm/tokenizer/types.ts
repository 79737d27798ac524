/** How text that spells a special token is treated when encoding. */
export type SpecialMode = "all" | "none";

/** Options of {@linkcode Tokenizer.encode}. */
export interface EncodeOptions {
  /**
   * `"all"`: text that spells a special token becomes that token; `"none"` (default): it is
   * encoded as ordinary text. Added tokens that are not special always match.
   */
  special?: SpecialMode;
  /** Apply the post-processor's BOS/EOS template (Hugging Face; default true). */
  addSpecialTokens?: boolean;
}

/** Options of {@linkcode Tokenizer.decode}. */
export interface DecodeOptions {
  /** Leave special tokens out of the text. */
  skipSpecialTokens?: boolean;
}

/** A loaded tokenizer. Call {@linkcode Tokenizer.free} when done to release its wasm memory. */
export interface Tokenizer {
  /** Number of ids, special tokens included. */
  readonly vocabSize: number;
  /** Text to ids. */
  encode(text: string, options?: EncodeOptions): Uint32Array;
  /** Ids to text. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** Number of ids `encode` would return (no BOS/EOS template). */
  count(text: string, options?: { special?: SpecialMode }): number;
  /** The id of a token given as it is spelled in the vocabulary. */
  tokenToId(token: string): number | undefined;
  /** The vocabulary spelling of an id. */
  idToToken(id: number): string | undefined;
  /** The exact UTF-8 bytes id contributes to decoded text; empty for special tokens. */
  tokenBytes(id: number): Uint8Array;
  /** Special token text to id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** The chat template from `tokenizer_config.json`, when one came with the tokenizer. */
  readonly chatTemplate?: string;
  /** Releases the wasm memory; the tokenizer cannot be used afterwards. */
  free(): void;
}
