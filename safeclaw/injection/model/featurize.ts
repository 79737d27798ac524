/**
 * Turns a JSONL corpus into the classifier's training input: one line per record with its label
 * and the feature ids of each window, computed by the same code inference runs.
 *
 *   deno run -A safeclaw/injection/model/featurize.ts IN.jsonl OUT.jsonl [--without-field-names] \
 *     [--words WORDS.txt]
 *
 * `--without-field-names` featurizes each text as `../layout.ts` lets the models read it (no
 * metadata field names), for a model meant to be read that way (`dev_eval.ts
 * --without-field-names`). `--words` adds each window's word ids for the word channel (the
 * vocabulary `word_vectors.ts` writes; `train.py --words`).
 */
import { parseArgs } from "node:util";
import { contentForModel } from "../layout.ts";
import { canonical } from "../normalize.ts";
import { featureWindows, parseVocabulary, wordWindows } from "./features.ts";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { "without-field-names": { type: "boolean" }, words: { type: "string" } },
  });
  const [input, output] = positionals;
  if (!input || !output || positionals.length !== 2) {
    console.error("usage: featurize.ts IN.jsonl OUT.jsonl [--without-field-names] [--words FILE]");
    Deno.exit(2);
  }
  const read = values["without-field-names"] ? contentForModel : (text: string) => text;
  const vocabulary = values.words ? parseVocabulary(await Deno.readTextFile(values.words)) : null;
  const lines = (await Deno.readTextFile(input)).split("\n").filter((l) => l.trim());
  const out = lines.map((line) => {
    const r = JSON.parse(line) as {
      id: string;
      label: 0 | 1;
      category: string;
      source?: string;
      text: string;
      weight?: number;
      layout?: string;
    };
    const text = canonical(read(r.text));
    return JSON.stringify({
      id: r.id,
      label: r.label,
      category: r.category,
      ...(r.source ? { source: r.source } : {}),
      weight: r.weight ?? 1,
      ...(r.layout ? { layout: r.layout } : {}),
      windows: featureWindows(text),
      ...(vocabulary ? { words: wordWindows(text, vocabulary) } : {}),
    });
  });
  await Deno.writeTextFile(output, out.join("\n") + "\n");
}

if (import.meta.main) await main();
