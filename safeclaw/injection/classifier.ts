/**
 * The learned layer of injection detection: a small hashed-feature classifier (see
 * `model/MODEL_CARD.md`) run with onnxruntime-node. It reads the same normalized views the
 * rules read, so a payload hidden in base64 or an HTML comment is scored decoded; a long text
 * is read in overlapping windows and its most suspicious window decides.
 */
import * as ort from "onnxruntime-node";
import { pathToFileURL } from "node:url";
import { featureWindows, parseVocabulary, wordWindows } from "./model/features.ts";
import { diacriticsReadBetter, rot13ReadsBetter, type TextView } from "./normalize.ts";

/** The shipped model's manifest (`model/classifier.json`). */
export interface ClassifierManifest {
  /** Score at or above which the model alone calls a text an injection. */
  threshold: number;
  /** Hash buckets of the feature table (see `model/features.ts`). */
  buckets: number;
  /**
   * The word channel's vocabulary file, beside the manifest, when the model has one (`train.py
   * --words`): one word a line, the first line is id 1.
   */
  words?: string;
}

/** A loaded classifier. */
export interface InjectionClassifier {
  /** The highest window score over all views, in [0, 1]. */
  score(views: readonly TextView[]): Promise<number>;
  /** Scores many texts' views in one run; returns one score per entry. */
  scoreMany(viewsPerText: readonly (readonly TextView[])[]): Promise<number[]>;
  /** The shipped model's manifest. */
  readonly manifest: ClassifierManifest;
}

const MODEL_URL = new URL("./model/classifier.onnx", import.meta.url);
const MANIFEST_URL = new URL("./model/classifier.json", import.meta.url);
const SHORT_MODEL_URL = new URL("./model/short_classifier.onnx", import.meta.url);
const SHORT_MANIFEST_URL = new URL("./model/short_classifier.json", import.meta.url);

/**
 * The views the model reads. The rot13 view is read only when it reads as words better than the
 * plain text does ("rot13: Vtaber nyy ..."); for ordinary text it is letter soup.
 *
 * @example
 * ```ts
 * import { modelViews } from "./classifier.ts";
 * import { views } from "./normalize.ts";
 * console.log(modelViews(views("hello there")).map((v) => v.source)); // [ "plain" ]
 * ```
 */
export function modelViews(textViews: readonly TextView[]): TextView[] {
  const rot13 = rot13ReadsBetter(textViews);
  const unmarked = diacriticsReadBetter(textViews);
  const seen = new Set<string>();
  return textViews.filter((view) => {
    if ((view.source === "rot13" && !rot13) || seen.has(view.text)) return false;
    if (view.source === "diacritics" && !unmarked) return false;
    seen.add(view.text);
    return true;
  });
}

let shared: Promise<InjectionClassifier> | undefined;

/**
 * Loads the shipped classifier once per process.
 *
 * @example
 * ```ts
 * import { loadInjectionClassifier } from "./classifier.ts";
 * import { views } from "./normalize.ts";
 * const classifier = await loadInjectionClassifier();
 * console.log(await classifier.score(views("What is the capital of France?")) < 0.5); // true
 * ```
 */
export function loadInjectionClassifier(): Promise<InjectionClassifier> {
  shared ??= openInjectionClassifier(MODEL_URL, MANIFEST_URL);
  return shared;
}

let sharedShort: Promise<InjectionClassifier> | undefined;

/**
 * Loads the shipped short-text classifier once per process: the same kind of model, trained on
 * short text alone (see `model/MODEL_CARD.md`), which speaks with the main one on what the user
 * types in fewer than `MIN_WORDS_ALONE` words (`judge.ts`).
 *
 * @example
 * ```ts
 * import { loadShortInjectionClassifier } from "./classifier.ts";
 * import { views } from "./normalize.ts";
 * const short = await loadShortInjectionClassifier();
 * console.log(await short.score(views("what's the weather like tomorrow")) < 0.5); // true
 * ```
 */
export function loadShortInjectionClassifier(): Promise<InjectionClassifier> {
  sharedShort ??= openInjectionClassifier(SHORT_MODEL_URL, SHORT_MANIFEST_URL);
  return sharedShort;
}

/**
 * Opens a classifier from its files: the shipped one through
 * {@linkcode loadInjectionClassifier}, a candidate one (`model/dev_eval.ts` compares a freshly
 * trained model with the shipped one) from wherever training wrote it.
 *
 * @example
 * ```ts
 * import { openInjectionClassifier } from "./classifier.ts";
 * import { views } from "./normalize.ts";
 * const classifier = await openInjectionClassifier(
 *   new URL("./model/classifier.onnx", import.meta.url),
 *   new URL("./model/classifier.json", import.meta.url),
 * );
 * console.log(await classifier.score(views("hello")) < 1); // true
 * ```
 */
export async function openInjectionClassifier(
  model: URL | string,
  manifestFile: URL | string,
): Promise<InjectionClassifier> {
  const manifest = JSON.parse(await Deno.readTextFile(manifestFile)) as ClassifierManifest;
  const vocabulary = manifest.words
    ? parseVocabulary(
      await Deno.readTextFile(
        new URL(
          manifest.words,
          manifestFile instanceof URL ? manifestFile : pathToFileURL(manifestFile),
        ),
      ),
    )
    : null;
  const session = await ort.InferenceSession.create(await Deno.readFile(model), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
  const scoreMany = async (viewsPerText: readonly (readonly TextView[])[]): Promise<number[]> => {
    const windows: number[][] = [];
    const words: number[][] = [];
    const owner: number[] = [];
    viewsPerText.forEach((textViews, i) => {
      for (const view of modelViews(textViews)) {
        const featured = featureWindows(view.text);
        // Appended one by one: a spread of a long text's windows would pass each as an argument.
        for (const window of featured) windows.push(window);
        if (vocabulary) {
          for (const window of wordWindows(view.text, vocabulary)) words.push(window);
        }
        for (let k = 0; k < featured.length; k++) owner.push(i);
      }
    });
    const scores = new Array<number>(viewsPerText.length).fill(0);
    for (const rows of runsOf(windows, vocabulary ? words : null)) {
      const pick = (all: number[][]) => rows.map((row) => all[row]);
      const out = await session.run({
        ...paddedTensors(pick(windows), "ids", "mask"),
        ...(vocabulary ? paddedTensors(pick(words), "words", "word_mask") : {}),
      });
      const data = out.score.data as Float32Array;
      rows.forEach((row, k) => {
        // An empty window (no words at all) carries no evidence.
        if (windows[row].length) scores[owner[row]] = Math.max(scores[owner[row]], data[k]);
      });
    }
    return scores;
  };
  return {
    manifest,
    scoreMany,
    score: async (textViews) => (await scoreMany([textViews]))[0],
  };
}

/**
 * At most this many padded positions (rows times the longest row) go into one run of the model,
 * so that memory stays bounded however many texts a caller scores at once: padded to the
 * longest window, tens of thousands of texts in one tensor took over 20 GB.
 */
export const POSITIONS_PER_RUN = 131_072;

/**
 * Splits the windows into runs of the model: sorted by length, so that a run pads short windows
 * to a length near their own, and cut where the padded size would pass
 * {@linkcode POSITIONS_PER_RUN}. Each run lists the windows' indices.
 */
export function runsOf(
  windows: readonly number[][],
  words: readonly number[][] | null,
): number[][] {
  const lengths = windows.map((w, row) => Math.max(1, w.length, words ? words[row].length : 0));
  const order = windows.map((_, row) => row).sort((a, b) => lengths[a] - lengths[b]);
  const runs: number[][] = [];
  let run: number[] = [];
  for (const row of order) {
    // Sorted by length, so the window being added is the run's longest.
    if (run.length && (run.length + 1) * lengths[row] > POSITIONS_PER_RUN) {
      runs.push(run);
      run = [];
    }
    run.push(row);
  }
  if (run.length) runs.push(run);
  return runs;
}

/** One row per window, padded with id 0 (masked out) to the longest window. */
function paddedTensors(
  windows: readonly number[][],
  idsName: string,
  maskName: string,
): Record<string, ort.Tensor> {
  const length = Math.max(1, ...windows.map((w) => w.length));
  const ids = new BigInt64Array(windows.length * length);
  const mask = new Float32Array(windows.length * length);
  windows.forEach((w, row) => {
    for (let j = 0; j < w.length; j++) {
      ids[row * length + j] = BigInt(w[j]);
      mask[row * length + j] = 1;
    }
  });
  return {
    [idsName]: new ort.Tensor("int64", ids, [windows.length, length]),
    [maskName]: new ort.Tensor("float32", mask, [windows.length, length]),
  };
}
