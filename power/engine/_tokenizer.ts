/**
 * The tokenizer power uses, behind the interface of `@a3s/wasm/tokenizer`. Until that package
 * lands this adapter is backed by `@lenml/tokenizers` (a transformers.js fork); only this file
 * changes when it switches.
 */
import { TokenizerLoader } from "@lenml/tokenizers";
import { join } from "node:path";

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
  /** The exact bytes a token contributes to the output. */
  tokenBytes(id: number): Uint8Array;
  /** Special token strings mapped to their ids. */
  specialTokens: ReadonlyMap<string, number>;
  vocabSize: number;
  free(): void;
}

interface LenmlTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  model: { tokens_to_ids: Map<string, number>; vocab: string[] };
  added_tokens: { id: number; content: string; special: boolean }[];
}

function byteLevelDecoderMap(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Map<string, number>();
  for (const b of printable) map.set(String.fromCharCode(b), b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) map.set(String.fromCharCode(256 + n++), b);
  }
  return map;
}

const encoder = new TextEncoder();

function tokenBytesTable(
  json: Record<string, unknown>,
  vocab: readonly string[],
  added: ReadonlyMap<number, string>,
): Uint8Array[] {
  const decoderType = (json.decoder ?? {}) as { type?: string; decoders?: { type: string }[] };
  const types = [decoderType.type, ...(decoderType.decoders ?? []).map((d) => d.type)];
  const byteLevel = types.includes("ByteLevel");
  const byteMap = byteLevel ? byteLevelDecoderMap() : undefined;
  const table: Uint8Array[] = [];
  for (let id = 0; id < vocab.length; id++) {
    const special = added.get(id);
    const token = special ?? vocab[id] ?? "";
    if (special !== undefined) {
      table.push(encoder.encode(special));
    } else if (byteMap) {
      const bytes: number[] = [];
      for (const ch of token) {
        const b = byteMap.get(ch);
        if (b === undefined) bytes.push(...encoder.encode(ch));
        else bytes.push(b);
      }
      table.push(Uint8Array.from(bytes));
    } else {
      const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
      table.push(
        hex ? Uint8Array.of(parseInt(hex[1], 16)) : encoder.encode(token.replaceAll("▁", " ")),
      );
    }
  }
  return table;
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
  const isFile = pathOrDir.endsWith(".json");
  const dir = isFile ? pathOrDir.replace(/[^/]+$/, "") : pathOrDir;
  const tokenizerJSON = JSON.parse(
    await Deno.readTextFile(isFile ? pathOrDir : join(dir, "tokenizer.json")),
  );
  let tokenizerConfig: Record<string, unknown> = {};
  try {
    tokenizerConfig = JSON.parse(await Deno.readTextFile(join(dir, "tokenizer_config.json")));
  } catch {
    // A tokenizer.json alone is enough to tokenize.
  }
  const inner = TokenizerLoader.fromPreTrained({
    tokenizerJSON,
    tokenizerConfig,
  }) as unknown as LenmlTokenizer;
  const vocabEntries = tokenizerJSON.model?.vocab;
  const vocab: string[] = [];
  if (Array.isArray(vocabEntries)) {
    vocabEntries.forEach((entry: [string, number], i: number) => (vocab[i] = entry[0]));
  } else {
    for (const [token, id] of Object.entries(vocabEntries as Record<string, number>)) {
      vocab[id] = token;
    }
  }
  const added = new Map<number, string>();
  const special = new Map<string, number>();
  for (const t of tokenizerJSON.added_tokens ?? []) {
    added.set(t.id, t.content);
    vocab[t.id] = t.content;
    if (t.special) special.set(t.content, t.id);
  }
  const ids = new Map<string, number>();
  vocab.forEach((token, id) => token !== undefined && ids.set(token, id));
  const bytes = tokenBytesTable(tokenizerJSON, vocab, added);
  const specialPattern = special.size
    ? new RegExp(
      [...special.keys()].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
      "g",
    )
    : undefined;
  const encode = (text: string, options: EncodeOptions = {}): number[] => {
    const addSpecial = options.addSpecialTokens ?? false;
    if (options.special === "none" && specialPattern) {
      // Split around special-token text so it is tokenized as plain characters.
      const out: number[] = [];
      let last = 0;
      for (const m of text.matchAll(specialPattern)) {
        if (m.index > last) {
          out.push(...inner.encode(text.slice(last, m.index), { add_special_tokens: false }));
        }
        for (const ch of m[0]) out.push(...inner.encode(ch, { add_special_tokens: false }));
        last = m.index + m[0].length;
      }
      if (last < text.length) {
        out.push(...inner.encode(text.slice(last), { add_special_tokens: false }));
      }
      return out;
    }
    return inner.encode(text, { add_special_tokens: addSpecial });
  };
  return {
    encode,
    decode: (list, options = {}) =>
      inner.decode([...list], { skip_special_tokens: options.skipSpecialTokens ?? false }),
    count: (text) => encode(text, { special: "all" }).length,
    tokenToId: (token) => ids.get(token),
    idToToken: (id) => vocab[id],
    tokenBytes: (id) => bytes[id] ?? new Uint8Array(),
    specialTokens: special,
    vocabSize: vocab.length,
    free: () => {},
  };
}
