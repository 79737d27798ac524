// Email addresses, found from their '@': the local part is read backwards and the domain forwards.

import { at, isAlnum, isAlpha } from "./text";
import { EMAIL, emit, lastEnd } from "./findings";

// @ts-ignore: decorator
@inline function isLocalChar(c: i32): bool {
  // A-Z a-z 0-9 . _ % + -
  return isAlnum(c) || c == 46 || c == 95 || c == 37 || c == 43 || c == 45;
}

/** Whether the ':' at `colon` ends the user of a URL's `//user:` (its password follows). */
function afterUserOfUrl(colon: i32): bool {
  let u = colon;
  while (isLocalChar(at(u - 1))) u--;
  return at(u - 1) == 47 && at(u - 2) == 47;
}

/** Scans around the '@' at `at`; returns where to resume, or -1 when it is no address. */
export function scanEmail(atSign: i32): i32 {
  let s = atSign;
  while (isLocalChar(at(s - 1))) s--;
  while (s < atSign && !isAlnum(at(s))) s++;
  if (s == atSign || at(atSign - 1) == 46 || s < lastEnd) return -1;
  // `://user:pass@host` is a credential, reported by the secret scanner; a label or a scheme
  // before the address (`email:ada@…`, `mailto:ada@…`) is not.
  if (at(s - 1) == 58 && afterUserOfUrl(s - 1)) return -1;
  let i = atSign + 1;
  let labels = 0;
  let lastLabelStart = i;
  let lastLabelAlpha = true;
  while (true) {
    const labelStart = i;
    let alpha = true;
    while (isAlnum(at(i)) || at(i) == 45) {
      if (!isAlpha(at(i))) alpha = false;
      i++;
    }
    if (i == labelStart || at(labelStart) == 45 || at(i - 1) == 45) break;
    labels++;
    lastLabelStart = labelStart;
    lastLabelAlpha = alpha;
    if (at(i) == 46 && isAlnum(at(i + 1))) {
      i++;
      continue;
    }
    break;
  }
  const end = labels > 0 ? i : atSign + 1;
  if (labels < 2 || !lastLabelAlpha || end - lastLabelStart < 2) return -1;
  emit(EMAIL, s, end, 950);
  return end;
}
