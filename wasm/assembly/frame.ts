// Frame codec for the host/guest transport. Memory is static: fixed regions reserved at build
// time, so no call ever grows or leaks WebAssembly memory. See wasm/frame/README.md.
import { scan, RESULT_SLOTS } from "./frame/decoder";
import { writeHeaderTable } from "./frame/encoder";
import {
  DESCRIPTOR_BYTES,
  DESCRIPTOR_CAPACITY,
  HEADER_TABLE_CAPACITY,
  INPUT_CAPACITY,
  RECORD_BYTES,
  RECORD_CAPACITY,
} from "./frame/layout";

const input = memory.data(INPUT_CAPACITY, 16);
const records = memory.data(RECORD_CAPACITY * RECORD_BYTES, 16);
const result = memory.data(RESULT_SLOTS * 4, 16);
const descriptors = memory.data(DESCRIPTOR_CAPACITY * DESCRIPTOR_BYTES, 16);
const headerTable = memory.data(HEADER_TABLE_CAPACITY, 16);

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
export function descriptorPointer(): usize {
  return descriptors;
}
export function descriptorCapacity(): u32 {
  return DESCRIPTOR_CAPACITY;
}
export function headerTablePointer(): usize {
  return headerTable;
}

/**
 * Scans `length` bytes of the input window; the outcome lands in the result block. A non-zero
 * `pack` moves complete payloads together at the start of the window.
 */
export function decode(length: u32, maxPayload: u32, layout: u32, pack: u32): void {
  scan(input, min(length, INPUT_CAPACITY), records, result, maxPayload, layout, pack != 0);
}

/**
 * Validates `count` described frames and writes their headers back to back into the header
 * table; returns -1, or the first bad index with its error code in the first result slot.
 */
export function encodeHeaders(count: u32, maxPayload: u32, layout: u32): i32 {
  return writeHeaderTable(
    descriptors,
    min(count, DESCRIPTOR_CAPACITY),
    headerTable,
    HEADER_TABLE_CAPACITY,
    result,
    maxPayload,
    layout,
  );
}
