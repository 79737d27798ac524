/**
 * The local engine's query language, parsed once and compiled per backend: words (all must
 * match), `"quoted phrases"`, and `prefix*` terms. Everything else is punctuation, so no user
 * input reaches FTS5's or PostgreSQL's own query syntax unescaped.
 */

/** One clause of a parsed query. */
export type Clause =
  | { kind: "term"; word: string }
  | { kind: "prefix"; word: string }
  | { kind: "phrase"; words: string[] };

const WORD = /[\p{L}\p{N}_]+/gu;

/** Splits a query into clauses; an empty list means nothing searchable was given. */
export function parseQuery(query: string): Clause[] {
  const clauses: Clause[] = [];
  const pattern = /"([^"]*)"|(\S+)/g;
  for (const match of query.matchAll(pattern)) {
    if (match[1] !== undefined) {
      const words = match[1].match(WORD) ?? [];
      if (words.length === 1) clauses.push({ kind: "term", word: words[0] });
      else if (words.length > 1) clauses.push({ kind: "phrase", words });
      continue;
    }
    const token = match[2];
    const words = token.match(WORD) ?? [];
    if (!words.length) continue;
    // `foo*` is a prefix; `foo-bar` is the words foo and bar, adjacent, as the tokenizers see them.
    if (words.length === 1) {
      clauses.push(
        token.endsWith("*") ? { kind: "prefix", word: words[0] } : { kind: "term", word: words[0] },
      );
    } else {
      clauses.push({ kind: "phrase", words });
    }
  }
  return clauses;
}

/** FTS5 MATCH syntax: every word double-quoted, so keywords like NEAR or OR stay words. */
export function toFts5(clauses: readonly Clause[], join: "AND" | "OR" = "AND"): string {
  return clauses.map((c) => {
    if (c.kind === "term") return `"${c.word}"`;
    if (c.kind === "prefix") return `"${c.word}"*`;
    return `"${c.words.join(" ")}"`;
  }).join(` ${join} `);
}

/** PostgreSQL `to_tsquery` syntax: `&`/`|` between clauses, `<->` inside phrases, `:*` prefixes. */
export function toTsquery(clauses: readonly Clause[], join: "AND" | "OR" = "AND"): string {
  const quote = (w: string) => `'${w.toLowerCase()}'`;
  return clauses.map((c) => {
    if (c.kind === "term") return quote(c.word);
    if (c.kind === "prefix") return `${quote(c.word)}:*`;
    return `(${c.words.map(quote).join(" <-> ")})`;
  }).join(join === "AND" ? " & " : " | ");
}
