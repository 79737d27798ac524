// Findings are written as four i32s each (type, start, end, confidence in thousandths) into one
// buffer that the host reads back in bulk after each scan.

import { resetUnitCount, unitsBefore } from "./text";

export const EMAIL: i32 = 1;
export const PHONE: i32 = 2;
export const CREDIT_CARD: i32 = 3;
export const IBAN: i32 = 4;
export const US_SSN: i32 = 5;
export const CN_ID: i32 = 6;
export const IP_ADDRESS: i32 = 7;
export const SECRET: i32 = 8;

export let findingsPtr: usize = 0;
export let findingCount: i32 = 0;
let findingCap: i32 = 0;

/** Where the last finding ends, so that look-behind candidates never overlap it. */
export let lastEnd: i32 = 0;

export function resetFindings(): void {
  findingCount = 0;
  lastEnd = 0;
}

export function emit(kind: i32, start: i32, end: i32, confidence: i32): void {
  if (findingCount == findingCap) {
    const cap = findingCap > 0 ? findingCap << 1 : 256;
    const grown = heap.alloc(<usize>cap << 4);
    if (findingsPtr != 0) {
      memory.copy(grown, findingsPtr, <usize>findingCount << 4);
      heap.free(findingsPtr);
    }
    findingsPtr = grown;
    findingCap = cap;
  }
  const p = findingsPtr + (<usize>findingCount << 4);
  store<i32>(p, kind);
  store<i32>(p, start, 4);
  store<i32>(p, end, 8);
  store<i32>(p, confidence, 12);
  findingCount++;
  lastEnd = end;
}

/**
 * Rewrites every finding's byte offsets as UTF-16 code-unit offsets. Findings are in text order
 * and never overlap, so one walk over the text up to the last finding counts them all.
 */
export function toUtf16Offsets(): void {
  resetUnitCount();
  for (let k = 0; k < findingCount; k++) {
    const p = findingsPtr + (<usize>k << 4);
    store<i32>(p, unitsBefore(load<i32>(p, 4)), 4);
    store<i32>(p, unitsBefore(load<i32>(p, 8)), 8);
  }
}
