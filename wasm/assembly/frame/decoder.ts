// Stateless header scanner: one call walks every complete frame in the input window and writes a
// record per frame, so a chunk of thousands of small frames costs one boundary crossing. The
// TypeScript wrapper keeps the few bytes of a split header and owns payloads that outlive a window.
import {
  ERROR_OVERSIZED,
  ERROR_UNKNOWN_TYPE,
  headerSize,
  isKnownType,
  LAYOUT_COMPACT,
  RECORD_BYTES,
  RECORD_CAPACITY,
  STATUS_BODY,
  STATUS_DONE,
  STATUS_ERROR,
  STATUS_FULL,
} from "./layout";

// Result block slots (u32 each).
export const RESULT_STATUS: u32 = 0;
export const RESULT_COUNT: u32 = 1;
export const RESULT_CONSUMED: u32 = 2;
export const RESULT_PENDING_TYPE: u32 = 3;
export const RESULT_PENDING_STREAM: u32 = 4;
export const RESULT_PENDING_LENGTH: u32 = 5;
export const RESULT_ERROR: u32 = 6;
export const RESULT_ERROR_VALUE: u32 = 7;
export const RESULT_PACKED: u32 = 8;
export const RESULT_SLOTS: u32 = 9;

@inline function setResult(result: usize, slot: u32, value: u32): void {
  store<u32>(result + (<usize>slot << 2), value);
}

/**
 * Scans `input[0, length)`. Stops when the input ends (a partial header is left unconsumed), the
 * record table fills, a frame's payload runs past the window (its header is consumed and reported
 * as pending), or a header is invalid (consumed stops at that header).
 *
 * With `pack`, complete payloads are moved down over the headers so that they lie back to back
 * from `input`, and records point there: the caller then copies them all out in one piece.
 */
export function scan(
  input: usize,
  length: u32,
  records: usize,
  result: usize,
  maxPayload: u32,
  layout: u32,
  pack: bool,
): void {
  const header = headerSize(layout);
  let at: u32 = 0;
  let count: u32 = 0;
  let packed: u32 = 0;
  let status = STATUS_DONE;
  while (true) {
    if (length - at < header) break;
    if (count == RECORD_CAPACITY) {
      status = STATUS_FULL;
      break;
    }
    const base = input + <usize>at;
    const type = <u32>load<u8>(base);
    let flags: u32 = 0;
    let stream: u32 = 0;
    let size: u32;
    if (layout == LAYOUT_COMPACT) {
      size = bswap<u32>(load<u32>(base, 1));
    } else {
      flags = <u32>load<u8>(base, 1);
      stream = bswap<u32>(load<u32>(base, 2));
      size = bswap<u32>(load<u32>(base, 6));
    }
    if (!isKnownType(type)) {
      setResult(result, RESULT_ERROR, ERROR_UNKNOWN_TYPE);
      setResult(result, RESULT_ERROR_VALUE, type);
      status = STATUS_ERROR;
      break;
    }
    if (size > maxPayload) {
      setResult(result, RESULT_ERROR, ERROR_OVERSIZED);
      setResult(result, RESULT_ERROR_VALUE, size);
      status = STATUS_ERROR;
      break;
    }
    const body = at + header;
    if (size > length - body) {
      at = body;
      setResult(result, RESULT_PENDING_TYPE, type | (flags << 8));
      setResult(result, RESULT_PENDING_STREAM, stream);
      setResult(result, RESULT_PENDING_LENGTH, size);
      status = STATUS_BODY;
      break;
    }
    let payload = body;
    if (pack) {
      memory.copy(input + <usize>packed, input + <usize>body, size);
      payload = packed;
      packed += size;
    }
    const record = records + <usize>count * RECORD_BYTES;
    store<u32>(record, type | (flags << 8));
    store<u32>(record, stream, 4);
    store<u32>(record, payload, 8);
    store<u32>(record, size, 12);
    count++;
    at = body + size;
  }
  setResult(result, RESULT_STATUS, status);
  setResult(result, RESULT_COUNT, count);
  setResult(result, RESULT_CONSUMED, at);
  setResult(result, RESULT_PACKED, packed);
}
