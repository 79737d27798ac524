/**
 * Token counting, encoding and decoding in WebAssembly: the tiktoken encodings (`cl100k_base`,
 * `o200k_base`, `p50k_base`, `r50k_base`) and Hugging Face `tokenizer.json` files (byte-level
 * and byte-fallback BPE, WordPiece, Unigram), with ids identical to tiktoken and transformers.js.
 *
 * BPE runs in WebAssembly: UTF-8 goes in with one copy, the split patterns of GPT-2, cl100k
 * (and Llama-3), Qwen and o200k are matched natively with Unicode tables compiled into the
 * module, and all ids come back in one array. Normalizers (`String.prototype.normalize` for
 * NFC and friends), other pre-tokenizers, WordPiece and Unigram run in JavaScript.
 *
 * @example
 * ```ts
 * import { getEncoding } from "@a3s/wasm/tokenizer";
 * const enc = await getEncoding("o200k_base");
 * const ids = enc.encode("Hello, world!");
 * console.log(ids.length, enc.decode(ids));
 * enc.free();
 * ```
 * @module
 */
export type { DecodeOptions, EncodeOptions, SpecialMode, Tokenizer } from "./types.ts";
export { ENCODING_NAMES, type EncodingName, getEncoding } from "./tiktoken.ts";
export { loadTokenizer } from "./load.ts";
export {
  type ChatContentPart,
  type ChatCountOptions,
  type ChatMessage,
  countChatTokens,
  renderChatTemplate,
} from "./chat.ts";
export { openTokenizer } from "./open.ts";
