// Frame codec for the host/guest transport. Memory is static: fixed regions reserved at build
// time, so no call ever grows or leaks WebAssembly memory. See wasm/frame/README.md.
import { scan, RESULT_SLOTS } from "./frame/decoder";
import { writeHeader, writeHeaders } from "./frame/encoder";
import {
  DESCRIPTOR_BYTES,
  DESCRIPTOR_CAPACITY,
  INPUT_CAPACITY,
  RECORD_BYTES,
  RECORD_CAPACITY,
  STAGING_CAPACITY,
  STREAM_HEADER,
} from "./frame/layout";

const input = memory.data(INPUT_CAPACITY, 16);
const records = memory.data(RECORD_CAPACITY * RECORD_BYTES, 16);
const result = memory.data(RESULT_SLOTS * 4, 16);
const staging = memory.data(STAGING_CAPACITY, 16);
const descriptors = memory.data(DESCRIPTOR_CAPACITY * DESCRIPTOR_BYTES, 16);
const header = memory.data(STREAM_HEADER + 2, 16);

export function inputPointer(): usize {
  return input;
}
export function inputCapacity(): u32 {
  return INPUT_CAPACITY;
}
export function recordPointer(): usize {
  return records;
}
export function recordCapacity(): u32 {
  return RECORD_CAPACITY;
}
export function resultPointer(): usize {
  return result;
}
export function stagingPointer(): usize {
  return staging;
}
export function stagingCapacity(): u32 {
  return STAGING_CAPACITY;
}
export function descriptorPointer(): usize {
  return descriptors;
}
export function descriptorCapacity(): u32 {
  return DESCRIPTOR_CAPACITY;
}
export function headerPointer(): usize {
  return header;
}

/**
 * Scans `length` bytes of the input window; the outcome lands in the result block. A non-zero
 * `pack` moves complete payloads together at the start of the window.
 */
export function decode(length: u32, maxPayload: u32, layout: u32, pack: u32): void {
  scan(input, min(length, INPUT_CAPACITY), records, result, maxPayload, layout, pack != 0);
}

/** Validates and writes the headers of `count` staged frames; -1 or the first bad index. */
export function encodeBatch(count: u32, maxPayload: u32, layout: u32): i32 {
  return writeHeaders(
    descriptors,
    min(count, DESCRIPTOR_CAPACITY),
    staging,
    STAGING_CAPACITY,
    result,
    maxPayload,
    layout,
  );
}

/** Writes one header into the header scratch area; returns an error code or 0. */
export function encodeHeader(
  typeAndFlags: u32,
  stream: u32,
  size: u32,
  maxPayload: u32,
  layout: u32,
): u32 {
  return writeHeader(header, typeAndFlags, stream, size, maxPayload, layout);
}
