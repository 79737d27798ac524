/** `a3s safeclaw quality`: precision, recall and F1 per type on the labeled corpora. */
import { intFlag, parseCommand, UsageError } from "@a3s/common";
import { createClassifier } from "./classify.ts";
import { QUALITY_HELP } from "./cli_help.ts";
import { generateCorpus, type LabeledRecord } from "./quality/generator.ts";
import { fakerCorpus } from "./quality/faker_corpus.ts";
import { formatReport, scoreFindings } from "./quality/score.ts";

/** Runs `a3s safeclaw quality`. */
export function qualityCommand(args: string[]): number {
  const { values, positionals } = parseCommand(args, {
    records: { type: "string" },
    seed: { type: "string" },
    corpus: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(QUALITY_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`quality takes no arguments`);
  const count = intFlag(values, "records") ?? 5000;
  if (count < 1) throw new UsageError(`--records must be at least 1, got ${count}`);
  const corpus = (values.corpus as string | undefined) ?? "all";
  if (!["builtin", "faker", "all"].includes(corpus)) {
    throw new UsageError(`--corpus must be builtin, faker or all, got '${corpus}'`);
  }
  const seed = intFlag(values, "seed") ?? 20240601;
  const corpora: [string, LabeledRecord[]][] = [];
  if (corpus !== "faker") corpora.push(["builtin generator", generateCorpus(count, seed)]);
  if (corpus !== "builtin") corpora.push(["Faker, 22 locales", fakerCorpus(count, seed)]);
  const classifier = createClassifier();
  const reports = corpora.map(([name, records]) => {
    const findings = classifier.classifyMany(records.map((r) => r.text)).map((c) => c.findings);
    return `corpus: ${name}\n${formatReport(scoreFindings(records, findings))}`;
  });
  classifier.free();
  console.log(reports.join("\n\n"));
  return 0;
}
