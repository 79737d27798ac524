/**
 * `a3s tokens count|encode|decode --tokenizer <encoding | tokenizer.json> [--file F]
 * [--special all|none]`: reads the file, or stdin when no file is given.
 */
import { parseCommand, readStdin, runCommand, UsageError } from "@a3s/common";
import { openTokenizer, type SpecialMode } from "./tokenizer/mod.ts";

const USAGE = "usage: a3s tokens count|encode|decode --tokenizer <cl100k_base|o200k_base|" +
  "p50k_base|r50k_base|path to tokenizer.json> [--file F] [--special all|none]";

const ACTIONS = ["count", "encode", "decode"] as const;
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

/** Runs the `tokens` command; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      tokenizer: { type: "string", short: "t" },
      file: { type: "string", short: "f" },
      special: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const action = positionals[0] as Action | undefined;
    if (!action || !ACTIONS.includes(action) || positionals.length > 1) {
      throw new UsageError(`expected one of count, encode, decode; ${USAGE}`);
    }
    const name = values.tokenizer;
    if (typeof name !== "string" || name === "") {
      throw new UsageError("--tokenizer is required (an encoding name or a tokenizer.json path)");
    }
    const special = (values.special ?? "none") as string;
    if (special !== "all" && special !== "none") {
      throw new UsageError(`--special must be 'all' or 'none', got '${special}'`);
    }
    const file = values.file;
    let input: string;
    if (typeof file === "string") {
      try {
        input = await Deno.readTextFile(file);
      } catch (error) {
        throw new UsageError(`cannot read --file ${file}: ${(error as Error).message}`);
      }
    } else {
      input = await readStdin();
    }
    const tokenizer = await openTokenizer(name);
    try {
      const mode = special as SpecialMode;
      if (action === "count") console.log(tokenizer.count(input, { special: mode }));
      else if (action === "encode") {
        console.log(JSON.stringify(Array.from(tokenizer.encode(input, { special: mode }))));
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
