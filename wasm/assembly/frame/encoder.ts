// Batched header writer. The TypeScript side describes a run of frames in a descriptor table; one
// call validates every frame and writes their headers back to back into a header table, and the
// TypeScript side then places each header beside its payload, copying each payload exactly once.
import {
  DESCRIPTOR_BYTES,
  ERROR_CAPACITY,
  ERROR_FIELD,
  ERROR_NONE,
  ERROR_OVERSIZED,
  ERROR_UNKNOWN_TYPE,
  headerSize,
  isKnownType,
  LAYOUT_COMPACT,
} from "./layout";

/** Writes one header at `out`; returns an error code, or ERROR_NONE. */
@inline export function writeHeader(
  out: usize,
  typeAndFlags: u32,
  stream: u32,
  size: u32,
  maxPayload: u32,
  layout: u32,
): u32 {
  const type = typeAndFlags & 0xff;
  const flags = typeAndFlags >> 8;
  if (!isKnownType(type)) return ERROR_UNKNOWN_TYPE;
  if (size > maxPayload) return ERROR_OVERSIZED;
  if (layout == LAYOUT_COMPACT) {
    // Upstream's five-byte header has nowhere to carry flags or a stream id.
    if (flags != 0 || stream != 0) return ERROR_FIELD;
    store<u8>(out, <u8>type);
    store<u32>(out, bswap<u32>(size), 1);
  } else {
    store<u8>(out, <u8>type);
    store<u8>(out, <u8>flags, 1);
    store<u32>(out, bswap<u32>(stream), 2);
    store<u32>(out, bswap<u32>(size), 6);
  }
  return ERROR_NONE;
}

/**
 * Validates `count` frames described at `descriptors` (three u32 each: type | flags << 8, stream
 * id, payload length) and writes their headers back to back at `table`. Returns -1, or the first
 * bad index with its error code in `failure`.
 */
export function writeHeaderTable(
  descriptors: usize,
  count: u32,
  table: usize,
  capacity: u32,
  failure: usize,
  maxPayload: u32,
  layout: u32,
): i32 {
  const header = headerSize(layout);
  // Never write past the table, whatever count the caller passes.
  if (<u64>count * <u64>header > <u64>capacity) {
    store<u32>(failure, ERROR_CAPACITY);
    return 0;
  }
  for (let i: u32 = 0; i < count; i++) {
    const descriptor = descriptors + <usize>i * DESCRIPTOR_BYTES;
    const error = writeHeader(
      table + <usize>(i * header),
      load<u32>(descriptor),
      load<u32>(descriptor, 4),
      load<u32>(descriptor, 8),
      maxPayload,
      layout,
    );
    if (error != ERROR_NONE) {
      store<u32>(failure, error);
      return <i32>i;
    }
  }
  return -1;
}
