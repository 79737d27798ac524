/** A small HTML-to-markdown converter: headings, links, lists, code, emphasis; scripts dropped. */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X"
        ? parseInt(e.slice(2), 16)
        : parseInt(e.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * Converts HTML to readable markdown.
 *
 * @example
 * ```ts
 * import { htmlToMarkdown } from "./_html.ts";
 * console.log(htmlToMarkdown("<h1>Hi</h1><p>a <a href='/x'>link</a></p>")); // "# Hi\n\na [link](/x)"
 * ```
 */
export function htmlToMarkdown(html: string): string {
  let s = html;
  s = s.replace(/<(script|style|noscript|svg|head|template)\b[\s\S]*?<\/\1>/gi, "");
  s = s.replace(/<!--[\s\S]*?-->/g, "");
  s = s.replace(
    /<pre\b[^>]*>([\s\S]*?)<\/pre>/gi,
    (_m, code: string) => `\n\n\`\`\`\n${decode(code.replace(/<[^>]+>/g, ""))}\n\`\`\`\n\n`,
  );
  s = s.replace(
    /<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1>/gi,
    (_m, n: string, t: string) => `\n\n${"#".repeat(Number(n))} ${t.trim()}\n\n`,
  );
  s = s.replace(
    /<a\b[^>]*href\s*=\s*["']([^"']*)["'][^>]*>([\s\S]*?)<\/a>/gi,
    (_m, href: string, t: string) => `[${t.trim()}](${href})`,
  );
  s = s.replace(/<(strong|b)\b[^>]*>([\s\S]*?)<\/\1>/gi, "**$2**");
  s = s.replace(/<(em|i)\b[^>]*>([\s\S]*?)<\/\1>/gi, "*$2*");
  s = s.replace(/<code\b[^>]*>([\s\S]*?)<\/code>/gi, "`$1`");
  s = s.replace(/<li\b[^>]*>/gi, "\n- ");
  s = s.replace(/<br\s*\/?>/gi, "\n");
  s = s.replace(
    /<\/(p|div|section|article|ul|ol|table|tr|blockquote|header|footer|main|nav)>/gi,
    "\n\n",
  );
  s = s.replace(/<[^>]+>/g, "");
  s = decode(s);
  return s.split("\n").map((l) => l.replace(/[ \t]+/g, " ").trimEnd()).join("\n").replace(
    /\n{3,}/g,
    "\n\n",
  ).trim();
}
