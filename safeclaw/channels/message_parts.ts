/**
 * A reply cut to a platform's message size. Platforms refuse a longer message (Telegram above
 * 4,096 characters, Discord 2,000, WeCom 2,048 bytes), and the reply, retried and refused again,
 * never reached the user.
 */
import type { ReplyProgress } from "./types.ts";

/** How a platform measures and bounds one message. */
export interface MessageLimit {
  /** The most one message may hold, in `measure`'s units. */
  size: number;
  /** Characters (UTF-16 units) unless given: WeCom counts UTF-8 bytes. */
  measure?: (text: string) => number;
  /** The most messages one reply becomes; what is left after them is cut, with a note. */
  maxParts?: number;
}

/** Replies longer than this many messages are cut: a chat is not a file transfer. */
export const MAX_PARTS = 10;

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`, for platforms that count bytes. */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/**
 * `text` in parts that each fit `limit`, cut at a line break, else a space, in the second half of
 * a part where there is one (never inside a surrogate pair); at most `maxParts` parts, the last
 * ending with how many characters were cut.
 *
 * @example
 * ```ts
 * import { messageParts } from "./message_parts.ts";
 * console.log(messageParts("one two three", { size: 8 })); // ["one two", "three"]
 * ```
 */
export function messageParts(text: string, limit: MessageLimit): string[] {
  const measure = limit.measure ?? ((s: string) => s.length);
  const maxParts = limit.maxParts ?? MAX_PARTS;
  const parts: string[] = [];
  let rest = text;
  while (measure(rest) > limit.size) {
    if (parts.length === maxParts - 1) {
      const note = (left: number) => `\n[… reply cut: ${left} more characters]`;
      const head = fit(rest, limit.size - measure(note(rest.length)), measure);
      parts.push(head + note(rest.length - head.length));
      return parts;
    }
    const head = fit(rest, limit.size, measure);
    parts.push(head.trimEnd());
    rest = rest.slice(head.length).trimStart();
  }
  if (rest || parts.length === 0) parts.push(rest);
  return parts;
}

/** The longest start of `text` within `size`, moved back to a line break or space if one is near. */
function fit(text: string, size: number, measure: (s: string) => number): string {
  let lo = 0;
  let hi = Math.min(text.length, size);
  // The longest prefix that fits: by characters that is `size`, by bytes a binary search.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (measure(text.slice(0, mid)) <= size) lo = mid;
    else hi = mid - 1;
  }
  let end = lo;
  const code = text.charCodeAt(end - 1);
  if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
  if (end === 0) end = Math.min(text.length, code >= 0xd800 && code <= 0xdbff ? 2 : 1);
  const head = text.slice(0, end);
  for (const boundary of ["\n", " "]) {
    const at = head.lastIndexOf(boundary);
    if (at >= end / 2) return head.slice(0, at + 1);
  }
  return head;
}

/**
 * Sends the parts of `text` that `progress` has not counted yet, in order, through `sendPart`
 * (given each part's index: some platforms treat the first differently), and counts each one
 * that returns. A part that throws stops the reply there; a retry with the same `progress`
 * starts at that part.
 *
 * @example
 * ```ts
 * import { sendParts } from "./message_parts.ts";
 * const progress = { partsSent: 0 };
 * await sendParts("one two three", { size: 8 }, progress, async (part) => console.log(part));
 * console.log(progress.partsSent); // 2
 * ```
 */
export async function sendParts(
  text: string,
  limit: MessageLimit,
  progress: ReplyProgress,
  sendPart: (part: string, index: number) => Promise<void>,
): Promise<void> {
  const parts = messageParts(text, limit);
  for (let i = progress.partsSent; i < parts.length; i++) {
    await sendPart(parts[i], i);
    progress.partsSent = i + 1;
  }
}
