// Token bytes by id, and an open-addressing table from bytes to id.
import { hashBytes, pow2AtLeast } from "./hash";

export let tokenCount: i32 = 0; // one past the largest id
let tokenStart: usize = 0; // u32 per id: offset into tokenBytes
let tokenLength: usize = 0; // u32 per id, 0xffffffff when the id has no bytes here
let tokenBytes: usize = 0;
let slots: usize = 0; // per slot: u32 hash, u32 id + 1 (0 = empty)
let slotMask: u32 = 0;

// @ts-ignore: decorator
@inline
export function tokenLen(id: u32): u32 {
  return load<u32>(tokenLength + (<usize>id << 2));
}

// @ts-ignore: decorator
@inline
export function tokenPtr(id: u32): usize {
  return tokenBytes + <usize>load<u32>(tokenStart + (<usize>id << 2));
}

/** Looks `n` bytes at `p` up; returns the id or -1. */
export function lookup(p: usize, n: i32): i32 {
  return lookupHashed(p, n, hashBytes(p, n));
}

/** As lookup, with the bytes' hashBytes already known. */
export function lookupHashed(p: usize, n: i32, h: u32): i32 {
  let i = h & slotMask;
  while (true) {
    const slot = slots + (<usize>i << 3);
    const stored = load<u32>(slot, 4);
    if (stored == 0) return -1;
    if (load<u32>(slot) == h) {
      const id = stored - 1;
      if (tokenLen(id) == <u32>n && memory.compare(tokenPtr(id), p, <usize>n) == 0) return <i32>id;
    }
    i = (i + 1) & slotMask;
  }
}

/**
 * Takes ownership of `count` tokens: `entries` holds (id, length) u32 pairs whose bytes lie
 * back to back in `bytes`. A later duplicate of the same bytes is not indexed again.
 */
export function loadVocab(bytes: usize, entries: usize, count: i32, maxId: i32): void {
  tokenCount = maxId + 1;
  tokenBytes = bytes;
  tokenStart = heap.alloc(<usize>tokenCount << 2);
  tokenLength = heap.alloc(<usize>tokenCount << 2);
  memory.fill(tokenLength, 0xff, <usize>tokenCount << 2);
  const size = pow2AtLeast(<u32>count * 2);
  slotMask = size - 1;
  slots = heap.alloc(<usize>size << 3);
  memory.fill(slots, 0, <usize>size << 3);
  let offset: u32 = 0;
  for (let e = 0; e < count; e++) {
    const id = load<u32>(entries + (<usize>e << 3));
    const n = load<u32>(entries + (<usize>e << 3), 4);
    const p = bytes + <usize>offset;
    if (lookup(p, <i32>n) < 0) {
      store<u32>(tokenStart + (<usize>id << 2), offset);
      store<u32>(tokenLength + (<usize>id << 2), n);
      const h = hashBytes(p, <i32>n);
      let i = h & slotMask;
      while (load<u32>(slots + (<usize>i << 3), 4) != 0) i = (i + 1) & slotMask;
      store<u32>(slots + (<usize>i << 3), h);
      store<u32>(slots + (<usize>i << 3), id + 1, 4);
    } else if (tokenLen(id) == 0xffffffff) {
      // A second id for the same bytes still decodes to them.
      store<u32>(tokenStart + (<usize>id << 2), offset);
      store<u32>(tokenLength + (<usize>id << 2), n);
    }
    offset += n;
  }
}
