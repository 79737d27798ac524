import { UNICODE_BLOCK_SHIFT, UNICODE_STAGE1, UNICODE_STAGE2 } from "./_unicode_data";

// Character kinds the split patterns need. The first eleven mirror the generated table; the
// splitter remaps whitespace by flavor and gives CR/LF a kind of their own.
export const K_OTHER: u32 = 0;
export const K_LU: u32 = 1;
export const K_LL: u32 = 2;
export const K_LT: u32 = 3;
export const K_LM: u32 = 4;
export const K_LO: u32 = 5;
export const K_M: u32 = 6;
export const K_N: u32 = 7;
export const K_WS: u32 = 8;
export const K_P: u32 = 9;
export const K_CTRL: u32 = 10;
export const K_CRLF: u32 = 11;

/** The Unicode class of a code point (see _unicode_data.ts). */
// @ts-ignore: decorator
@inline
export function unicodeClass(cp: u32): u32 {
  if (cp >= 0x110000) return K_OTHER;
  const block = <u32>load<u16>(UNICODE_STAGE1 + (<usize>(cp >> UNICODE_BLOCK_SHIFT) << 1));
  return <u32>load<u8>(
    UNICODE_STAGE2 + (<usize>block << UNICODE_BLOCK_SHIFT) + <usize>(cp & ((1 << UNICODE_BLOCK_SHIFT) - 1)),
  );
}

// @ts-ignore: decorator
@inline
export function isLetter(kind: u32): bool {
  return kind >= K_LU && kind <= K_LO;
}
