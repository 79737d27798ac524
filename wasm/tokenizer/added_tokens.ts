/**
 * Splits text on added tokens, leftmost-longest, as transformers.js's DictionarySplitter and
 * tiktoken's special-token handling do. A table of first UTF-16 units lets plain text pass in
 * one tight loop.
 */

/** One piece of split text: ordinary text, or an added token's id. */
export type Section = { text: string; id?: undefined } | { text: string; id: number };

interface TrieNode {
  children: Map<number, TrieNode>;
  id?: number;
}

/** A set of token strings to find in text. */
export class AddedTokenSplitter {
  readonly #root: TrieNode = { children: new Map() };
  readonly #first = new Uint8Array(65536);
  readonly size: number;

  constructor(tokens: Iterable<[string, number]>) {
    let size = 0;
    for (const [content, id] of tokens) {
      if (content.length === 0) continue;
      let node = this.#root;
      for (let i = 0; i < content.length; i++) {
        const unit = content.charCodeAt(i);
        let child = node.children.get(unit);
        if (!child) {
          child = { children: new Map() };
          node.children.set(unit, child);
        }
        node = child;
      }
      node.id = id;
      this.#first[content.charCodeAt(0)] = 1;
      size++;
    }
    this.size = size;
  }

  /** Splits `text` into ordinary sections and added tokens, in order; empty text is dropped. */
  split(text: string): Section[] {
    const sections: Section[] = [];
    if (this.size === 0) {
      if (text.length) sections.push({ text });
      return sections;
    }
    const first = this.#first;
    let start = 0;
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (first[text.charCodeAt(i)] === 0) {
        i++;
        continue;
      }
      let node: TrieNode | undefined = this.#root;
      let matchEnd = -1;
      let matchId = -1;
      for (let j = i; j < n; j++) {
        node = node.children.get(text.charCodeAt(j));
        if (!node) break;
        if (node.id !== undefined) {
          matchEnd = j + 1;
          matchId = node.id;
        }
      }
      if (matchEnd < 0) {
        i++;
        continue;
      }
      if (i > start) sections.push({ text: text.slice(start, i) });
      sections.push({ text: text.slice(i, matchEnd), id: matchId });
      i = start = matchEnd;
    }
    if (start < n) sections.push({ text: text.slice(start) });
    return sections;
  }
}
