// The BPE settings of the loaded vocabulary and the one question both merge strategies ask:
// what do two adjacent symbols merge into, and at what rank.
import { findMerge, mergedId, mergeRank } from "./merges";
import { lookup, tokenCount, tokenLen, tokenPtr } from "./vocab";

/** No merge: the rank of a pair that does not merge, and the end of a symbol list. */
export const NONE: u32 = 0xffffffff;
/** Symbol id of a character that is not in the vocabulary (SentencePiece byte fallback). */
export const UNKNOWN_CHAR: u32 = 0xfffffffe;

/** true: ranks of concatenated bytes (tiktoken); false: merge pairs (Hugging Face). */
export let rankByBytes: bool = true;
/** true: start from bytes (byte-level BPE); false: start from characters. */
export let byteLevel: bool = true;
export const byteIds: usize = memory.data(256 * 4);
export const fallbackIds: usize = memory.data(256 * 4);
export let unkId: i32 = -1;

export function configureBpe(byBytes: bool, bytes: bool, unk: i32): void {
  rankByBytes = byBytes;
  byteLevel = bytes;
  unkId = unk;
}

/**
 * Rank and merged id, into mergeRank/mergedId (merges.ts), of symbol `left` then `right`, which
 * together spell text bytes [from, to).
 */
// @ts-ignore: decorator
@inline
export function pairOf(text: usize, left: u32, right: u32, from: u32, to: u32): void {
  if (rankByBytes) {
    const id = lookup(text + <usize>from, <i32>(to - from));
    mergeRank = id < 0 ? NONE : <u32>id;
    mergedId = <u32>id;
  } else {
    findMerge(left, right);
  }
}

// A direct-mapped cache of pair lookups by (left id, right id), for long pieces, whose pairs
// repeat: a hit costs one load where a lookup hashes bytes and probes tables megabytes large.
// Empty slots hold the key of ids 0xffffffff and 0xffffffff, with the answer findMerge gives
// that pair (no merge), so they need no flag.
const CACHE_BITS: i32 = 14;
let cache: usize = 0;
/** Whether ids alone decide a pair here: merge rules always; ranks of bytes when ids spell them. */
let cacheUsable: bool = false;

/** Forgets cached pairs; the vocabulary, merges or settings changed. */
export function clearPairCache(): void {
  const bytes = <usize>16 << <usize>CACHE_BITS;
  if (cache == 0) cache = heap.alloc(bytes);
  memory.fill(cache, 0xff, bytes);
}

/**
 * Checks, before a long piece, that ids decide pairs: with ranks of bytes, each byte's id must
 * be the id of that byte (the host sets the table), so that a symbol's id spells its bytes.
 */
export function preparePairCache(): void {
  cacheUsable = true;
  if (!rankByBytes) return;
  for (let b = 0; b < 256; b++) {
    const id = load<u32>(byteIds + (<usize>b << 2));
    if (id >= <u32>tokenCount) continue; // never cached, see cachedPairOf
    if (tokenLen(id) != 1 || <i32>load<u8>(tokenPtr(id)) != b) cacheUsable = false;
  }
}

/** As pairOf, through the cache. */
// @ts-ignore: decorator
@inline
export function cachedPairOf(text: usize, left: u32, right: u32, from: u32, to: u32): void {
  if (!cacheUsable || (rankByBytes && (left >= <u32>tokenCount || right >= <u32>tokenCount))) {
    pairOf(text, left, right, from, to);
    return;
  }
  const key = (<u64>left << 32) | <u64>right;
  const slot = cache + (<usize>((key * 0x9e3779b97f4a7c15) >> <u64>(64 - CACHE_BITS)) << 4);
  if (load<u64>(slot) == key) {
    mergeRank = load<u32>(slot, 8);
    mergedId = load<u32>(slot, 12);
    return;
  }
  pairOf(text, left, right, from, to);
  store<u64>(slot, key);
  store<u32>(slot, mergeRank, 8);
  store<u32>(slot, mergedId, 12);
}
