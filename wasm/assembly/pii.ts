// PII and secret scanner. The host writes a string's UTF-16 code units at `prepare(length)`,
// calls `scan()`, and reads `scan()` findings as i32 quadruples (type, start, end, confidence
// in thousandths) from `findings()`. Both buffers are reused across calls.

import { reserveText } from "./pii/text";
import { findingsPtr } from "./pii/findings";
import { scanText } from "./pii/scanner";

/** Returns where to write `units` UTF-16 code units of text. */
export function prepare(units: i32): usize {
  return reserveText(units);
}

/** Scans the prepared text; returns the number of findings. */
export function scan(): i32 {
  return scanText();
}

/** Where the findings of the last scan start. */
export function findings(): usize {
  return findingsPtr;
}
