/** Loading a Hugging Face tokenizer from a path, a directory, a URL or parsed JSON. */
import { A3sError, NotFoundError } from "@a3s/common";
import { join } from "node:path";
import { fromTokenizerJson } from "./huggingface.ts";
import type { Tokenizer } from "./types.ts";

async function readJson(source: string | URL): Promise<Record<string, unknown>> {
  let text: string;
  if (source instanceof URL && source.protocol !== "file:") {
    const response = await fetch(source);
    if (!response.ok) throw new NotFoundError(`cannot fetch ${source}: HTTP ${response.status}`);
    text = await response.text();
  } else {
    let path = source instanceof URL ? source : source;
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info) throw new NotFoundError(`no tokenizer at ${source}`);
    if (info.isDirectory) {
      path = join(source instanceof URL ? source.pathname : source, "tokenizer.json");
    }
    text = await Deno.readTextFile(path);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new A3sError(
      "invalid_tokenizer",
      `tokenizer.json is not JSON: ${(error as Error).message}`,
      {
        status: 400,
        field: "tokenizer",
      },
    );
  }
}

/**
 * Loads a Hugging Face tokenizer: a path to `tokenizer.json`, a directory that holds one, a URL,
 * or the parsed JSON itself.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@a3s/wasm/tokenizer";
 * const tok = await loadTokenizer("power/model/default");
 * console.log(tok.encode("hello"));
 * tok.free();
 * ```
 */
export async function loadTokenizer(
  source: string | URL | Record<string, unknown>,
): Promise<Tokenizer> {
  const json = typeof source === "string" || source instanceof URL
    ? await readJson(source)
    : source;
  return await fromTokenizerJson(json);
}
