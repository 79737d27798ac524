// Byte-pair encoding of one pre-token. Pieces of up to 96 symbols (nearly every word) merge by
// scanning a compact array, which is fastest when short; longer ones go to long_merge.ts, which
// stays linear on megabytes of one word. Both pick the lowest rank and, among equal ranks, the
// leftmost pair, which is what tiktoken and transformers.js do.
import { emit } from "./emit";
import { encodeLong } from "./long_merge";
import { mergedId, mergeRank } from "./merges";
import { byteIds, byteLevel, NONE, pairOf, UNKNOWN_CHAR } from "./pair";
import { seqLen } from "./split";
import { lookup } from "./vocab";

export { byteIds, configureBpe, fallbackIds, UNKNOWN_CHAR } from "./pair";

const NAIVE_MAX: i32 = 96;

// The short pieces' arrays (starts has one more entry: the end of the last symbol).
const ids: usize = memory.data((NAIVE_MAX + 1) * 4);
const starts: usize = memory.data((NAIVE_MAX + 2) * 4);
const ranks: usize = memory.data((NAIVE_MAX + 1) * 4);
const results: usize = memory.data((NAIVE_MAX + 1) * 4);

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

/** Rank and merged id of short-piece symbols `a` and `a + 1`, into mergeRank/mergedId. */
// @ts-ignore: decorator
@inline
function scanPair(text: usize, a: i32): void {
  pairOf(text, getU32(ids, a), getU32(ids, a + 1), getU32(starts, a), getU32(starts, a + 2));
}

/** Splits bytes [s, e) into initial symbols; returns their count, or -1 past NAIVE_MAX. */
function initialSymbols(text: usize, s: i32, e: i32): i32 {
  let n = 0;
  if (byteLevel) {
    if (e - s > NAIVE_MAX) return -1;
    for (let i = s; i < e; i++) {
      setU32(ids, n, load<u32>(byteIds + (<usize>load<u8>(text + <usize>i) << 2)));
      setU32(starts, n, <u32>i);
      n++;
    }
  } else {
    let i = s;
    while (i < e) {
      if (n == NAIVE_MAX) return -1;
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
function mergeByScan(text: usize, n: i32): i32 {
  for (let i = 0; i < n - 1; i++) {
    scanPair(text, i);
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
      scanPair(text, m);
      setU32(ranks, m, mergeRank);
      setU32(results, m, mergedId);
    } else if (m < n) {
      setU32(ranks, m, NONE);
    }
    if (m > 0) {
      scanPair(text, m - 1);
      setU32(ranks, m - 1, mergeRank);
      setU32(results, m - 1, mergedId);
    }
  }
  return n;
}

/** Encodes bytes [s, e) into `out` (u32 ids); returns how many ids were written. */
export function bpePiece(text: usize, s: i32, e: i32, out: usize): i32 {
  let written = 0;
  let n = initialSymbols(text, s, e);
  if (n >= 0) {
    n = mergeByScan(text, n);
    for (let i = 0; i < n; i++) {
      written = emit(text, getU32(ids, i), getU32(starts, i), getU32(starts, i + 1), out, written);
    }
    return written;
  }
  return encodeLong(text + <usize>s, e - s, out);
}
