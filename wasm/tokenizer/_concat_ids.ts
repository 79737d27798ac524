/** Joins the token ids of a text's sections (special tokens and encoded runs) into one array. */
export function concatIds(parts: readonly ArrayLike<number>[], total: number): Uint32Array {
  const out = new Uint32Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
