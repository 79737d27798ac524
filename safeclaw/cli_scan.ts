/** `a3s safeclaw scan`: findings of a file, of stdin, or of JSONL records. */
import { importOnDemand, parseCommand } from "@a3s/common/cli";
import { UsageError, ValidationError } from "@a3s/common/errors";
import { createScanner, type Finding } from "@a3s/wasm/pii";
import { readInput } from "./_input.ts";
import { SCAN_HELP } from "./cli_help.ts";
import { scanWholeFile } from "./cli_scan_file.ts";

function parseRecord(line: string, lineNo: number): { id: unknown; text: string } {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    throw new ValidationError(`line ${lineNo}: not valid JSON`);
  }
  const text = (record as { text?: unknown } | null)?.text;
  if (typeof record !== "object" || record === null || typeof text !== "string") {
    throw new ValidationError(`line ${lineNo}: needs a string "text" field`);
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
    // Imported when asked for: the recognizers load libphonenumber.
    const { createClassifier } = await importOnDemand<typeof import("./classify.ts")>(
      "./classify.ts",
      import.meta.url,
    );
    const classifier = createClassifier();
    return { find: (t) => classifier.classify(t).findings, free: () => classifier.free() };
  }
  const scanner = createScanner();
  return { find: (t) => scanner.scan(t), free: () => scanner.free() };
}

async function scanJsonl(input: string, all: boolean): Promise<void> {
  const encoder = new TextEncoder();
  const lines = input.split("\n");
  let out: string[] = [];
  const flush = async () => {
    if (out.length) await Deno.stdout.write(encoder.encode(out.join("")));
    out = [];
  };
  // Every record is read before any result is printed: a bad line 2,001 printed 1,024 results
  // and then failed, leaving half an answer on stdout.
  const records: { id: unknown; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line !== "") records.push(parseRecord(line, i + 1));
  }
  const spansOf = await finder(all);
  for (const { id, text } of records) {
    out.push(JSON.stringify({ id, spans: spansOf.find(text) }) + "\n");
    if (out.length >= 1024) await flush();
  }
  await flush();
  spansOf.free();
}

/** Runs `a3s safeclaw scan`. */
export async function scanCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    file: { type: "string", short: "f" },
    jsonl: { type: "boolean" },
    all: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(SCAN_HELP);
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`scan takes no arguments, got '${positionals[0]}'; use --file`);
  }
  const file = values.file as string | undefined;
  const all = values.all === true;
  if (!values.jsonl && !all) {
    // A file or stdin, streamed in chunks: never held whole as a string.
    scanWholeFile(file === undefined || file === "-" ? Deno.stdin : file);
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
