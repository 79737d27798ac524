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

/**
 * The findings of `layout`'s text that a value cut at a boundary between groups explains:
 * those with characters of two groups that no value within one group accounts for. Each group
 * the findings reach is classified alone (`classify`, once a group) and a finding is dropped
 * where one of the group's own values overlaps it: then the join only glued the neighbour's
 * text onto a value the group holds whole (`zed.private@example.com`, then `thanks`, read as
 * `…example.comthanks`; a card, then `@example.com`, read as an address), and that group's own
 * review is the one to redact it. Joined with a space (`spaced`), one exception: a group's
 * value of another type lying wholly inside the finding is part of the larger value that the
 * pieces make (an IBAN's last groups, alone, read as a phone number); glued, the boundary had
 * no separator for such a reading, and the value of the group wins.
 */
export function acrossGroups(
  layout: Pick<Layout, "text" | "groups">,
  findings: readonly Detection[],
  classify: (text: string) => readonly Detection[],
  spaced: boolean,
): Detection[] {
  const own = new Map<number, Detection[]>();
  const ownOf = (g: number): Detection[] => {
    let found = own.get(g);
    if (!found) {
      const { start, end } = layout.groups[g];
      found = classify(layout.text.slice(start, end))
        .map((f) => ({ ...f, start: f.start + start, end: f.end + start }));
      own.set(g, found);
    }
    return found;
  };
  const explains = (f: Detection, g: Detection) =>
    g.start < f.end && g.end > f.start &&
    (!spaced || g.type === f.type || g.start < f.start || g.end > f.end);
  return findings.filter((f) => {
    if (!crossesRanges(f, layout.groups)) return false;
    for (let g = spanAt(layout.groups, f.start); g < layout.groups.length; g++) {
      if (layout.groups[g].start >= f.end) break;
      if (ownOf(g).some((value) => explains(f, value))) return false;
    }
    return true;
  });
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
