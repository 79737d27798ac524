// The lowest (rank, position) among a piece's symbol pairs, kept up to date as pairs change.
// Ranks stay in their own array, read in blocks of 32 positions; a tournament tree over the
// blocks' minima gives the lowest at its root. A change rescans one block (two cache lines)
// and walks up a tree 32 times smaller than the piece, so a merge touches memory near the pair
// it changed, where a heap of every pair would take a cache miss at each level of a sift.
import { pow2AtLeast } from "./hash";

const BLOCK_SHIFT: i32 = 5;
const NO_KEY: u64 = 0xffffffffffffffff;

let ranks: usize = 0; // u32 per position, 0xffffffff where no pair merges
let count: i32 = 0;
let leaves: i32 = 0; // index of the first leaf; node 1 is the root
let nodes: usize = 0; // u64 keys: rank << 32 | position
let nodeCapacity: i32 = 0;

// @ts-ignore: decorator
@inline
function node(i: i32): u64 {
  return load<u64>(nodes + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline
function setNode(i: i32, key: u64): void {
  store<u64>(nodes + (<usize>i << 3), key);
}

/** The lowest rank << 32 | position in block `b`, the leftmost of equal ranks. */
function blockKey(b: i32): u64 {
  const lo = b << BLOCK_SHIFT;
  let hi = lo + (1 << BLOCK_SHIFT);
  if (hi > count) hi = count;
  let best: u32 = 0xffffffff;
  let at = lo;
  for (let i = lo; i < hi; i++) {
    const r = load<u32>(ranks + (<usize>i << 2));
    if (r < best) {
      best = r;
      at = i;
    }
  }
  return (<u64>best << 32) | <u64>at;
}

/** Builds the tree over `n` ranks at `rankArray` (u32 each); the array stays the caller's. */
export function buildMinTree(rankArray: usize, n: i32): void {
  ranks = rankArray;
  count = n;
  const blocks = (n + (1 << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT;
  leaves = <i32>pow2AtLeast(<u32>blocks);
  if (2 * leaves > nodeCapacity) {
    nodeCapacity = 2 * leaves;
    nodes = heap.alloc(<usize>nodeCapacity << 3);
  }
  for (let b = 0; b < leaves; b++) setNode(leaves + b, b < blocks ? blockKey(b) : NO_KEY);
  for (let i = leaves - 1; i >= 1; i--) {
    const l = node(2 * i);
    const r = node(2 * i + 1);
    setNode(i, l < r ? l : r);
  }
}

/** The lowest rank << 32 | position; its rank is 0xffffffff when no pair merges. */
// @ts-ignore: decorator
@inline
export function lowestPair(): u64 {
  return node(1);
}

/** Updates the tree after ranks in the block of `position` changed. */
export function rankChanged(position: i32): void {
  let i = leaves + (position >> BLOCK_SHIFT);
  const key = blockKey(position >> BLOCK_SHIFT);
  if (node(i) == key) return;
  setNode(i, key);
  while (i > 1) {
    const l = node(i & ~1);
    const r = node(i | 1);
    i >>= 1;
    const m = l < r ? l : r;
    // Nothing above changes once a node keeps its key.
    if (node(i) == m) return;
    setNode(i, m);
  }
}

/** Whether `a` and `b` share a block, so that one rankChanged covers both. */
// @ts-ignore: decorator
@inline
export function sameBlock(a: i32, b: i32): bool {
  return a >> BLOCK_SHIFT == b >> BLOCK_SHIFT;
}
