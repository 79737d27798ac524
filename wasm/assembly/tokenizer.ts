// The tokenizer engine: native pre-tokenization and BPE over UTF-8 held in linear memory.
// One instance holds one vocabulary. The host writes a whole text segment into the input
// buffer, calls encode once, and reads every id back from the output buffer.
import { bpePiece, byteIds, configureBpe, fallbackIds } from "./tokenizer/bpe";
import { hashBytes } from "./tokenizer/hash";
import { setLongSpans, wholeRuns } from "./tokenizer/long_merge";
import { loadMerges as loadMergeTable } from "./tokenizer/merges";
import { clearPairCache } from "./tokenizer/pair";
import { nextPiece, setFlavor } from "./tokenizer/split";
import {
  loadVocab as loadVocabTable,
  lookup,
  lookupHashed,
  tokenCount,
  tokenLen,
  tokenPtr,
} from "./tokenizer/vocab";

let splitMode: i32 = 0;
let ignoreMerges: bool = false;

let inputCapacity: i32 = 0;
let input: usize = 0;
let output: usize = 0;
let decodeCapacity: i32 = 0;
let decoded: usize = 0;

// Direct-mapped cache of short pre-tokens: hash u32, length u16, id count u16, bytes, ids.
const CACHE_BITS: i32 = 15;
const CACHE_MAX_BYTES: i32 = 24;
const CACHE_SLOT: usize = 128;
let cache: usize = 0;

/** Allocates `size` bytes that live as long as the instance (vocabulary and merges). */
export function alloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

/** Sets up the engine. The byte tables are filled by the host through byteIdTable/fallbackTable. */
export function configure(
  split: i32,
  jsRegexFlavor: bool,
  rankByBytes: bool,
  byteLevel: bool,
  ignoreMergesForWholeTokens: bool,
  unk: i32,
): void {
  splitMode = split;
  setFlavor(jsRegexFlavor);
  configureBpe(rankByBytes, byteLevel, unk);
  clearPairCache();
  ignoreMerges = ignoreMergesForWholeTokens;
  if (cache == 0) {
    const bytes = CACHE_SLOT << CACHE_BITS;
    cache = heap.alloc(bytes);
    memory.fill(cache, 0, bytes);
  }
}

/** 256 u32: the initial id of each byte (byte-level BPE). */
export function byteIdTable(): usize {
  return byteIds;
}

/** 256 u32: the byte-fallback id of each byte, or 0xffffffff. */
export function fallbackTable(): usize {
  return fallbackIds;
}

export function loadVocab(bytes: usize, entries: usize, count: i32, maxId: i32): void {
  loadVocabTable(bytes, entries, count, maxId);
  clearPairCache();
}

export function loadMerges(triples: usize, count: i32): void {
  loadMergeTable(triples, count);
  clearPairCache();
}

/** Makes room for `size` input bytes (and as many output ids); returns the input pointer. */
export function reserve(size: i32): usize {
  if (size > inputCapacity) {
    let c = inputCapacity < 65536 ? 65536 : inputCapacity;
    while (c < size) c <<= 1;
    // The stub runtime frees only the newest block, so grow geometrically to bound the waste.
    input = heap.alloc(<usize>c);
    output = heap.alloc(<usize>c << 2);
    inputCapacity = c;
  }
  return input;
}

export function outputPointer(): usize {
  return output;
}

function encodePiece(s: i32, e: i32, out: usize): i32 {
  const n = e - s;
  const p = input + <usize>s;
  if (n > CACHE_MAX_BYTES) {
    if (ignoreMerges) {
      const id = lookup(p, n);
      if (id >= 0) {
        store<u32>(out, <u32>id);
        return 1;
      }
    }
    return bpePiece(input, s, e, out);
  }
  // Short pieces: one hash serves the cache and the whole-token lookup.
  const h = hashBytes(p, n);
  const slot = cache + (<usize>(h & ((1 << CACHE_BITS) - 1)) * CACHE_SLOT);
  if (load<u32>(slot) == h && <i32>load<u16>(slot, 4) == n && memory.compare(slot + 8, p, n) == 0) {
    const count = <i32>load<u16>(slot, 6);
    memory.copy(out, slot + 8 + <usize>CACHE_MAX_BYTES, <usize>count << 2);
    return count;
  }
  let count = 0;
  if (ignoreMerges) {
    const id = lookupHashed(p, n, h);
    if (id >= 0) {
      store<u32>(out, <u32>id);
      count = 1;
    }
  }
  if (count == 0) count = bpePiece(input, s, e, out);
  if (count <= CACHE_MAX_BYTES) {
    store<u32>(slot, h);
    store<u16>(slot, <u16>n, 4);
    store<u16>(slot, <u16>count, 6);
    memory.copy(slot + 8, p, <usize>n);
    memory.copy(slot + 8 + <usize>CACHE_MAX_BYTES, out, <usize>count << 2);
  }
  return count;
}

/** Encodes `length` input bytes as one segment; the ids land at outputPointer(). */
export function encode(length: i32): i32 {
  let written = 0;
  let i = 0;
  while (i < length) {
    let e = nextPiece(splitMode, input, i, length);
    if (e <= i) e = length; // never stall on malformed input
    written += encodePiece(i, e, output + (<usize>written << 2));
    i = e;
  }
  return written;
}

/**
 * Encodes pre-split input: `count` u32 end offsets at `ends` cut the input into pieces that are
 * each encoded whole (used when the pre-tokenizer ran in the host). Returns the id count.
 */
export function encodePieces(ends: usize, count: i32): i32 {
  let written = 0;
  let start = 0;
  for (let p = 0; p < count; p++) {
    const end = <i32>load<u32>(ends + (<usize>p << 2));
    if (end > start) written += encodePiece(start, end, output + (<usize>written << 2));
    start = end;
  }
  return written;
}

/** Scratch for `count` u32 piece ends, reused across calls. */
let endsCapacity: i32 = 0;
let ends: usize = 0;
export function piecesBuffer(count: i32): usize {
  if (count > endsCapacity) {
    let c = endsCapacity < 1024 ? 1024 : endsCapacity;
    while (c < count) c <<= 1;
    ends = heap.alloc(<usize>c << 2);
    endsCapacity = c;
  }
  return ends;
}

/** Number of ids in the vocabulary table (one past the largest). */
export function vocabularySize(): i32 {
  return tokenCount;
}

/** Byte length of token `id`, or -1 when the engine holds no bytes for it. */
export function tokenLength(id: i32): i32 {
  if (id < 0 || id >= tokenCount) return -1;
  const n = tokenLen(<u32>id);
  return n == 0xffffffff ? -1 : <i32>n;
}

export function tokenPointer(id: i32): usize {
  return tokenPtr(<u32>id);
}

/** Looks up `length` input bytes as one whole token; returns its id or -1. */
export function tokenId(length: i32): i32 {
  return lookup(input, length);
}

/**
 * Concatenates the bytes of `count` ids read from outputPointer() (the host writes them there
 * after reserve(count)); ids without bytes contribute nothing. Returns the byte length; the
 * bytes are at decodedPointer().
 */
export function decode(count: i32): i32 {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const len = tokenLength(<i32>load<u32>(output + (<usize>i << 2)));
    if (len > 0) total += len;
  }
  if (total > decodeCapacity) {
    let c = decodeCapacity < 65536 ? 65536 : decodeCapacity;
    while (c < total) c <<= 1;
    decoded = heap.alloc(<usize>c);
    decodeCapacity = c;
  }
  let at: usize = decoded;
  for (let i = 0; i < count; i++) {
    const id = <i32>load<u32>(output + (<usize>i << 2));
    const len = tokenLength(id);
    if (len > 0) {
      memory.copy(at, tokenPtr(<u32>id), <usize>len);
      at += <usize>len;
    }
  }
  return total;
}

export function decodedPointer(): usize {
  return decoded;
}

/** Sets the span and margin of long-piece merging (bytes); for tests and tuning. */
export function longPieceSpans(span: i32, margin: i32): void {
  setLongSpans(span, margin);
}

/** How many long pieces were merged again in one run because their spans' walls did not hold. */
export function longPieceRetries(): i32 {
  return wholeRuns;
}
