// @ts-ignore: decorator
@inline
function mix(h: u32): u32 {
  h ^= h >> 15;
  h *= 0x2c1b3c6d;
  h ^= h >> 12;
  h *= 0x297a2d39;
  h ^= h >> 15;
  return h;
}

/** A fast hash of `n` bytes at `p`; tokens are short, so four bytes a step is plenty. */
export function hashBytes(p: usize, n: i32): u32 {
  let h: u32 = <u32>n * 0x9e3779b1;
  let i = 0;
  while (i + 4 <= n) {
    h = rotl<u32>(h ^ load<u32>(p + <usize>i), 13) * 0x85ebca77;
    i += 4;
  }
  while (i < n) {
    h = rotl<u32>(h ^ <u32>load<u8>(p + <usize>i), 11) * 0x27d4eb2f;
    i++;
  }
  return mix(h);
}

/** Smallest power of two that is at least `n`. */
export function pow2AtLeast(n: u32): u32 {
  let size: u32 = 16;
  while (size < n) size <<= 1;
  return size;
}
