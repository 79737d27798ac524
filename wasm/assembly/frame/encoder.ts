// Batched header writer. The TypeScript side copies each small payload once, straight to its wire
// position in the staging area (leaving a header-sized gap before it), and describes the frames in
// a descriptor table; one call then validates every frame and fills the gaps.
import {
  DESCRIPTOR_BYTES,
  ERROR_FIELD,
  ERROR_NONE,
  ERROR_OVERSIZED,
  ERROR_UNKNOWN_TYPE,
  ERROR_CAPACITY,
  headerSize,
  isKnownType,
  LAYOUT_COMPACT,
} from "./layout";

/** Writes one header at `out`; returns an error code, or ERROR_NONE. */
export function writeHeader(
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
 * Fills headers for `count` frames described at `descriptors`, laid out back to back in `staging`.
 * Returns the index of the first invalid frame with its error code in `failure`, or -1.
 */
export function writeHeaders(
  descriptors: usize,
  count: u32,
  staging: usize,
  capacity: u32,
  failure: usize,
  maxPayload: u32,
  layout: u32,
): i32 {
  const header = headerSize(layout);
  const end = staging + <usize>capacity;
  let at: usize = staging;
  for (let i: u32 = 0; i < count; i++) {
    const descriptor = descriptors + <usize>i * DESCRIPTOR_BYTES;
    const size = load<u32>(descriptor, 8);
    // The caller lays frames out within the staging area; never write past it whatever it says.
    if (<u64>size + <u64>header > <u64>(end - at)) {
      store<u32>(failure, ERROR_CAPACITY);
      return <i32>i;
    }
    const error = writeHeader(
      at,
      load<u32>(descriptor),
      load<u32>(descriptor, 4),
      size,
      maxPayload,
      layout,
    );
    if (error != ERROR_NONE) {
      store<u32>(failure, error);
      return <i32>i;
    }
    at += <usize>(header + size);
  }
  return -1;
}
