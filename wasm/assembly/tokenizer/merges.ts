// BPE merge rules of Hugging Face models: (left id, right id) -> (rank, merged id).
import { pow2AtLeast } from "./hash";

const EMPTY: u64 = 0xffffffffffffffff;
let slots: usize = 0; // per slot: u64 key, u32 rank, u32 merged id
let slotMask: u64 = 0;
export let mergeRank: u32 = 0xffffffff; // set by findMerge
export let mergedId: u32 = 0;

// @ts-ignore: decorator
@inline
function slotOf(key: u64): u64 {
  return ((key * 0x9e3779b97f4a7c15) >> 32) & slotMask;
}

/** Finds the merge of `left` and `right`; sets mergeRank (0xffffffff if none) and mergedId. */
// @ts-ignore: decorator
@inline
export function findMerge(left: u32, right: u32): void {
  const key = (<u64>left << 32) | <u64>right;
  let i = slotOf(key);
  while (true) {
    const slot = slots + (<usize>i << 4);
    const k = load<u64>(slot);
    if (k == key) {
      mergeRank = load<u32>(slot, 8);
      mergedId = load<u32>(slot, 12);
      return;
    }
    if (k == EMPTY) {
      mergeRank = 0xffffffff;
      return;
    }
    i = (i + 1) & slotMask;
  }
}

/** Loads `count` (left, right, merged) u32 triples; the rank is the index, a later duplicate wins. */
export function loadMerges(triples: usize, count: i32): void {
  const size = pow2AtLeast(<u32>count * 2);
  slotMask = size - 1;
  slots = heap.alloc(<usize>size << 4);
  memory.fill(slots, 0xff, <usize>size << 4);
  for (let r = 0; r < count; r++) {
    const t = triples + <usize>r * 12;
    const key = (<u64>load<u32>(t) << 32) | <u64>load<u32>(t, 4);
    let i = slotOf(key);
    while (true) {
      const slot = slots + (<usize>i << 4);
      const k = load<u64>(slot);
      if (k == EMPTY || k == key) {
        store<u64>(slot, key);
        store<u32>(slot, <u32>r, 8);
        store<u32>(slot, load<u32>(t, 8), 12);
        break;
      }
      i = (i + 1) & slotMask;
    }
  }
}
