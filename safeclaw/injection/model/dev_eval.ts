/**
 * Scores a candidate classifier, with the rules and the shipped decision rule, on a labeled
 * JSONL split that training did not see (the validation split `build_corpus.ts` writes, or the
 * hand-written development sets). This is how a new model and a new decision rule are chosen:
 * never on the public evaluation set.
 *
 *   deno run -A safeclaw/injection/model/dev_eval.ts [--model DIR] [--short DIR | --no-short] \
 *     FILE.jsonl [--misses] [--scores OUT] [--without-field-names]
 *
 * `--model DIR` holds `classifier.onnx` and `classifier.json`, `--short DIR`
 * `short_classifier.onnx` and `short_classifier.json` (default: the shipped models);
 * `--no-short` leaves short user text to the rules, as before the short model. `--scores`
 * writes one line per record with the rule verdict and the raw model score, for studying a
 * decision rule offline. `--without-field-names` lets the models read each text without its
 * metadata field names (`../layout.ts`; validated, not shipped: see `MODEL_CARD.md`).
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { openInjectionClassifier } from "../classifier.ts";
import { detectInjection } from "../detector.ts";
import { evaluate, formatInjectionReport, parseEvalSet } from "../evaluate.ts";
import { judgeMany, wordsRead } from "../judge.ts";
import { contentForModel } from "../layout.ts";
import { views } from "../normalize.ts";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      short: { type: "string" },
      "no-short": { type: "boolean" },
      misses: { type: "boolean" },
      scores: { type: "string" },
      "without-field-names": { type: "boolean" },
    },
  });
  if (positionals.length !== 1) {
    console.error(
      "usage: dev_eval.ts [--model DIR] [--short DIR | --no-short] FILE.jsonl [--misses] [--scores OUT] [--without-field-names]",
    );
    Deno.exit(2);
  }
  const dir = values.model
    ? new URL(`file://${resolve(values.model)}/`)
    : new URL("./", import.meta.url);
  const classifier = await openInjectionClassifier(
    new URL("classifier.onnx", dir),
    new URL("classifier.json", dir),
  );
  const shortDir = values.short
    ? new URL(`file://${resolve(values.short)}/`)
    : new URL("./", import.meta.url);
  const short = values["no-short"] ? null : await openInjectionClassifier(
    new URL("short_classifier.onnx", shortDir),
    new URL("short_classifier.json", shortDir),
  );
  const records = parseEvalSet(await Deno.readTextFile(positionals[0]));
  // `--without-field-names`: the models read the content without metadata field names
  // (`../layout.ts`), the rules the text as it came.
  const read = values["without-field-names"] ? contentForModel : (text: string) => text;
  const started = performance.now();
  const verdicts = await judgeMany(
    records.map((r) => ({ text: r.text, options: { source: r.source } })),
    32,
    { main: classifier, short },
    read,
  );
  const seconds = (performance.now() - started) / 1000;
  const byId = new Map(records.map((r, i) => [r, verdicts[i]]));
  const report = evaluate(records, (r) => byId.get(r)!);
  const lines = report.misses.map((m) => `  ${m.label ? "missed" : "flagged"} ${m.id} ${m.score}`);
  console.log(formatInjectionReport(report, `candidate ${dir.pathname}`));
  console.log(`verdicts per second (batched): ${(records.length / seconds).toFixed(0)}`);
  if (values.misses) console.log(lines.join("\n"));
  if (values.scores) {
    // The raw scores of what the models read.
    const modelInput = records.map((r) => views(read(r.text)));
    const scores = await classifier.scoreMany(modelInput);
    const shortScores = short ? await short.scoreMany(modelInput) : [];
    const out = records.map((r, i) => {
      const rules = detectInjection(r.text, { source: r.source });
      return JSON.stringify({
        id: r.id,
        category: r.category,
        label: r.label,
        source: r.source,
        words: r.text.match(/[\p{L}\p{N}]+/gu)?.length ?? 0,
        wordsRead: wordsRead(r.text),
        rules: rules.injection,
        rulesScore: rules.score,
        model: scores[i],
        short: shortScores[i] ?? null,
        judged: verdicts[i].injection,
      });
    });
    await Deno.writeTextFile(values.scores, out.join("\n") + "\n");
  }
}

if (import.meta.main) await main();
