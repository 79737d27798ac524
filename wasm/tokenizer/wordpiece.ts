/** WordPiece (BERT): greedy longest match with a continuation prefix, as transformers.js does. */

/** Settings of a WordPiece model. */
export interface WordPieceModel {
  vocab: ReadonlyMap<string, number>;
  unkId: number;
  prefix: string;
  maxChars: number;
}

/** Appends the ids of one pre-token to `out`. */
export function wordPiece(model: WordPieceModel, word: string, out: number[]): void {
  const chars = [...word];
  if (chars.length > model.maxChars) {
    out.push(model.unkId);
    return;
  }
  const pieces: number[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: number | undefined;
    while (start < end) {
      let piece = chars.slice(start, end).join("");
      if (start > 0) piece = model.prefix + piece;
      found = model.vocab.get(piece);
      if (found !== undefined) break;
      end--;
    }
    if (found === undefined) {
      out.push(model.unkId);
      return;
    }
    pieces.push(found);
    start = end;
  }
  for (const id of pieces) out.push(id);
}
