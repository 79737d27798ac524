/** HTML helpers over linkedom, the one DOM parser the adapters and the indexer use. */
import { parseHTML } from "linkedom";

/** An element as the adapters see it: enough of the DOM to select and read text. */
export interface HtmlElement {
  querySelector(selector: string): HtmlElement | null;
  querySelectorAll(selector: string): Iterable<HtmlElement>;
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
  closest(selector: string): HtmlElement | null;
  readonly parentElement: HtmlElement | null;
}

/** Parses a whole page. */
export function parseDocument(html: string): HtmlElement {
  // linkedom needs a root element to hang a fragment on; a full page already has one.
  const source = /<html[\s>]/i.test(html)
    ? html
    : `<!doctype html><html><body>${html}</body></html>`;
  // linkedom's typings describe its window as the global one, which Deno's lib lacks.
  const window = parseHTML(source) as unknown as { document: HtmlElement };
  return window.document;
}

/** Text of an element with whitespace collapsed. */
export function textOf(element: HtmlElement | null | undefined): string {
  return (element?.textContent ?? "").replace(/\s+/g, " ").trim();
}

/** Text of the first element matching any selector in order. */
export function firstText(root: HtmlElement, selectors: readonly string[]): string {
  for (const selector of selectors) {
    const text = textOf(root.querySelector(selector));
    if (text) return text;
  }
  return "";
}

/** Strips tags from a snippet that arrives as HTML (Wikipedia's, SearXNG's). */
export function stripTags(html: string): string {
  return textOf(parseDocument(`<div>${html}</div>`).querySelector("div"));
}

/** Resolves `href` against the page it came from; empty when it cannot be resolved. */
export function resolveHref(href: string | null, base: string): string {
  if (!href) return "";
  try {
    return new URL(href, base).href;
  } catch {
    return "";
  }
}
