import { ENCODING_NAMES, type EncodingName, getEncoding } from "./tiktoken.ts";
import { loadTokenizer } from "./load.ts";
import type { Tokenizer } from "./types.ts";

/**
 * Opens a tokenizer by tiktoken encoding name or by `tokenizer.json` path (or its directory).
 *
 * @example
 * ```ts
 * import { openTokenizer } from "@a3s/wasm/tokenizer";
 * const tok = await openTokenizer("cl100k_base");
 * console.log(tok.count("hello"));
 * tok.free();
 * ```
 */
export function openTokenizer(nameOrPath: string): Promise<Tokenizer> {
  return (ENCODING_NAMES as readonly string[]).includes(nameOrPath)
    ? getEncoding(nameOrPath as EncodingName)
    : loadTokenizer(nameOrPath);
}
