// One run of byte-pair merges over a span of a long piece: the merges of the scan in bpe.ts,
// in the same order (lowest rank, then leftmost), in O(n log n). Symbols are a linked list
// indexed by the offset of their first byte in the span, and the next pair comes from
// min_tree.ts, so a merge reads and writes memory beside its pair. A run can log its merges,
// which long_merge.ts needs to prove that spans merged apart merge as they would together.
import { mergedId, mergeRank } from "./merges";
import { buildMinTree, lowestPair, rankChanged, sameBlock } from "./min_tree";
import { byteIds, byteLevel, cachedPairOf, NONE, UNKNOWN_CHAR } from "./pair";
import { seqLen } from "./split";
import { lookup } from "./vocab";

/** NEXT of an offset where no symbol starts (merged away, or inside a character). */
const NOT_A_SYMBOL: u32 = 0xfffffffe;

// Per byte offset: a 16-byte record (symbol id, next symbol, previous symbol, merged id of the
// pair the symbol starts) and, apart, the pair's rank (NONE where no pair merges), which
// min_tree.ts scans in blocks.
const ID: usize = 0;
const NEXT: usize = 4;
const PREV: usize = 8;
const MERGED: usize = 12;
let capacity: i32 = 0;
let records: usize = 0;
let ranks: usize = 0;

let text: usize = 0; // the span's first byte
let length: i32 = 0;

// The log: per merge, its key (rank << 32 | piece offset of the left symbol), the merged id
// and the piece offset where the merged symbol ends. 16 bytes each.
let logging: bool = false;
let logOffset: u32 = 0; // piece offset of the span
let log: usize = 0;
let logCount: i32 = 0;

// @ts-ignore: decorator
@inline
function field(i: i32, offset: usize): u32 {
  return load<u32>(records + (<usize>i << 4) + offset);
}

// @ts-ignore: decorator
@inline
function setField(i: i32, offset: usize, v: u32): void {
  store<u32>(records + (<usize>i << 4) + offset, v);
}

function grow(n: i32): void {
  if (n <= capacity) return;
  let c = capacity < 1024 ? 1024 : capacity;
  while (c < n) c <<= 1;
  // The stub runtime frees only the newest block, so grow geometrically to bound the waste.
  records = heap.alloc(<usize>c << 4);
  ranks = heap.alloc(<usize>c << 2);
  capacity = c;
}

/** Sets the rank and merged id of the pair that symbol `i` starts (none when it is the last). */
function setPair(i: i32): void {
  const nx = <i32>field(i, NEXT);
  if (nx < 0) {
    store<u32>(ranks + (<usize>i << 2), NONE);
    return;
  }
  const after = <i32>field(nx, NEXT);
  cachedPairOf(text, field(i, ID), field(nx, ID), <u32>i, after < 0 ? <u32>length : <u32>after);
  store<u32>(ranks + (<usize>i << 2), mergeRank);
  setField(i, MERGED, mergedId);
}

/** Merges the pair that symbol `at` starts: `at` takes in the symbol after it. */
function mergeAt(at: i32): void {
  const gone = <i32>field(at, NEXT);
  setField(at, ID, field(at, MERGED));
  const after = field(gone, NEXT);
  setField(at, NEXT, after);
  setField(gone, NEXT, NOT_A_SYMBOL);
  if (<i32>after >= 0) setField(<i32>after, PREV, <u32>at);
  store<u32>(ranks + (<usize>gone << 2), NONE);
  setPair(at);
  const before = <i32>field(at, PREV);
  if (before >= 0) setPair(before);
  rankChanged(at);
  if (!sameBlock(gone, at)) rankChanged(gone);
  if (before >= 0 && !sameBlock(before, at)) rankChanged(before);
}

/** Lays out the initial symbols of the span: its bytes, or its characters. */
function initialSymbols(): void {
  if (byteLevel) {
    for (let i = 0; i < length; i++) {
      setField(i, ID, load<u32>(byteIds + (<usize>load<u8>(text + <usize>i) << 2)));
      setField(i, NEXT, i + 1 < length ? <u32>(i + 1) : NONE);
      setField(i, PREV, i > 0 ? <u32>(i - 1) : NONE);
    }
    return;
  }
  let prev = NONE;
  let i = 0;
  while (i < length) {
    let l = seqLen(text, i);
    if (i + l > length) l = length - i;
    const id = lookup(text + <usize>i, l);
    setField(i, ID, id < 0 ? UNKNOWN_CHAR : <u32>id);
    setField(i, NEXT, i + l < length ? <u32>(i + l) : NONE);
    setField(i, PREV, prev);
    for (let k = 1; k < l; k++) {
      setField(i + k, NEXT, NOT_A_SYMBOL);
      store<u32>(ranks + (<usize>(i + k) << 2), NONE);
    }
    prev = <u32>i;
    i += l;
  }
}

/**
 * Merges the `n` bytes at `span` (piece offset `offset`) until no pair merges. With a `logTo`
 * buffer (16 bytes per byte of the span is always enough), records every merge there.
 */
export function runMerges(span: usize, n: i32, offset: i32, logTo: usize): void {
  text = span;
  length = n;
  logging = logTo != 0;
  log = logTo;
  logCount = 0;
  logOffset = <u32>offset;
  grow(n);
  initialSymbols();
  for (let i = 0; i >= 0; i = <i32>field(i, NEXT)) setPair(i);
  buildMinTree(ranks, n);
  while (true) {
    const key = lowestPair();
    if (<u32>(key >> 32) == NONE) break;
    const at = <i32>(<u32>key);
    mergeAt(at);
    if (logging) {
      const entry = log + (<usize>(logCount++) << 4);
      store<u64>(entry, key + <u64>logOffset);
      store<u32>(entry, field(at, ID), 8);
      const after = <i32>field(at, NEXT);
      store<u32>(entry, logOffset + <u32>(after < 0 ? length : after), 12);
    }
  }
}

/** How many merges the last run logged. */
export function loggedMerges(): i32 {
  return logCount;
}

/** The symbols left by the last run: offset 0 first (it is never merged away), then next. */
// @ts-ignore: decorator
@inline
export function nextSymbol(i: i32): i32 {
  return <i32>field(i, NEXT);
}

// @ts-ignore: decorator
@inline
export function symbolId(i: i32): u32 {
  return field(i, ID);
}

/** Whether a symbol of the last run starts at span offset `i`. */
// @ts-ignore: decorator
@inline
export function startsSymbol(i: i32): bool {
  return field(i, NEXT) != NOT_A_SYMBOL;
}
