// Long pieces (megabytes of letters or base64 that no pre-tokenizer splits) merged span by
// span, with exactly the merges one run over the whole piece would make.
//
// One run's next merge is the lowest pair anywhere in the piece, so on megabytes nearly every
// merge misses the cache. Instead a run covers a span plus a margin, and the next span starts
// at a symbol boundary (a wall) the run left within the span. Spans merge as the whole piece
// would when no wall is ever crossed: when, replaying the logged merges of the runs on both
// sides of a wall in the order one run would make them, the pair across the wall always ranks
// above the next merge and at the end merges with nothing. A cut changes merges a margin away
// only in contrived vocabularies, so walls hold; when one does not, the piece is merged again
// in one run.
import { emit } from "./emit";
import { mergeRank } from "./merges";
import { loggedMerges, nextSymbol, runMerges, startsSymbol, symbolId } from "./merge_run";
import { byteIds, byteLevel, NONE, pairOf, preparePairCache, UNKNOWN_CHAR } from "./pair";
import { seqLen } from "./split";
import { lookup } from "./vocab";

let spanBytes: i32 = 32768;
let marginBytes: i32 = 1024;
/** How many long pieces were merged again in one run because a wall did not hold. */
export let wholeRuns: i32 = 0;

// The logs of the run left of the wall being checked and of the run right of it.
let logCapacity: i32 = 0;
let leftLog: usize = 0;
let rightLog: usize = 0;

/** Sets the span and margin (bytes, at least 16 and 4); small ones let tests cross many walls. */
export function setLongSpans(span: i32, margin: i32): void {
  spanBytes = span < 16 ? 16 : span;
  marginBytes = margin < 4 ? 4 : margin;
}

function growLogs(n: i32): void {
  if (n <= logCapacity) return;
  leftLog = heap.alloc(<usize>n << 4);
  rightLog = heap.alloc(<usize>n << 4);
  logCapacity = n;
}

/** Writes the symbols of the last run that start before span offset `upto`. */
function emitRun(
  piece: usize,
  offset: i32,
  upto: i32,
  runLength: i32,
  out: usize,
  written: i32,
): i32 {
  for (let i = 0; i >= 0 && i < upto;) {
    const next = nextSymbol(i);
    const end = next < 0 ? runLength : next;
    written = emit(piece, symbolId(i), offset + i, offset + end, out, written);
    i = next;
  }
  return written;
}

/** Keeps, in order, the logged merges whose left symbol starts before `wall`; returns how many. */
function mergesBefore(log: usize, count: i32, wall: u32): i32 {
  let kept = 0;
  for (let k = 0; k < count; k++) {
    const entry = log + (<usize>k << 4);
    if (<u32>load<u64>(entry) < wall) memory.copy(log + (<usize>(kept++) << 4), entry, 16);
  }
  return kept;
}

/** Id of the initial symbol at bytes [a, b) of the piece. */
function initialId(piece: usize, a: i32, b: i32): u32 {
  if (byteLevel) return load<u32>(byteIds + (<usize>load<u8>(piece + <usize>a) << 2));
  const id = lookup(piece + <usize>a, b - a);
  return id < 0 ? UNKNOWN_CHAR : <u32>id;
}

// @ts-ignore: decorator
@inline
function pairKey(piece: usize, left: u32, right: u32, from: i32, to: i32): u64 {
  pairOf(piece, left, right, <u32>from, <u32>to);
  return (<u64>mergeRank << 32) | <u64>from;
}

/**
 * Whether the pair across `wall` is never the lowest pair: replays the merges of the runs on
 * its two sides (`left` and `right` logs) in the order one run would make them, following
 * the symbols on either side of the wall.
 */
function wallHolds(
  piece: usize,
  n: i32,
  left: usize,
  nl: i32,
  right: usize,
  nr: i32,
  wall: i32,
): bool {
  let lastStart = wall - 1;
  if (!byteLevel) {
    while (lastStart > wall - 4 && (load<u8>(piece + <usize>lastStart) & 0xc0) == 0x80) lastStart--;
  }
  let lastId = initialId(piece, lastStart, wall);
  let firstEnd = wall + (byteLevel ? 1 : seqLen(piece, wall));
  if (firstEnd > n) firstEnd = n;
  let firstId = initialId(piece, wall, firstEnd);
  let across = pairKey(piece, lastId, firstId, lastStart, firstEnd);
  let i = 0;
  let j = 0;
  while (true) {
    const l = i < nl ? load<u64>(left + (<usize>i << 4)) : 0xffffffffffffffff;
    const r = j < nr ? load<u64>(right + (<usize>j << 4)) : 0xffffffffffffffff;
    if (l == 0xffffffffffffffff && r == 0xffffffffffffffff) break;
    if (l < r) {
      if (across < l) return false;
      const entry = left + (<usize>(i++) << 4);
      // A merge that ends at the wall makes a new last symbol on the left.
      if (load<u32>(entry, 12) == <u32>wall) {
        lastStart = <i32>(<u32>l);
        lastId = load<u32>(entry, 8);
        across = pairKey(piece, lastId, firstId, lastStart, firstEnd);
      }
    } else {
      if (across < r) return false;
      const entry = right + (<usize>(j++) << 4);
      // A merge at the wall makes a new first symbol on the right.
      if (<u32>r == <u32>wall) {
        firstId = load<u32>(entry, 8);
        firstEnd = <i32>load<u32>(entry, 12);
        across = pairKey(piece, lastId, firstId, lastStart, firstEnd);
      }
    }
  }
  return <u32>(across >> 32) == NONE;
}

/** Merges the whole piece in one run (the fallback when a wall does not hold). */
function encodeWhole(piece: usize, n: i32, out: usize, retry: bool): i32 {
  if (retry) wholeRuns++;
  runMerges(piece, n, 0, 0);
  return emitRun(piece, 0, n, n, out, 0);
}

/** Encodes the `n` bytes at `piece` into `out` (u32 ids); returns how many ids were written. */
export function encodeLong(piece: usize, n: i32, out: usize): i32 {
  preparePairCache();
  if (n <= spanBytes + marginBytes) return encodeWhole(piece, n, out, false);
  growLogs(spanBytes + marginBytes);
  let written = 0;
  let start = 0;
  let leftCount = -1; // no wall to check before the first span
  while (true) {
    let end = start + spanBytes + marginBytes;
    const last = end >= n;
    if (last) end = n;
    runMerges(piece + <usize>start, end - start, start, rightLog);
    let wall = n;
    if (!last) {
      // The last symbol boundary at most SPAN bytes in, a margin away from the cut.
      let k = spanBytes;
      while (k > 0 && !startsSymbol(k)) k--;
      if (k == 0) return encodeWhole(piece, n, out, true);
      wall = start + k;
    }
    const rightCount = mergesBefore(rightLog, loggedMerges(), <u32>wall);
    if (leftCount >= 0 && !wallHolds(piece, n, leftLog, leftCount, rightLog, rightCount, start)) {
      return encodeWhole(piece, n, out, true);
    }
    written = emitRun(piece, start, wall - start, end - start, out, written);
    if (last) return written;
    const t = leftLog;
    leftLog = rightLog;
    rightLog = t;
    leftCount = rightCount;
    start = wall;
  }
}
