/**
 * Text the user cut into pieces (the text parts of a message, consecutive messages) laid end to
 * end, so that a value no piece shows whole is found; and the pieces edited where such a value
 * is redacted. Offsets in the joined text are mapped back to the pieces by a merge over both in
 * order: the work is linear in the pieces and the values, however many of either a request has.
 */
import type { Detection } from "./privacy/entities.ts";

/** One piece's stretch of a {@linkcode Layout}'s text. */
export interface Segment {
  /** The group (a message) the piece is of, by its index in the groups laid out. */
  group: number;
  /** The piece's index in its group. */
  piece: number;
  /** Where the stretch begins in the piece: the piece's leading whitespace is not laid out. */
  from: number;
  /** Where the stretch begins in the joined text. */
  start: number;
  /** Where it ends in the joined text (exclusive). */
  end: number;
}

/** A group's stretch of a {@linkcode Layout}'s text: from its first piece's to its last's. */
export interface GroupSpan {
  /** The group, by its index in the groups laid out. */
  group: number;
  /** Where its text begins in the joined text. */
  start: number;
  /** Where it ends (exclusive). */
  end: number;
}

/** Groups of pieces laid end to end (see {@linkcode layOut}). */
export interface Layout {
  /** The pieces' text, joined. */
  text: string;
  /** Each piece's stretch of `text`, in order; a piece with no text but whitespace has none. */
  segments: Segment[];
  /** Each group's stretch of `text`, in order; a group with no text but whitespace has none. */
  groups: GroupSpan[];
}

/** A value of a joined text and what stands in its place. */
export interface Replacement {
  /** Where the value starts in the joined text. */
  start: number;
  /** Where it ends (exclusive). */
  end: number;
  /** What replaces it. */
  replacement: string;
}

/** Whether the UTF-16 unit at `at` of `text` is whitespace (every kind of it is one unit). */
function isSpace(text: string, at: number): boolean {
  return /\s/.test(text[at]);
}

/**
 * `groups` of pieces (each message's texts) laid end to end with `separator` between every two
 * pieces, within a group and between groups alike, each piece without the whitespace at its
 * ends. The join then reads each boundary one way, as the separator: a line break or a tab that
 * ends a message neither hides a value cut there nor doubles the separator, and a piece of
 * nothing but whitespace (an empty message between two halves) is no piece at all, so that the
 * value reads the same whatever stood between its pieces.
 */
export function layOut(groups: readonly (readonly string[])[], separator: string): Layout {
  const chunks: string[] = [];
  const segments: Segment[] = [];
  const spans: GroupSpan[] = [];
  let length = 0;
  groups.forEach((pieces, group) => {
    let span: GroupSpan | undefined;
    pieces.forEach((text, piece) => {
      let from = 0;
      let to = text.length;
      while (from < to && isSpace(text, from)) from++;
      while (to > from && isSpace(text, to - 1)) to--;
      if (from === to) return;
      if (length > 0) {
        chunks.push(separator);
        length += separator.length;
      }
      chunks.push(text.slice(from, to));
      segments.push({ group, piece, from, start: length, end: length + to - from });
      span ??= { group, start: length, end: length };
      length += to - from;
      span.end = length;
    });
    if (span) spans.push(span);
  });
  return { text: chunks.join(""), segments, groups: spans };
}

/** The index of the first of `spans` (ordered) that ends after `offset`; their count if none. */
function spanAt(spans: readonly { end: number }[], offset: number): number {
  let low = 0;
  let high = spans.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (spans[mid].end > offset) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Whether `span` of a text laid end to end from pieces that are `ranges` of it (ordered) holds
 * characters of two of them: it starts before the end of one and ends after the start of the
 * next. A binary search: a request of many pieces and many values costs no product of the two.
 */
export function crossesRanges(
  span: { start: number; end: number },
  ranges: readonly { start: number; end: number }[],
): boolean {
  const first = spanAt(ranges, span.start);
  return first + 1 < ranges.length && span.end > ranges[first + 1].start;
}

/** Whether `span` of `layout`'s text has characters of a group that `wanted` says yes to. */
export function reachesGroup(
  layout: Pick<Layout, "groups">,
  span: { start: number; end: number },
  wanted: (group: number) => boolean,
): boolean {
  for (let g = spanAt(layout.groups, span.start); g < layout.groups.length; g++) {
    if (layout.groups[g].start >= span.end) break;
    if (wanted(layout.groups[g].group)) return true;
  }
  return false;
}

/** How many groups before a group a window reads, at most (see {@linkcode acrossGroups}). */
export const WINDOW_GROUPS = 32;

/** How many characters of text before a group every window reads, at most. */
export const WINDOW_CHARS = 256;

/**
 * How many characters of text before a group a window reads, at most, where the boundary cuts
 * a long value: glued, a token that runs on into the group (a JWT, a key); or a PEM block begun
 * and not yet ended. A private key of 4,096 bits is some 3,300 characters.
 */
export const WINDOW_LONG_CHARS = 16_384;

/** The line that begins a PEM block (a private key, a certificate), and the one that ends it. */
const PEM_BEGIN = "-----BEGIN";
const PEM_END = "-----END";

/** Where each `marker` is in `text`, in order. */
function positions(text: string, marker: string): number[] {
  const out: number[] = [];
  for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + marker.length)) {
    out.push(at);
  }
  return out;
}

/**
 * Whether `own`, a value one group holds whole, explains `found`, a value the join read with
 * characters of two groups: the join then only glued a neighbour's text onto (or in front of) a
 * value a group holds itself, and that group's own review is the one to redact it. It does when
 * they overlap and `own` sticks out of `found` (the two readings conflict), or lies in it:
 *
 * - of the same type, unless strictly inside it (both ends within): `zed.private@example.com`,
 *   then `yes`, reads `…example.comyes`, which the first message's own address, ending at the
 *   boundary, explains. So does the later group's own value where the join only put the earlier
 *   group's last letters in front of it (`mail z`, then `ed.private@example.com`): the later
 *   message's review redacts `ed.private@example.com` and `z` goes as it is. Reading it the other
 *   way would glue `thanks` or `ok` onto a whole address the next message starts with, which is
 *   far more common than an address cut after its first letter;
 * - of another type, only glued (`spaced` false): there the boundary had no separator, and a
 *   card followed by `@example.com` is no address. Joined with a space, such a value inside the
 *   finding is part of the larger value the pieces make (an IBAN's last groups, alone, read as
 *   a phone number).
 */
function explains(found: Detection, own: Detection, spaced: boolean): boolean {
  if (own.start >= found.end || own.end <= found.start) return false;
  if (own.start < found.start || own.end > found.end) return true;
  if (own.type !== found.type) return !spaced;
  return own.start === found.start || own.end === found.end;
}

/** Whether `text` is one word of letters, nothing in it that joins it to a value. */
const WORD = /^[\p{L}\p{M}]+$/u;

/** Whether `text` has no whitespace: one word, whatever its characters. */
const UNBROKEN = /^\S+$/;

/**
 * The values of `layout`'s text that a value cut at a boundary between groups explains: those
 * with characters of two groups that no value within one group accounts for, as `classify`
 * reads them. A value must END in the group its last piece is in, so each group `e` from the
 * second on is read in one window: its own text and the text before it, back at most
 * {@linkcode WINDOW_GROUPS} groups and {@linkcode WINDOW_CHARS} characters (the earliest
 * group's tail then cut), and only the values that end inside `e` and begin in an earlier group
 * are kept. The window ends where `e` ends, so a value is never read running on into the next
 * group's words (`…example.com`, then `thanks`, as `…example.comthanks`), and the next group's
 * first characters can neither hide it (`2 more things`, `- item`) nor be taken with it.
 *
 * A long value cut in pieces is out of such a window's reach: a key whose `-----BEGIN` line is
 * 600 characters back, a JWT whose `eyJ` is 300. So the window reaches back to where a PEM block
 * begins when the text before `e` has begun one and not ended it, and, glued, to where the
 * token (the text without whitespace) that the boundary cuts begins, and {@linkcode
 * WINDOW_CHARS} before that; both at most {@linkcode WINDOW_LONG_CHARS} characters and
 * {@linkcode WINDOW_GROUPS} groups back. Prose is read as far back as before: only a boundary
 * inside a token or a block pays for the longer window.
 *
 * A window starts after the last value already found across groups, and, glued (`spaced`
 * false), after the last value an earlier group holds whole: text already read as a value is
 * not read again as the start of another (`zed.private@` `example.com`, then `bob.smith@`
 * `example.org`, would otherwise read `example.combob.smith@example.org` and hide Bob's
 * address). Joined with a space the values a group holds are not skipped so: a space already
 * ends a value, and the pieces of a larger one (an IBAN whose last groups read as a phone number
 * alone) are to be read whole. One value found is read again: joined with a space, a value that
 * ends exactly where its group ends (`+1 415 555 26`, with `71` still to come) may go on in the
 * groups after it. Their windows start where it starts (while that is within their reach), and
 * where the same start reads on to the end of such a group, all of it the value's rest (`+1 415
 * 555 26 71`), the longer reading replaces it. Only a group that is nothing but the rest: a value
 * never takes the first number of a message that goes on with words (`2671`, then `10 minutes
 * later`). Glued, no value is so read on: `zed@example.com`, then `thanks`, reads as one address.
 * So, spaced, may a value the group before `e` holds whole and ends with (`call +1 415 555 26`,
 * then `71`): else it explains the longer reading away, its group's own review redacts only it,
 * and the rest goes in clear. Only for the group right after it, and only as a value of its type
 * that the classifier is at least as sure of and that no other group's own value explains: a
 * count after a whole number (`+1 415 555 2671`, then `2`) reads as no longer number and stays.
 *
 * A value is dropped when a value one group holds whole explains it ({@linkcode explains}). And
 * a value may be read from the group after its first on, where the message boundary is the more
 * plausible start: glued, when its first piece is the last word of its group (after whitespace,
 * or the whole group: `Please send it to`, `Thanks.`, `ok_`, `2024`, then `zed.private@`,
 * `example.com`), and joined with a space, when that piece is its whole group and a word of
 * letters; either way only if the reading from the next group's start is a value of the same
 * type still cut between groups. The word is then the end of its message, not the start of the
 * value. A genuine first fragment (`zed.`, then `private@`, `example.com`) so stays in its
 * message, and the vault keeps `private@example.com`: the lesser harm, against taking `to` or
 * `thanks` into every address typed after them (the same choice as for `mail z`, above). The
 * reading set aside is pushed onto `readings` where given, as is the shorter one a longer
 * replaced: a value two readings give is tracked as both, so that a tool call carrying either is
 * caught.
 *
 * Each group is read in at most {@linkcode WINDOW_GROUPS} + 1 windows, in all but its own only
 * the last {@linkcode WINDOW_CHARS} characters before a later group (or {@linkcode
 * WINDOW_LONG_CHARS} where it is part of a token or a block cut there), and alone at most once
 * (`classify`, where a value reaches it or, glued, a later group is read): the work is linear in
 * the text. Each value is found in one window only, that of the group it ends in, so none is
 * found twice. The values are returned in the order of the text, their offsets those of
 * `layout`'s text.
 */
export function acrossGroups(
  layout: Pick<Layout, "text" | "groups">,
  classify: (text: string) => readonly Detection[],
  spaced: boolean,
  readings?: Detection[],
): Detection[] {
  const { text, groups } = layout;
  const own: (Detection[] | undefined)[] = [];
  const ownOf = (g: number): Detection[] =>
    own[g] ??= classify(text.slice(groups[g].start, groups[g].end))
      .map((f) => ({ ...f, start: f.start + groups[g].start, end: f.end + groups[g].start }));
  /** Whether a value a group holds whole, other than `but`, explains `f`. */
  const explained = (f: Detection, but?: Detection): boolean => {
    for (let g = spanAt(groups, f.start); g < groups.length && groups[g].start < f.end; g++) {
      if (ownOf(g).some((value) => value !== but && explains(f, value, spaced))) return true;
    }
    return false;
  };
  /** `f` read from the group after its first on, where its first piece is a word it ends. */
  const trimmed = (f: Detection): Detection => {
    const first = spanAt(groups, f.start);
    const { start, end } = groups[first];
    const word = spaced
      ? f.start === start && WORD.test(text.slice(start, end))
      : (f.start === start || isSpace(text, f.start - 1)) &&
        UNBROKEN.test(text.slice(f.start, end));
    if (!word) return f;
    const from = groups[first + 1].start;
    const rest = classify(text.slice(from, f.end))
      .find((r) => r.type === f.type && r.start === 0 && r.end === f.end - from);
    const shorter = rest && { ...rest, start: from, end: f.end };
    return shorter && crossesRanges(shorter, groups) ? shorter : f;
  };
  const begins = positions(text, PEM_BEGIN);
  const ends = positions(text, PEM_END);
  const out: Detection[] = [];
  // Where the text not yet read as a value begins.
  let read = 0;
  // The last value kept, while it may go on in the groups after it (spaced, ending its group).
  let open: Detection | undefined;
  // Whether `open` is a value the group before `e` holds whole, not one kept across groups.
  let ownOpen = false;
  // The value of its own that the open value began as, if any: it explains none of its
  // longer readings.
  let base: Detection | undefined;
  // Where the token that ends the group before `e` begins (glued, it may begin groups back).
  let token = 0;
  // The last PEM markers before `e`, by their index in `begins` and `ends`.
  let begun = -1;
  let ended = -1;
  for (let e = 1; e < groups.length; e++) {
    const before = groups[e - 1];
    const start = groups[e].start;
    if (!spaced) {
      let at = before.end;
      while (at > before.start && !isSpace(text, at - 1)) at--;
      // The whole group one token: glued to the group before with nothing between, it goes on.
      token = at === before.start && e > 1 && groups[e - 2].end === at ? token : at;
    }
    while (begun + 1 < begins.length && begins[begun + 1] < start) begun++;
    // An end line cut by the boundary has not ended the block: the rest of it is in `e`.
    while (ended + 1 < ends.length && ends[ended + 1] + PEM_END.length <= start) ended++;
    if (!spaced) { for (const value of ownOf(e - 1)) read = Math.max(read, value.end); }
    const floor = Math.max(
      groups[Math.max(0, e - WINDOW_GROUPS)].start,
      start - WINDOW_LONG_CHARS,
    );
    let reach = start - WINDOW_CHARS;
    if (!spaced) reach = Math.min(reach, token - WINDOW_CHARS);
    // A block begun and not ended before `e`: the key's first line is to be read with its rest.
    if (begun >= 0 && (ended < 0 || ends[ended] < begins[begun])) {
      reach = Math.min(reach, begins[begun]);
    }
    // A group's own value is open for the group right after it only: one between them is no
    // part of its rest.
    if (ownOpen) open = undefined;
    ownOpen = false;
    if (spaced && !open) {
      // The group before `e` ends with a value of its own (`call +1 415 555 26`, `71` still to
      // come): its own review would redact only that much and send the rest in clear. Only
      // after the text already read, so that the window below starts no later for it.
      open = ownOf(e - 1).find((value) => value.end === before.end && value.start >= read);
      ownOpen = open !== undefined;
    }
    // Read again no further back than the window would read anyway: the work stays bounded.
    if (open && open.start < Math.max(floor, reach)) open = undefined;
    const from = open && !ownOpen ? open.start : Math.max(read, floor, reach);
    // Nothing of an earlier group left to read: no value in the window is cut between groups.
    if (from >= before.end) continue;
    for (const found of classify(text.slice(from, groups[e].end))) {
      const f = { ...found, start: found.start + from, end: found.end + from };
      if (f.end <= start) continue;
      if (open && f.start < open.end) {
        // The open value read on to this group's end, the group all of it its rest.
        const rest = f.start === open.start && f.end === groups[e].end;
        if (ownOpen) {
          // A group's own value goes on only as a value of its type the classifier is at least
          // as sure of (`+1 415 555 2671`, then `2`, reads no longer phone number), and only
          // where no other value a group holds explains the reading (`2024` of its own, a date).
          // Otherwise the reading is judged as any other: it may be a larger value of another
          // type that the own one is part of (an IBAN whose last groups read as a phone).
          if (
            rest && f.type === open.type && f.confidence >= open.confidence &&
            !explained(f, open)
          ) {
            readings?.push(open);
            out.push(f);
            base = open;
            open = f;
            ownOpen = false;
            read = f.end;
            continue;
          }
        } else {
          if (!rest || explained(f, base)) continue;
          // It is the last value kept: any later one ends its being open.
          readings?.push(open);
          out[out.length - 1] = f;
          open = f;
          read = f.end;
          continue;
        }
      }
      if (!crossesRanges(f, groups)) continue;
      const value = trimmed(f);
      if (explained(value)) continue;
      if (value !== f) readings?.push(f);
      out.push(value);
      read = Math.max(read, value.end);
      open = spaced && value.end === groups[e].end ? value : undefined;
      ownOpen = false;
      base = undefined;
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * The stretches `ranges` (ordered, apart) of `text` with `values` replaced: each value's
 * replacement in the stretch where it begins (or the next one, where it begins between two),
 * and its characters in later stretches removed. Values are taken by where they start; one
 * that overlaps a value before it is left out, as `sanitize` leaves it. A merge over the two
 * in order: each stretch and each value is visited a bounded number of times.
 */
export function spliceRanges(
  text: string,
  ranges: readonly { start: number; end: number }[],
  values: readonly Replacement[],
): string[] {
  const ordered: Replacement[] = [];
  for (const v of [...values].sort((a, b) => a.start - b.start || b.end - a.end)) {
    if (v.end > v.start && v.start >= (ordered.at(-1)?.end ?? 0)) ordered.push(v);
  }
  const out: string[] = [];
  let next = 0;
  // The last value whose replacement is written: a value in several stretches gets it once.
  let placed = -1;
  for (const range of ranges) {
    while (next < ordered.length && ordered[next].end <= range.start) next++;
    let piece = "";
    let at = range.start;
    for (; next < ordered.length && ordered[next].start < range.end; next++) {
      const value = ordered[next];
      piece += text.slice(at, Math.max(at, value.start));
      if (next > placed) {
        piece += value.replacement;
        placed = next;
      }
      at = Math.min(value.end, range.end);
      // It runs on into the next stretch: that one goes on from it.
      if (value.end > range.end) break;
    }
    out.push(piece + text.slice(at, range.end));
  }
  return out;
}

/**
 * The pieces of `groups` with `values` of `layout`'s text (laid out from them) replaced as
 * {@linkcode spliceRanges} replaces them: only the stretch each piece has in the text is
 * edited, its whitespace at either end kept. Pieces no value reaches are the same strings.
 */
export function splicePieces(
  layout: Layout,
  groups: readonly (readonly string[])[],
  values: readonly Replacement[],
): string[][] {
  const texts = spliceRanges(layout.text, layout.segments, values);
  const out = groups.map((pieces) => [...pieces]);
  layout.segments.forEach(({ group, piece, from, start, end }, s) => {
    if (texts[s] === layout.text.slice(start, end)) return;
    const before = out[group][piece];
    out[group][piece] = before.slice(0, from) + texts[s] + before.slice(from + end - start);
  });
  return out;
}
