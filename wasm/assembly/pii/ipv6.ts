// IPv6 addresses: up to eight hex groups, at most one `::`, optionally ending in dotted IPv4.

import { at, isDigit, isHex, isWord } from "./text";
import { emit, IP_ADDRESS } from "./findings";

/** Whether the hex run at `s` is followed by ':' within four characters (a cheap pre-check). */
export function looksLikeIpv6(s: i32): bool {
  if (at(s) == 58) return at(s + 1) == 58;
  for (let k = 0; k < 5; k++) {
    const c = at(s + k);
    if (c == 58) return k > 0;
    if (!isHex(c)) return false;
  }
  return false;
}

function dottedQuadEnd(s: i32): i32 {
  let i = s;
  for (let part = 0; part < 4; part++) {
    const start = i;
    let v = 0;
    while (isDigit(at(i)) && i - start < 3) {
      v = v * 10 + at(i) - 48;
      i++;
    }
    if (i == start || v > 255 || (i - start > 1 && at(start) == 48)) return -1;
    if (part < 3) {
      if (at(i) != 46) return -1;
      i++;
    }
  }
  return i;
}

/** Scans a possible IPv6 address at `s`; returns its end, or -1. */
export function scanIpv6(s: i32): i32 {
  if (isWord(at(s - 1)) || at(s - 1) == 58) return -1;
  let i = s;
  let groups = 0;
  let compressed = false;
  if (at(i) == 58) {
    if (at(i + 1) != 58) return -1;
    compressed = true;
    i += 2;
  }
  while (groups < 8) {
    const start = i;
    while (isHex(at(i)) && i - start < 5) i++;
    const len = i - start;
    if (len == 0) break;
    if (len > 4) return -1;
    // A trailing dotted quad stands for the last two groups.
    if (at(i) == 46 && len <= 3) {
      const quadEnd = dottedQuadEnd(start);
      if (quadEnd < 0 || groups > 6) return -1;
      groups += 2;
      i = quadEnd;
      break;
    }
    groups++;
    if (at(i) == 58) {
      if (at(i + 1) == 58) {
        if (compressed) return -1;
        compressed = true;
        i += 2;
        continue;
      }
      if (isHex(at(i + 1))) {
        i++;
        continue;
      }
    }
    break;
  }
  if (isWord(at(i)) || (at(i) == 58 && isHex(at(i + 1)))) return -1;
  if (compressed ? groups > 7 || groups < 1 : groups != 8) return -1;
  emit(IP_ADDRESS, s, i, 950);
  return i;
}
