/**
 * The engine's BPE merge against the merge as first written (merge the lowest-ranked adjacent
 * pair, the leftmost of equal ones, until none is left), on small random vocabularies whose
 * ranks are shuffled so that merged pieces often outrank their parts and equal pairs overlap.
 * Pieces run from one symbol to a few thousand, merged whole and in spans as small as 16 bytes,
 * so that one text crosses hundreds of span walls, some of which do not hold.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { Engine, Split } from "./_engine.ts";
import { seededRandom } from "./_test_corpus.ts";

const utf8 = new TextEncoder();
const NO_ID = 0xffffffff;
/** Id the test engines give a byte of a character outside the vocabulary. */
const FALLBACK = (byte: number) => 1000 + byte;
// [span, margin] settings of long-piece merging: the default, then small ones.
const SPANS = [[32768, 1024], [16, 4], [20, 4], [24, 6], [40, 12], [300, 64]];

interface Vocabulary {
  /** Token bytes by id, as Latin-1 strings (one char per byte). */
  bytes: string[];
  idOf: Map<string, number>;
  /** Merge rules: "left,right" -> [rank, merged id] (Hugging Face style). */
  merges: Map<string, [number, number]>;
}

const latin1 = (text: string) => String.fromCharCode(...utf8.encode(text));

function addToken(vocab: Vocabulary, bytes: string): number {
  let id = vocab.idOf.get(bytes);
  if (id === undefined) {
    id = vocab.bytes.length;
    vocab.bytes.push(bytes);
    vocab.idOf.set(bytes, id);
  }
  return id;
}

function emptyVocabulary(): Vocabulary {
  return { bytes: [], idOf: new Map(), merges: new Map() };
}

/** Random merges over `base` tokens, in shuffled rank order. */
function randomVocabulary(seed: number, base: string[], merges: number): Vocabulary {
  const random = seededRandom(seed);
  const vocab = emptyVocabulary();
  for (const b of base) addToken(vocab, b);
  const rules: [number, number, number][] = [];
  const pick = () => Math.floor(random() ** 2 * vocab.bytes.length);
  for (let k = 0; k < merges * 3 && rules.length < merges; k++) {
    const left = random() < 0.5 ? pick() : vocab.bytes.length - 1 - pick();
    const right = pick();
    if (vocab.bytes[left].length + vocab.bytes[right].length > 12) continue;
    if (vocab.merges.has(`${left},${right}`)) continue;
    const merged = addToken(vocab, vocab.bytes[left] + vocab.bytes[right]);
    vocab.merges.set(`${left},${right}`, [0, merged]);
    rules.push([left, right, merged]);
  }
  for (let i = rules.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rules[i], rules[j]] = [rules[j], rules[i]];
  }
  rules.forEach(([l, r, merged], rank) => vocab.merges.set(`${l},${r}`, [rank, merged]));
  return vocab;
}

/** Merges the lowest-ranked pair, the leftmost of equal ones, until `pairOf` finds none. */
function referenceMerge<S>(symbols: S[], pairOf: (l: S, r: S) => [number, S] | undefined): S[] {
  const s = symbols.slice();
  while (true) {
    let best: [number, S] | undefined;
    let at = -1;
    for (let i = 0; i + 1 < s.length; i++) {
      const pair = pairOf(s[i], s[i + 1]);
      if (pair && (!best || pair[0] < best[0])) [best, at] = [pair, i];
    }
    if (!best) return s;
    s.splice(at, 2, best[1]);
  }
}

/** Rule merges of ids; `undefined` stands for a character outside the vocabulary. */
function byRules(vocab: Vocabulary) {
  return (l: number | undefined, r: number | undefined): [number, number | undefined] | undefined =>
    l === undefined || r === undefined ? undefined : vocab.merges.get(`${l},${r}`);
}

/**
 * Texts over `alphabet`: random ones, repeated units, and short random stretches between runs
 * of `inert` (which merges with nothing), so that a span may merge nothing beside a wall.
 */
function texts(seed: number, alphabet: string[], inert: string): string[] {
  const random = seededRandom(seed);
  const below = (n: number) => Math.floor(random() * n);
  const draw = (n: number) =>
    Array.from({ length: n }, () => alphabet[below(alphabet.length)]).join("");
  const out: string[] = [];
  for (const n of [1, 2, 3, 5, 8, 40, 90, 95, 96, 97, 98, 100, 130, 250, 600, 1500, 3000]) {
    out.push(draw(n));
  }
  const [a, b] = alphabet;
  for (const unit of [a, a + b, a + a + b]) {
    for (const n of [97, 400, 2500]) out.push(unit.repeat(Math.ceil(n / unit.length)));
  }
  for (const n of [200, 2000]) {
    let text = "";
    while (text.length < n) text += draw(1 + below(12)) + inert.repeat(1 + below(40));
    out.push(text);
  }
  return out;
}

async function engineFor(
  vocab: Vocabulary,
  options: { rankByBytes: boolean; byteLevel: boolean; byteIds?: Uint32Array },
): Promise<Engine> {
  const engine = await Engine.create({
    split: Split.none,
    jsFlavor: false,
    ignoreMerges: false,
    unkId: -1,
    ...options,
  });
  const tokens = vocab.bytes.map((b) => Uint8Array.from(b, (c) => c.charCodeAt(0)));
  engine.loadVocab(tokens.map((_, id) => id), tokens);
  const ordered = [...vocab.merges].sort((x, y) => x[1][0] - y[1][0]);
  engine.loadMerges(
    Uint32Array.from(
      ordered.flatMap(([key, [, merged]]) => [...key.split(",").map(Number), merged]),
    ),
  );
  const byteIds = options.byteIds ??
    Uint32Array.from({ length: 256 }, (_, b) => vocab.idOf.get(String.fromCharCode(b)) ?? NO_ID);
  engine.setByteTables(byteIds, Uint32Array.from({ length: 256 }, (_, b) => FALLBACK(b)));
  return engine;
}

/**
 * Asserts the engine's ids for `text` at every span setting; returns whether the smallest
 * spans had to merge the text again in one run (a wall did not hold).
 */
function check(engine: Engine, text: string, expected: number[], label: string): boolean {
  let retried = false;
  for (const [span, margin] of SPANS) {
    engine.setLongPieceSpans(span, margin);
    const before = engine.longPieceRetries;
    assertEquals(Array.from(engine.encodeView(text)), expected, `${label}, spans of ${span}`);
    if (span === 16) retried = engine.longPieceRetries > before;
  }
  return retried;
}

/** Checks every text; asserts that walls held in most of them (or the spans went unused). */
function checkAll(engine: Engine, all: string[], expect: (text: string) => number[], seed: number) {
  let retried = 0;
  for (const text of all) {
    if (check(engine, text, expect(text), `seed ${seed}, ${text.length} chars`)) retried++;
  }
  assert(retried < all.length / 4, `seed ${seed}: ${retried} of ${all.length} texts retried`);
}

Deno.test("merges by rules over bytes equal the reference merge", async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const vocab = randomVocabulary(seed, ["a", "b", "c", "d"], 60);
    addToken(vocab, "z"); // in no rule
    const engine = await engineFor(vocab, { rankByBytes: false, byteLevel: true });
    checkAll(engine, texts(seed, ["a", "b", "c", "d"], "z"), (text) => {
      const symbols = [...latin1(text)].map((b) => vocab.idOf.get(b));
      return referenceMerge(symbols, byRules(vocab)) as number[];
    }, seed);
    engine.free();
  }
});

Deno.test("merges by the rank of the joined bytes (tiktoken) equal the reference merge", async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const random = seededRandom(100 + seed);
    const vocab = emptyVocabulary();
    for (let b = 0; b < 256; b++) addToken(vocab, String.fromCharCode(b));
    // Strings over a, b and é (two bytes) get ids, which are their ranks, in random order.
    const pieces = new Set<string>();
    while (pieces.size < 80) {
      const n = 2 + Math.floor(random() * 5);
      pieces.add(Array.from({ length: n }, () => "abé"[Math.floor(random() * 3)]).join(""));
    }
    for (const piece of [...pieces].sort(() => random() - 0.5)) addToken(vocab, latin1(piece));
    // The byte table as tiktoken's: byte z without an id (seed 1), or with the id of another
    // byte (seed 2: symbol ids no longer spell their bytes, so pairs must not be told by ids).
    const byteIds = Uint32Array.from({ length: 256 }, (_, b) => b);
    if (seed === 1) byteIds[0x7a] = NO_ID;
    if (seed === 2) byteIds[0x7a] = 0x61;
    const engine = await engineFor(vocab, { rankByBytes: true, byteLevel: true, byteIds });
    checkAll(engine, texts(seed, ["a", "b", "é"], "z"), (text) => {
      const symbols = [...latin1(text)].map((b) => ({ id: byteIds[b.charCodeAt(0)], bytes: b }));
      return referenceMerge(symbols, (l, r) => {
        const id = vocab.idOf.get(l.bytes + r.bytes);
        return id === undefined ? undefined : [id, { id, bytes: l.bytes + r.bytes }];
      }).map((s) => s.id);
    }, seed);
    engine.free();
  }
});

Deno.test("tiktoken-style vocabularies over two letters equal the reference merge", async () => {
  // Many small vocabularies and short texts: walls land between letters that tie and overlap.
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(300 + seed);
    const vocab = emptyVocabulary();
    for (let b = 0; b < 256; b++) addToken(vocab, String.fromCharCode(b));
    const pieces = new Set<string>();
    const size = 10 + Math.floor(random() * 40);
    const draw = (n: number) => Array.from({ length: n }, () => "ab"[Math.floor(random() * 2)]);
    while (pieces.size < size) pieces.add(draw(2 + Math.floor(random() * 6)).join(""));
    for (const piece of [...pieces].sort(() => random() - 0.5)) addToken(vocab, piece);
    const byteIds = Uint32Array.from({ length: 256 }, (_, b) => b);
    const engine = await engineFor(vocab, { rankByBytes: true, byteLevel: true, byteIds });
    for (let t = 0; t < 30; t++) {
      const text = draw(30 + Math.floor(random() * 150)).join("");
      const symbols = [...text].map((bytes) => ({ id: bytes.charCodeAt(0), bytes }));
      const expected = referenceMerge(symbols, (l, r) => {
        const id = vocab.idOf.get(l.bytes + r.bytes);
        return id === undefined ? undefined : [id, { id, bytes: l.bytes + r.bytes }];
      }).map((s) => s.id);
      check(engine, text, expected, `seed ${seed}, text ${t}`);
    }
    engine.free();
  }
});

Deno.test("merges by rules over characters, with byte fallback, equal the reference merge", async () => {
  const chars = ["a", "é", "中", "😀"];
  for (let seed = 1; seed <= 4; seed++) {
    const vocab = randomVocabulary(200 + seed, chars.map(latin1), 50);
    const engine = await engineFor(vocab, { rankByBytes: false, byteLevel: false });
    // "x" is not in the vocabulary: it stays alone and falls back to its byte's id.
    checkAll(engine, texts(seed, [...chars, "x"], "x"), (text) => {
      const symbols = [...text].map((c) => vocab.idOf.get(latin1(c)));
      const merged = referenceMerge(symbols, byRules(vocab));
      return merged.map((id) => id ?? FALLBACK(0x78));
    }, seed);
    engine.free();
  }
});

Deno.test("a merge that decides merges far to its left: walls that do not hold are retried", async () => {
  // Byte i merges with byte i + 1 at rank 255 - i: in an ascending run every pair outranks the
  // one on its right, so the last pair merges first and decides, pair by pair, the whole run.
  const vocab = emptyVocabulary();
  for (let b = 0; b < 256; b++) addToken(vocab, String.fromCharCode(b));
  for (let b = 1; b < 127; b++) {
    const merged = addToken(vocab, String.fromCharCode(b, b + 1));
    vocab.merges.set(`${b},${b + 1}`, [255 - b, merged]);
  }
  const engine = await engineFor(vocab, { rankByBytes: false, byteLevel: true });
  const run = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => String.fromCharCode(from + i)).join("");
  for (const text of [run(1, 128), run(1, 100).repeat(30), (run(20, 61) + run(1, 128)).repeat(9)]) {
    const before = engine.longPieceRetries;
    const symbols = [...text].map((c) => vocab.idOf.get(c));
    check(engine, text, referenceMerge(symbols, byRules(vocab)) as number[], `${text.length}`);
    assert(engine.longPieceRetries > before, "no wall failed");
  }
  engine.free();
});
