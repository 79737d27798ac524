// Wire constants shared by the frame decoder and encoder. They mirror upstream a3s-transport
// (A3S-Lab/a3s crates/transport/src/frame.rs): type bytes 0x01..0x05, big-endian u32 length,
// 16 MiB default maximum. See wasm/frame/README.md for the full wire layout.

/** Header bytes of the stream layout: type u8, flags u8, stream id u32 BE, length u32 BE. */
export const STREAM_HEADER: u32 = 10;
/** Header bytes of the compact layout (upstream a3s-transport): type u8, length u32 BE. */
export const COMPACT_HEADER: u32 = 5;

export const LAYOUT_STREAM: u32 = 0;
export const LAYOUT_COMPACT: u32 = 1;

export const TYPE_FIRST: u32 = 0x01;
export const TYPE_LAST: u32 = 0x05;

// Status and error codes written to the result block; the TypeScript wrapper maps them.
export const STATUS_DONE: u32 = 0;
export const STATUS_FULL: u32 = 1;
export const STATUS_BODY: u32 = 2;
export const STATUS_ERROR: u32 = 3;

export const ERROR_NONE: u32 = 0;
export const ERROR_UNKNOWN_TYPE: u32 = 1;
export const ERROR_OVERSIZED: u32 = 2;
export const ERROR_FIELD: u32 = 3;
export const ERROR_CAPACITY: u32 = 4;

/** Input window and record table sizes; the TypeScript side feeds at most this much per call. */
export const INPUT_CAPACITY: u32 = 256 * 1024;
export const RECORD_CAPACITY: u32 = 8192;
/** Each record is four u32: type | flags << 8, stream id, payload offset, payload length. */
export const RECORD_BYTES: u32 = 16;
/** Each encode descriptor is three u32: type | flags << 8, stream id, payload length. */
export const DESCRIPTOR_BYTES: u32 = 12;
export const DESCRIPTOR_CAPACITY: u32 = 16384;
/** Headers written per encode call, back to back: room for a full descriptor table. */
export const HEADER_TABLE_CAPACITY: u32 = DESCRIPTOR_CAPACITY * STREAM_HEADER;

export function headerSize(layout: u32): u32 {
  return layout == LAYOUT_COMPACT ? COMPACT_HEADER : STREAM_HEADER;
}

export function isKnownType(type: u32): bool {
  return type >= TYPE_FIRST && type <= TYPE_LAST;
}
