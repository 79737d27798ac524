/**
 * `a3s tokens count|encode|decode|inspect --tokenizer <encoding | tokenizer.json> [--file F]
 * [--special all|none] [--no-special-tokens]`: reads the file, or stdin when no file is given.
 */
import {
  FORMAT_HELP,
  FORMAT_OPTIONS,
  outputFormat,
  parseCommand,
  printFormatted,
  readStdin,
  renderTable,
  runCommand,
  UsageError,
} from "@a3s/common";
import {
  ENCODING_NAMES,
  openTokenizer,
  type SpecialMode,
  type Tokenizer,
} from "./tokenizer/mod.ts";

const USAGE = `Usage: a3s tokens count|encode|decode|inspect --tokenizer TOKENIZER [options]

Commands:
  count              how many ids encode gives for the input
  encode             the input's token ids, as a JSON array
  decode             a JSON array of ids (from the input) back to text
  inspect            the tokenizer: vocabulary size, special tokens, what encode adds

Options:
  -t, --tokenizer T       ${ENCODING_NAMES.join(", ")}, or a tokenizer.json path (or its dir)
  -f, --file F            read the input from F instead of stdin
  --special all|none      text that spells a special token becomes it (all) or stays text
                          (none, the default)
  --no-special-tokens     leave out the post-processor's specials (such as Gemma's <bos>);
                          --add-special-tokens=false says the same
${FORMAT_HELP} (inspect)
  -h, --help              show this help`;

const ACTIONS = ["count", "encode", "decode", "inspect"] as const;
type Action = typeof ACTIONS[number];

function parseIds(text: string): number[] {
  const trimmed = text.trim();
  let values: unknown;
  try {
    values = trimmed.startsWith("[") ? JSON.parse(trimmed) : trimmed.split(/[\s,]+/).filter(Boolean)
      .map(Number);
  } catch {
    throw new UsageError("decode expects a JSON array of token ids");
  }
  if (!Array.isArray(values) || !values.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new UsageError("decode expects a JSON array of non-negative integer token ids");
  }
  return values as number[];
}

/** Whether encode and count apply the post-processor's specials (default: yes). */
function addSpecialTokens(values: Record<string, unknown>): boolean {
  const negated = values["no-special-tokens"] === true;
  const given = values["add-special-tokens"];
  if (given === undefined) return !negated;
  if (given !== "true" && given !== "false") {
    throw new UsageError(`--add-special-tokens must be true or false, got '${given}'`);
  }
  if (negated && given === "true") {
    throw new UsageError("--no-special-tokens contradicts --add-special-tokens=true");
  }
  return given === "true";
}

/** What `inspect` reports about a tokenizer. */
interface TokenizerReport {
  tokenizer: string;
  vocabSize: number;
  /** Special token text to id. */
  specialTokens: Record<string, number>;
  /** The tokens the post-processor adds to every encoding (such as `<bos>`). */
  addedByPostProcessor: string[];
  hasChatTemplate: boolean;
}

function inspect(name: string, tokenizer: Tokenizer): TokenizerReport {
  // what an empty text encodes to is exactly what the post-processor adds around any text
  const added = Array.from(tokenizer.encode("", { addSpecialTokens: true }));
  return {
    tokenizer: name,
    vocabSize: tokenizer.vocabSize,
    specialTokens: Object.fromEntries(tokenizer.specialTokens),
    addedByPostProcessor: added.map((id) => tokenizer.idToToken(id) ?? String(id)),
    hasChatTemplate: tokenizer.chatTemplate !== undefined,
  };
}

function reportTable(report: TokenizerReport): string {
  const specials = Object.entries(report.specialTokens);
  const fields: [string, string][] = [
    ["TOKENIZER", report.tokenizer],
    ["VOCAB SIZE", String(report.vocabSize)],
    ["SPECIAL TOKENS", String(specials.length)],
    ["ADDED BY ENCODE", report.addedByPostProcessor.join(" ") || "-"],
    ["CHAT TEMPLATE", report.hasChatTemplate ? "yes" : "no"],
  ];
  const summary = renderTable(["FIELD", "VALUE"], fields);
  if (!specials.length) return summary;
  return `${summary}\n\n${
    renderTable(["ID", "SPECIAL TOKEN"], specials.map(([t, id]) => [String(id), t]))
  }`;
}

async function readInput(file: unknown): Promise<string> {
  if (typeof file !== "string") return await readStdin();
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(`cannot read --file ${file}: ${(error as Error).message}`);
  }
}

/** Runs the `tokens` command; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      tokenizer: { type: "string", short: "t" },
      file: { type: "string", short: "f" },
      special: { type: "string" },
      "no-special-tokens": { type: "boolean" },
      "add-special-tokens": { type: "string" },
      ...FORMAT_OPTIONS,
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const action = positionals[0] as Action | undefined;
    if (!action || !ACTIONS.includes(action) || positionals.length > 1) {
      throw new UsageError(
        "expected one of count, encode, decode, inspect and --tokenizer; run with --help",
      );
    }
    const name = values.tokenizer;
    if (typeof name !== "string" || name === "") {
      throw new UsageError("--tokenizer is required (an encoding name or a tokenizer.json path)");
    }
    const special = (values.special ?? "none") as string;
    if (special !== "all" && special !== "none") {
      throw new UsageError(`--special must be 'all' or 'none', got '${special}'`);
    }
    const withSpecials = addSpecialTokens(values);
    const format = outputFormat(values);
    const input = action === "inspect" ? "" : await readInput(values.file);
    const tokenizer = await openTokenizer(name);
    try {
      const options = { special: special as SpecialMode, addSpecialTokens: withSpecials };
      if (action === "inspect") {
        const report = inspect(name, tokenizer);
        printFormatted(format, report, () => reportTable(report));
      } else if (action === "count") {
        // count is how many ids encode prints: the specials included unless left out
        const count = withSpecials
          ? tokenizer.encode(input, options).length
          : tokenizer.count(input, options);
        console.log(count);
      } else if (action === "encode") {
        console.log(JSON.stringify(Array.from(tokenizer.encode(input, options))));
      } else {
        const ids = parseIds(input);
        const bad = ids.find((id) => id >= tokenizer.vocabSize);
        if (bad !== undefined) {
          throw new UsageError(
            `token id ${bad} is outside the vocabulary (size ${tokenizer.vocabSize})`,
          );
        }
        await Deno.stdout.write(new TextEncoder().encode(tokenizer.decode(ids)));
      }
    } finally {
      tokenizer.free();
    }
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
