// Byte-pair encoding of one pre-token. Short pieces use a scan over a compact array (fastest
// for words); long ones use a binary heap over a linked list so that a megabyte of one letter
// stays O(n log n). Both pick the lowest rank and, among equal ranks, the leftmost pair, which
// is what tiktoken and transformers.js do.
import { findMerge, mergedId, mergeRank } from "./merges";
import { lookup } from "./vocab";
import { seqLen } from "./split";

const NONE: u32 = 0xffffffff;
/** Symbol id of a character that is not in the vocabulary (SentencePiece byte fallback). */
export const UNKNOWN_CHAR: u32 = 0xfffffffe;
const NAIVE_MAX: i32 = 96;
const REPLACEMENT_CHARACTER: usize = memory.data<u8>([0xef, 0xbf, 0xbd]);

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

// Scratch arrays, grown on demand and reused.
let capacity: i32 = 0;
let ids: usize = 0;
let starts: usize = 0;
let ranks: usize = 0;
let results: usize = 0;
let nexts: usize = 0;
let prevs: usize = 0;
let heapCapacity: i32 = 0;
let heapKeys: usize = 0;
let heapSize: i32 = 0;

function grow(n: i32): void {
  if (n <= capacity) return;
  let c = capacity < 256 ? 256 : capacity;
  while (c < n) c <<= 1;
  const bytes = <usize>c << 2;
  ids = heap.alloc(bytes);
  starts = heap.alloc(bytes + 4);
  ranks = heap.alloc(bytes);
  results = heap.alloc(bytes);
  nexts = heap.alloc(bytes);
  prevs = heap.alloc(bytes);
  capacity = c;
}

function growHeap(n: i32): void {
  if (n <= heapCapacity) return;
  let c = heapCapacity < 1024 ? 1024 : heapCapacity;
  while (c < n) c <<= 1;
  heapKeys = heap.alloc(<usize>c << 3);
  heapCapacity = c;
}

// @ts-ignore: decorator
@inline
function getU32(base: usize, i: i32): u32 {
  return load<u32>(base + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline
function setU32(base: usize, i: i32, v: u32): void {
  store<u32>(base + (<usize>i << 2), v);
}

/** Rank and merged id of symbols `a` then `b` (whose bytes end at `end`), into mergeRank/mergedId. */
// @ts-ignore: decorator
@inline
function pairOf(text: usize, a: i32, b: i32, end: u32): void {
  if (rankByBytes) {
    const s = getU32(starts, a);
    const id = lookup(text + <usize>s, <i32>(end - s));
    mergeRank = id < 0 ? NONE : <u32>id;
    mergedId = <u32>id;
  } else {
    findMerge(getU32(ids, a), getU32(ids, b));
  }
}

/** Splits bytes [s, e) into initial symbols; returns their count. */
function initialSymbols(text: usize, s: i32, e: i32): i32 {
  let n = 0;
  if (byteLevel) {
    for (let i = s; i < e; i++) {
      setU32(ids, n, load<u32>(byteIds + (<usize>load<u8>(text + <usize>i) << 2)));
      setU32(starts, n, <u32>i);
      n++;
    }
  } else {
    let i = s;
    while (i < e) {
      let l = seqLen(text, i);
      if (i + l > e) l = e - i;
      const id = lookup(text + <usize>i, l);
      setU32(ids, n, id < 0 ? UNKNOWN_CHAR : <u32>id);
      setU32(starts, n, <u32>i);
      n++;
      i += l;
    }
  }
  setU32(starts, n, <u32>e);
  return n;
}

/** Merges the first `n` symbols in place by scanning; returns the final count. */
function mergeByScan(text: usize, n: i32, e: i32): i32 {
  for (let i = 0; i < n - 1; i++) {
    pairOf(text, i, i + 1, getU32(starts, i + 2));
    setU32(ranks, i, mergeRank);
    setU32(results, i, mergedId);
  }
  while (n > 1) {
    let best: u32 = NONE;
    let m = -1;
    for (let i = 0; i < n - 1; i++) {
      const r = getU32(ranks, i);
      if (r < best) {
        best = r;
        m = i;
      }
    }
    if (m < 0) break;
    setU32(ids, m, getU32(results, m));
    // Remove symbol m + 1.
    const tail = <usize>(n - m - 2) << 2;
    memory.copy(ids + (<usize>(m + 1) << 2), ids + (<usize>(m + 2) << 2), tail);
    memory.copy(starts + (<usize>(m + 1) << 2), starts + (<usize>(m + 2) << 2), tail + 4);
    memory.copy(ranks + (<usize>(m + 1) << 2), ranks + (<usize>(m + 2) << 2), tail);
    memory.copy(results + (<usize>(m + 1) << 2), results + (<usize>(m + 2) << 2), tail);
    n--;
    if (m < n - 1) {
      pairOf(text, m, m + 1, getU32(starts, m + 2));
      setU32(ranks, m, mergeRank);
      setU32(results, m, mergedId);
    } else if (m < n) {
      setU32(ranks, m, NONE);
    }
    if (m > 0) {
      pairOf(text, m - 1, m, getU32(starts, m + 1));
      setU32(ranks, m - 1, mergeRank);
      setU32(results, m - 1, mergedId);
    }
  }
  return n;
}

// @ts-ignore: decorator
@inline
function heapKey(i: i32): u64 {
  return load<u64>(heapKeys + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline
function setHeapKey(i: i32, key: u64): void {
  store<u64>(heapKeys + (<usize>i << 3), key);
}

function siftDown(i: i32, key: u64): void {
  while (true) {
    let child = 2 * i + 1;
    if (child >= heapSize) break;
    let ck = heapKey(child);
    if (child + 1 < heapSize) {
      const rk = heapKey(child + 1);
      if (rk < ck) {
        child++;
        ck = rk;
      }
    }
    if (key <= ck) break;
    setHeapKey(i, ck);
    i = child;
  }
  setHeapKey(i, key);
}

function heapPush(key: u64): void {
  let i = heapSize++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pk = heapKey(parent);
    if (pk <= key) break;
    setHeapKey(i, pk);
    i = parent;
  }
  setHeapKey(i, key);
}

function heapPop(): u64 {
  const top = heapKey(0);
  heapSize--;
  if (heapSize > 0) siftDown(0, heapKey(heapSize));
  return top;
}

const DEAD: u32 = 0xfffffffe;

// @ts-ignore: decorator
@inline
function endOf(i: i32, e: i32): u32 {
  const nx = <i32>getU32(nexts, i);
  return nx < 0 ? <u32>e : getU32(starts, nx);
}

function pushPair(text: usize, i: i32, e: i32): void {
  const nx = <i32>getU32(nexts, i);
  if (nx < 0) return;
  pairOf(text, i, nx, endOf(nx, e));
  if (mergeRank != NONE) heapPush((<u64>mergeRank << 32) | <u64>i);
}

/**
 * Merges the first `n` symbols with a heap of (rank, position) keys; compacts them in place and
 * returns the final count. An entry is stale when its pair changed since it was pushed: popping
 * re-reads the pair, and every live pair always has an entry of its own, so the smallest key
 * whose pair still has that rank is the next merge.
 */
function mergeByHeap(text: usize, n: i32, e: i32): i32 {
  growHeap(3 * n + 4);
  heapSize = 0;
  for (let i = 0; i < n; i++) {
    setU32(nexts, i, i + 1 < n ? <u32>(i + 1) : NONE);
    setU32(prevs, i, i > 0 ? <u32>(i - 1) : NONE);
  }
  // Build the initial heap bottom-up: linear rather than n pushes.
  for (let i = 0; i < n - 1; i++) {
    pairOf(text, i, i + 1, getU32(starts, i + 2));
    if (mergeRank != NONE) setHeapKey(heapSize++, (<u64>mergeRank << 32) | <u64>i);
  }
  for (let i = (heapSize >> 1) - 1; i >= 0; i--) siftDown(i, heapKey(i));
  while (heapSize > 0) {
    const key = heapPop();
    const pos = <i32>(key & 0xffffffff);
    const nx = <i32>getU32(nexts, pos);
    if (nx < 0) continue; // the last symbol, or a dead one
    pairOf(text, pos, nx, endOf(nx, e));
    if (<u64>mergeRank != key >> 32) continue;
    setU32(ids, pos, mergedId);
    const after = <i32>getU32(nexts, nx);
    setU32(nexts, pos, <u32>after);
    if (after >= 0) setU32(prevs, after, <u32>pos);
    setU32(nexts, nx, DEAD);
    const before = <i32>getU32(prevs, pos);
    if (before >= 0) pushPair(text, before, e);
    pushPair(text, pos, e);
  }
  let count = 0;
  for (let i = 0; i >= 0; i = <i32>getU32(nexts, i)) {
    setU32(ids, count, getU32(ids, i));
    setU32(starts, count, getU32(starts, i));
    count++;
  }
  setU32(starts, count, <u32>e);
  return count;
}

/**
 * Encodes bytes [s, e) into `out` (u32 ids); returns how many ids were written. Unknown
 * characters become byte-fallback ids, or the unknown id.
 */
export function bpePiece(text: usize, s: i32, e: i32, out: usize): i32 {
  grow(e - s + 1);
  let n = initialSymbols(text, s, e);
  n = n <= NAIVE_MAX ? mergeByScan(text, n, e) : mergeByHeap(text, n, e);
  let written = 0;
  for (let i = 0; i < n; i++) {
    const id = getU32(ids, i);
    if (id != UNKNOWN_CHAR) {
      setU32(out, written++, id);
      continue;
    }
    let a = <i32>getU32(starts, i);
    let b = <i32>getU32(starts, i + 1);
    let bytes = text;
    // A lone surrogate arrives as its WTF-8 form; like TextEncoder, fall back to U+FFFD's bytes.
    if (b - a == 3 && load<u8>(text + <usize>a) == 0xed && load<u8>(text + <usize>a, 1) >= 0xa0) {
      bytes = REPLACEMENT_CHARACTER;
      a = 0;
      b = 3;
    }
    let all = true;
    for (let j = a; j < b; j++) {
      if (<i32>load<u32>(fallbackIds + (<usize>load<u8>(bytes + <usize>j) << 2)) < 0) all = false;
    }
    if (all) {
      for (let j = a; j < b; j++) {
        setU32(out, written++, load<u32>(fallbackIds + (<usize>load<u8>(bytes + <usize>j) << 2)));
      }
    } else if (unkId >= 0) {
      setU32(out, written++, <u32>unkId);
    }
  }
  return written;
}
