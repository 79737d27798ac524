import { NotFoundError } from "@a3s/common/errors";
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
export async function openTokenizer(nameOrPath: string): Promise<Tokenizer> {
  if ((ENCODING_NAMES as readonly string[]).includes(nameOrPath)) {
    return await getEncoding(nameOrPath as EncodingName);
  }
  if (!(await Deno.stat(nameOrPath).catch(() => undefined))) {
    throw new NotFoundError(
      `unknown tokenizer '${nameOrPath}': neither an encoding (${
        ENCODING_NAMES.join(", ")
      }) nor a tokenizer.json path`,
    );
  }
  return await loadTokenizer(nameOrPath);
}
