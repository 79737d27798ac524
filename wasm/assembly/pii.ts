// asc-flags: -O3 --noAssert --runtime stub --exportRuntime --enable simd
// PII and secret scanner. The host encodes a string with `TextEncoder.encodeInto` at
// `prepare(maxBytes)`, calls `scan(bytesWritten)`, and reads the findings as i32 quadruples
// (type, start, end, confidence in thousandths) from `findings()`. The text is decoded to
// UTF-16 inside, so offsets are JavaScript string indices. Buffers are reused across calls.

import { decodeUtf8, reserveBytes } from "./pii/text";
import { findingsPtr } from "./pii/findings";
import { scanText } from "./pii/scanner";

/** Returns where to write up to `maxBytes` bytes of UTF-8. */
export function prepare(maxBytes: i32): usize {
  return reserveBytes(maxBytes);
}

/** Decodes and scans the `bytes` written; returns the number of findings. */
export function scan(bytes: i32): i32 {
  decodeUtf8(bytes);
  return scanText();
}

/** Where the findings of the last scan start. */
export function findings(): usize {
  return findingsPtr;
}
