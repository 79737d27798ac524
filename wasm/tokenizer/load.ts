/** Loading a Hugging Face tokenizer from a path, a directory, a URL or parsed JSON. */
import { A3sError, NotFoundError } from "@a3s/common/errors";
import { dirname, join } from "node:path";
import { fromTokenizerJson } from "./huggingface.ts";
import type { Tokenizer } from "./types.ts";

function parse(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new A3sError("invalid_tokenizer", `${what} is not JSON: ${(error as Error).message}`, {
      status: 400,
      field: "tokenizer",
    });
  }
}

async function readLocal(
  source: string,
): Promise<[Record<string, unknown>, Record<string, unknown>]> {
  const info = await Deno.stat(source).catch(() => undefined);
  if (!info) throw new NotFoundError(`no tokenizer at ${source}`);
  const dir = info.isDirectory ? source : dirname(source);
  const path = info.isDirectory ? join(source, "tokenizer.json") : source;
  const text = await Deno.readTextFile(path).catch(() => {
    throw new NotFoundError(`no tokenizer.json at ${path}`);
  });
  // tokenizer_config.json is optional; it brings the chat template and decode clean-up.
  const config = await Deno.readTextFile(join(dir, "tokenizer_config.json")).then(
    (t) => parse(t, "tokenizer_config.json"),
    () => ({}),
  );
  return [parse(text, "tokenizer.json"), config];
}

/**
 * Loads a Hugging Face tokenizer: a path to `tokenizer.json`, a directory that holds one, a URL,
 * or the parsed JSON itself. A `tokenizer_config.json` beside the file supplies the chat
 * template and whether decoding cleans up tokenization spaces; `config` does the same for
 * parsed JSON.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@a3s/wasm/tokenizer";
 * const tok = await loadTokenizer("power/testdata/tiny");
 * console.log(tok.encode("hello"));
 * tok.free();
 * ```
 */
export async function loadTokenizer(
  source: string | URL | Record<string, unknown>,
  config?: Record<string, unknown>,
): Promise<Tokenizer> {
  if (source instanceof URL && source.protocol !== "file:") {
    const response = await fetch(source);
    if (!response.ok) throw new NotFoundError(`cannot fetch ${source}: HTTP ${response.status}`);
    return await fromTokenizerJson(parse(await response.text(), "tokenizer.json"), config);
  }
  if (typeof source === "string" || source instanceof URL) {
    const path = source instanceof URL ? decodeURIComponent(source.pathname) : source;
    const [json, found] = await readLocal(path);
    return await fromTokenizerJson(json, config ?? found);
  }
  return await fromTokenizerJson(source, config);
}
