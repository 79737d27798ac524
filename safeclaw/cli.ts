/**
 * `a3s safeclaw`: scan, classify, injection verdicts, the audit log and the quality reports.
 * Only `scan` is loaded up front: the other commands, the recognizers (libphonenumber) and the
 * corpora (Faker) are imported when used, so that `scan --file` starts fast.
 */
import { importOnDemand, parseCommand, runCommand } from "@a3s/common/cli";
import { UsageError, ValidationError } from "@a3s/common/errors";
import { readInput } from "./_input.ts";
import { createScanner, type Finding } from "@a3s/wasm/pii";
import { scanFileJson } from "./scan_file.ts";

/** One of this folder's modules, imported when used so that `scan --file` starts fast. */
function lazy<T>(path: string): Promise<T> {
  return importOnDemand<T>(path, import.meta.url);
}

const HELP = `Usage: a3s safeclaw <command> [options]

Commands:
  scan [--file F] [--jsonl] [--all]
                               find PII and secrets in text from F (default stdin) with the
                               WebAssembly scanner, streaming the file's bytes; --all adds the
                               recognizers (national IDs, wallets, MACs, URLs, dates of birth),
                               libphonenumber and context words
  classify [--file F] [--policy P] [--format json|table]
                               privacy level, action and findings of one text under a policy
  quality [--records N] [--seed S] [--corpus builtin|faker|all]
                               score the classifier on labeled corpora: the built-in
                               generator and Faker in 22 locales (default: all)
  injection [--file F] [--jsonl] [--source S] [--report]
                               prompt-injection verdicts (rules and the learned classifier);
                               --report scores them on the public and hand-written evaluation
                               sets beside a JS peer and published figures
  audit verify                 check the audit hash chain; exit 1 naming the first bad record
  audit ls [--severity S] [--min-severity S] [--session ID] [--kind K]
           [--since T] [--until T] [--limit N] [--format json|table]
  audit export [same filters]  every matching record as JSONL
  audit prune --until T        delete records older than T behind a signed checkpoint
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

/** Finds spans in one text: the scanner alone, or the whole classifier with `--all`. */
interface Finder {
  find(text: string): readonly Pick<Finding, "start" | "end" | "confidence">[];
  free(): void;
}

async function finder(all: boolean): Promise<Finder> {
  if (all) {
    const { createClassifier } = await lazy<typeof import("./classify.ts")>("./classify.ts");
    const classifier = createClassifier();
    return { find: (t) => classifier.classify(t).findings, free: () => classifier.free() };
  }
  const scanner = createScanner();
  return { find: (t) => scanner.scan(t), free: () => scanner.free() };
}

async function scanJsonl(input: string, all: boolean): Promise<void> {
  const spansOf = await finder(all);
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
    out.push(JSON.stringify({ id, spans: spansOf.find(text) }) + "\n");
    if (out.length >= 1024) await flush();
  }
  await flush();
  spansOf.free();
}

/** Writes all of `bytes` to stdout: one write may take only part of them. */
function writeOut(bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/**
 * Streams a file through the scanner and prints one JSON array of its findings. The scanner
 * writes the JSON itself and stdout is written synchronously, the file's chunks being read so.
 */
function scanWholeFile(path: string): void {
  const scanner = createScanner();
  const encoder = new TextEncoder();
  writeOut(encoder.encode("["));
  try {
    let first = true;
    for (const json of scanFileJson(path, scanner)) {
      if (!first) writeOut(encoder.encode(","));
      writeOut(json);
      first = false;
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new UsageError(`no such file '${path}'`);
    throw error;
  } finally {
    scanner.free();
  }
  writeOut(encoder.encode("]\n"));
}

async function scanCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    file: { type: "string", short: "f" },
    jsonl: { type: "boolean" },
    all: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`scan takes no arguments, got '${positionals[0]}'; use --file`);
  }
  const file = values.file as string | undefined;
  const all = values.all === true;
  if (file !== undefined && !values.jsonl && !all) {
    scanWholeFile(file);
    return 0;
  }
  const input = await readInput(file);
  if (values.jsonl) {
    await scanJsonl(input, all);
    return 0;
  }
  const spansOf = await finder(all);
  console.log(JSON.stringify(spansOf.find(input)));
  spansOf.free();
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
    if (command === "quality") {
      return (await lazy<typeof import("./cli_quality.ts")>("./cli_quality.ts"))
        .qualityCommand(rest, HELP);
    }
    if (command === "injection") {
      return await (await lazy<typeof import("./cli_injection.ts")>("./cli_injection.ts"))
        .injectionCommand(rest, HELP);
    }
    if (command === "classify") {
      return await (await lazy<typeof import("./cli_classify.ts")>("./cli_classify.ts"))
        .classifyCommand(rest, HELP);
    }
    if (command === "audit") {
      return await (await lazy<typeof import("./cli_audit.ts")>("./cli_audit.ts"))
        .auditCommand(rest, HELP);
    }
    throw new UsageError(`unknown safeclaw command '${command}'; run 'a3s safeclaw --help'`);
  });
}
