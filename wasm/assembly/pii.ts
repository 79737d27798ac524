// asc-flags: -O3s --noAssert --runtime stub --exportRuntime --enable simd
// PII and secret scanner. The host encodes a string with `TextEncoder.encodeInto` at
// `prepare(maxBytes)`, calls `scan(bytesWritten, stringLength)`, and reads the findings as i32
// quadruples (type, start, end, confidence in thousandths) from `findings()`, or as JSON text
// from `findingsJson()`. The scan runs over the UTF-8 bytes; offsets come back as JavaScript
// string indices. Buffers are reused.
//
// Built at -O3s rather than -O3: with less inlining its functions are smaller, so a fresh
// process's engine finishes optimizing them sooner (a file's scan is at full speed after about
// 4 MB instead of 11 MB), and the optimized speed is the same.

import { reserveText, useText } from "./pii/text";
import { findingsPtr, toUtf16Offsets } from "./pii/findings";
import { unitsBefore } from "./pii/text";
import { scanText } from "./pii/scanner";
export { findingsJson, jsonText } from "./pii/json";

/** Returns where to write up to `maxBytes` bytes of UTF-8. */
export function prepare(maxBytes: i32): usize {
  return reserveText(maxBytes);
}

/**
 * Scans the `bytes` written for a string of `units` UTF-16 code units; returns the number of
 * findings. Equal counts mean pure ASCII, where byte offsets already are string indices.
 */
export function scan(bytes: i32, units: i32): i32 {
  useText(bytes);
  const count = scanText();
  if (bytes != units) toUtf16Offsets();
  return count;
}

/**
 * UTF-16 code units in the first `bytes` bytes of the last scanned text. Only valid after a
 * scan that converted offsets (units != bytes): it continues that scan's walk, so the host can
 * place the next chunk's offsets without decoding anything.
 */
export function unitsThrough(bytes: i32): i32 {
  return unitsBefore(bytes);
}

/** Where the findings of the last scan start. */
export function findings(): usize {
  return findingsPtr;
}
