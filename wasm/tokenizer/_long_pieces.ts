/**
 * Long pre-tokens and the tokenizers that encode them, for the tests that pin the ids of long
 * pieces. `testdata/tokenizer/long_pieces.json` holds, for each tokenizer and text, the id count
 * and a digest of the ids the BPE merge gave before it was rewritten for long pieces; any later
 * change to the merge must give the same. Regenerate it only when ids are meant to change:
 *
 *     deno run -A wasm/tokenizer/_long_pieces.ts
 */
import { getEncoding } from "./tiktoken.ts";
import { loadTokenizer } from "./load.ts";
import { FIXTURES } from "./_hf_fixtures.ts";
import { seededRandom } from "./_test_corpus.ts";
import type { Tokenizer } from "./types.ts";

export const FIXTURE_URL = new URL("../testdata/tokenizer/long_pieces.json", import.meta.url);

/** `length` characters drawn from `alphabet` (a string or a code point range). */
function randomText(seed: number, length: number, alphabet: string | [number, number]): string {
  const random = seededRandom(seed);
  const chars = typeof alphabet === "string" ? [...alphabet] : undefined;
  const out: string[] = [];
  while (out.length < length) {
    if (chars) {
      out.push(chars[Math.floor(random() * chars.length)]);
      continue;
    }
    const [lo, hi] = alphabet as [number, number];
    const cp = lo + Math.floor(random() * (hi - lo + 1));
    if (cp < 0xd800 || cp > 0xdfff) out.push(String.fromCodePoint(cp));
  }
  return out.join("");
}

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * The texts, by name: runs the pre-tokenizers keep whole (letters of several scripts and byte
 * widths, one repeated letter, emoji, spaces), lengths either side of the short-piece cut-off,
 * and base64 and random code points, which split into pieces of every length.
 */
export function longTexts(): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const n of [95, 96, 97, 98, 200, 1_000, 30_000, 1_000_000]) {
    texts[`letters-${n}`] = randomText(n, n, LOWER);
  }
  for (const n of [97, 1_000, 65_537, 1_000_000]) texts[`one-letter-${n}`] = "a".repeat(n);
  texts["two-letters-100000"] = randomText(2, 100_000, "ab");
  texts["mixed-case-200000"] = randomText(3, 200_000, "aAbBcCeEéÉßøØñÑ");
  texts["cyrillic-200000"] = randomText(4, 200_000, [0x430, 0x44f]);
  texts["cjk-200000"] = randomText(5, 200_000, [0x4e00, 0x9fff]);
  texts["hangul-50000"] = randomText(6, 50_000, [0xac00, 0xd7a3]);
  texts["emoji-50000"] = randomText(7, 50_000, [0x1f600, 0x1f64f]);
  texts["latin1-100000"] = randomText(8, 100_000, [0xa0, 0xff]);
  texts["base64-4000"] = randomText(9, 4_000, BASE64);
  texts["base64-500000"] = randomText(10, 500_000, BASE64);
  texts["code-points-100000"] = randomText(11, 100_000, [0, 0x10ffff]);
  texts["spaces-200000"] = " ".repeat(200_000);
  return texts;
}

/** The tokenizers, by name: tiktoken (ranks by bytes) and Hugging Face (merge rules) ones. */
export const LONG_TOKENIZERS: Record<string, () => Promise<Tokenizer>> = {
  cl100k_base: () => getEncoding("cl100k_base"),
  o200k_base: () => getEncoding("o200k_base"),
  qwen3: async () => {
    const { json, config } = await FIXTURES.qwen3();
    return await loadTokenizer(json, config);
  },
  // Byte-level with no split: every text is one piece, random code points are random bytes.
  "qwen3-unsplit": async () => {
    const { json, config } = await FIXTURES.qwen3();
    const pre_tokenizer = { type: "ByteLevel", add_prefix_space: false, use_regex: false };
    return await loadTokenizer({ ...json, normalizer: null, pre_tokenizer }, config);
  },
  // Characters with byte fallback and no pre-tokenizer: every text is one piece.
  llama2: async () => {
    const { json, config } = await FIXTURES.llama2();
    return await loadTokenizer(json, config);
  },
  gemma3: async () => {
    const { json, config } = await FIXTURES.gemma3();
    return await loadTokenizer(json, config);
  },
};

/** Encode options: the ids of the text alone, as `count` counts them. */
export const BARE = { addSpecialTokens: false } as const;

/** Id count and the first 16 hex digits of the SHA-256 of the ids (u32, little-endian). */
export async function digest(ids: Uint32Array): Promise<[number, string]> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", ids.slice()));
  const hex = Array.from(hash.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return [ids.length, hex];
}

if (import.meta.main) {
  const texts = longTexts();
  const fixture: Record<string, Record<string, [number, string]>> = {};
  for (const [name, open] of Object.entries(LONG_TOKENIZERS)) {
    const tokenizer = await open();
    fixture[name] = {};
    for (const [label, text] of Object.entries(texts)) {
      fixture[name][label] = await digest(tokenizer.encode(text, BARE));
    }
    tokenizer.free();
    console.log(`${name}: ${Object.keys(texts).length} texts`);
  }
  // One [count, digest] per line.
  const json = JSON.stringify(fixture, null, 1).replace(/\[\s+(\d+),\s+("\w+")\s+\]/g, "[$1, $2]");
  await Deno.writeTextFile(FIXTURE_URL, json + "\n");
}
