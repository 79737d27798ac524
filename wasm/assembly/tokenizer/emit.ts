// Writing a merged symbol's ids: its own id, or for a character outside the vocabulary its
// bytes' fallback ids (SentencePiece byte fallback), or the unknown id.
import { fallbackIds, UNKNOWN_CHAR, unkId } from "./pair";

const REPLACEMENT_CHARACTER: usize = memory.data<u8>([0xef, 0xbf, 0xbd]);

// @ts-ignore: decorator
@inline
function fallbackId(bytes: usize, j: i32): u32 {
  return load<u32>(fallbackIds + (<usize>load<u8>(bytes + <usize>j) << 2));
}

/**
 * Writes the ids of symbol `id`, which spells bytes [a, b) of `text`, at `out` past `written`
 * ids; returns the new count.
 */
// @ts-ignore: decorator
@inline
export function emit(text: usize, id: u32, a: i32, b: i32, out: usize, written: i32): i32 {
  if (id != UNKNOWN_CHAR) {
    store<u32>(out + (<usize>written << 2), id);
    return written + 1;
  }
  return emitUnknown(text, a, b, out, written);
}

/** Writes the ids of a character outside the vocabulary, bytes [a, b) of `text`. */
function emitUnknown(text: usize, a: i32, b: i32, out: usize, written: i32): i32 {
  let bytes = text;
  // A lone surrogate arrives as its WTF-8 form; like TextEncoder, fall back to U+FFFD's bytes.
  if (b - a == 3 && load<u8>(text + <usize>a) == 0xed && load<u8>(text + <usize>a, 1) >= 0xa0) {
    bytes = REPLACEMENT_CHARACTER;
    a = 0;
    b = 3;
  }
  let all = true;
  for (let j = a; j < b; j++) {
    if (<i32>fallbackId(bytes, j) < 0) all = false;
  }
  if (all) {
    for (let j = a; j < b; j++) store<u32>(out + (<usize>(written++) << 2), fallbackId(bytes, j));
  } else if (unkId >= 0) {
    store<u32>(out + (<usize>(written++) << 2), <u32>unkId);
  }
  return written;
}
