/** `a3s safeclaw`: scan text for PII and secrets, and print the scanner's quality report. */
import { intFlag, parseCommand, runCommand, UsageError, ValidationError } from "@a3s/common";
import { readInput } from "./_input.ts";
import { injectionCommand } from "./cli_injection.ts";
import { auditCommand } from "./cli_audit.ts";
import { createClassifier } from "./classify.ts";
import { generateCorpus, type LabeledRecord } from "./quality/generator.ts";
import { fakerCorpus } from "./quality/faker_corpus.ts";
import { formatReport, scoreFindings } from "./quality/score.ts";

const HELP = `Usage: a3s safeclaw <command> [options]

Commands:
  scan [--file F] [--jsonl]    find PII and secrets in text from F (default stdin)
  quality [--records N] [--seed S] [--corpus builtin|faker|all]
                               score the classifier on labeled corpora: the built-in
                               generator and Faker in 22 locales (default: all)
  injection [--file F] [--jsonl] [--source S] [--report]
                               prompt-injection verdicts; --report scores the detector on
                               the evaluation sets beside a JS peer and published figures
  audit verify                 check the audit hash chain; exit 1 naming the first bad record
  audit ls [--severity S] [--min-severity S] [--session ID] [--kind K]
           [--since T] [--until T] [--limit N] [--format json|table]
  audit export [same filters]  every matching record as JSONL
                               (audit takes --home and --database-url like serve)

scan prints the findings of one text as a JSON array of {type, start, end, confidence};
offsets are UTF-16 code units. With --jsonl, every input line is a JSON record with a
"text" field, and every output line is {"id": <the record's id>, "spans": [...]}.
injection --jsonl writes {"id", "injection", "score", "categories"} per record, in order.`;

function parseRecord(line: string, lineNo: number): { id: unknown; text: string } {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    throw new ValidationError(`line ${lineNo}: not valid JSON`, `line ${lineNo}`);
  }
  const text = (record as { text?: unknown } | null)?.text;
  if (typeof record !== "object" || record === null || typeof text !== "string") {
    throw new ValidationError(`line ${lineNo}: needs a string "text" field`, `line ${lineNo}`);
  }
  return { id: (record as { id?: unknown }).id ?? null, text };
}

async function scanJsonl(input: string): Promise<void> {
  const classifier = createClassifier();
  const encoder = new TextEncoder();
  const lines = input.split("\n");
  let out: string[] = [];
  const flush = async () => {
    if (out.length) await Deno.stdout.write(encoder.encode(out.join("")));
    out = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const { id, text } = parseRecord(line, i + 1);
    const spans = classifier.classify(text).findings;
    out.push(JSON.stringify({ id, spans }) + "\n");
    if (out.length >= 1024) await flush();
  }
  await flush();
  classifier.free();
}

async function scanCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    file: { type: "string", short: "f" },
    jsonl: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`scan takes no arguments, got '${positionals[0]}'; use --file`);
  }
  const input = await readInput(values.file as string | undefined);
  if (values.jsonl) {
    await scanJsonl(input);
    return 0;
  }
  const classifier = createClassifier();
  console.log(JSON.stringify(classifier.classify(input).findings));
  classifier.free();
  return 0;
}

function qualityCommand(args: string[]): number {
  const { values, positionals } = parseCommand(args, {
    records: { type: "string" },
    seed: { type: "string" },
    corpus: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(HELP);
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

/**
 * Runs `a3s safeclaw <command>` and returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * await main(["--help"]);
 * ```
 */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const [command, ...rest] = args;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === "scan") return await scanCommand(rest);
    if (command === "quality") return qualityCommand(rest);
    if (command === "injection") return await injectionCommand(rest, HELP);
    if (command === "audit") return await auditCommand(rest, HELP);
    throw new UsageError(`unknown safeclaw command '${command}'; run 'a3s safeclaw --help'`);
  });
}
