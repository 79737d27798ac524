/**
 * Unigram (T5, SentencePiece unigram): Viterbi over a lattice of vocabulary pieces, with the
 * tie-breaking, unknown scoring and unknown fusing of transformers.js. Runs in JavaScript.
 */

interface TrieNode {
  children: Map<string, TrieNode>;
  leaf: boolean;
}

/** A Unigram model built from `model.vocab` ([piece, score] pairs) and `model.unk_id`. */
export class UnigramModel {
  readonly #ids = new Map<string, number>();
  readonly #scores: number[];
  readonly #unkId: number;
  readonly #unkScore: number;
  readonly #root: TrieNode = { children: new Map(), leaf: false };

  constructor(vocab: [string, number][], unkId: number) {
    this.#scores = vocab.map(([, score]) => score);
    vocab.forEach(([piece], id) => this.#ids.set(piece, id));
    let min = Infinity;
    for (const score of this.#scores) min = Math.min(min, score);
    this.#unkId = unkId;
    this.#unkScore = min - 10;
    this.#scores[unkId] = this.#unkScore;
    for (const [piece] of vocab) {
      let node = this.#root;
      for (const char of piece) {
        let child = node.children.get(char);
        if (!child) {
          child = { children: new Map(), leaf: false };
          node.children.set(char, child);
        }
        node = child;
      }
      node.leaf = true;
    }
  }

  /** The id of a vocabulary piece. */
  idOf(piece: string): number | undefined {
    return this.#ids.get(piece);
  }

  /** Appends the ids of one pre-token to `out`; runs of unknown pieces become one unknown id. */
  encode(text: string, out: number[]): void {
    const chars = Array.from(text);
    const n = chars.length;
    // Lattice nodes in insertion order; node 0 is the start. Each later node picks, among the
    // nodes ending where it begins (in insertion order), the first with the highest
    // backtrace + own score, summed in the same order transformers.js sums them.
    const backtrace: number[] = [0];
    const previous: number[] = [-1];
    const ids: number[] = [-1];
    const endingAt: number[][] = Array.from({ length: n + 1 }, () => []);
    endingAt[0].push(0);
    const insert = (begin: number, length: number, score: number, id: number) => {
      let best = -1;
      let bestScore = 0;
      for (const left of endingAt[begin]) {
        const total = backtrace[left] + score;
        if (best < 0 || total > bestScore) {
          best = left;
          bestScore = total;
        }
      }
      const node = ids.length;
      ids.push(id);
      backtrace.push(bestScore);
      previous.push(best);
      endingAt[begin + length].push(node);
    };
    for (let begin = 0; begin < n; begin++) {
      let node: TrieNode | undefined = this.#root;
      let hasSingle = false;
      let piece = "";
      for (let end = begin; end < n; end++) {
        node = node.children.get(chars[end]);
        if (!node) break;
        piece += chars[end];
        if (!node.leaf) continue;
        const id = this.#ids.get(piece)!;
        if (end === begin) hasSingle = true;
        insert(begin, end - begin + 1, this.#scores[id], id);
      }
      if (!hasSingle) insert(begin, 1, this.#unkScore, this.#unkId);
    }
    let last = -1;
    let lastScore = 0;
    for (const node of endingAt[n]) {
      const total = backtrace[node] + 0;
      if (last < 0 || total > lastScore) {
        last = node;
        lastScore = total;
      }
    }
    const path: number[] = [];
    for (let node = last; node > 0; node = previous[node]) path.push(ids[node]);
    path.reverse();
    for (const id of path) {
      if (id === this.#unkId && out.length && out[out.length - 1] === this.#unkId) continue;
      out.push(id);
    }
  }
}
