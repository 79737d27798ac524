/** CLI helpers: `node:util` parseArgs with one-line usage errors and exit code 2. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { A3sError, UsageError } from "./errors.ts";

/** Option definitions as `parseArgs` takes them. */
export type CliOptions = NonNullable<ParseArgsConfig["options"]>;

/** Parsed values and positionals. */
export interface ParsedArgs {
  /** Option values by name. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** Arguments that are not options, in order. */
  positionals: string[];
}

/**
 * Parses `args` strictly. Unknown flags and missing values become a {@linkcode UsageError}
 * whose message is one line that says what to fix.
 *
 * @example
 * ```ts
 * import { parseCommand } from "@a3s/common";
 * const { values } = parseCommand(["--port", "8080"], { port: { type: "string" } });
 * ```
 */
export function parseCommand(
  args: string[],
  options: CliOptions,
  allowPositionals = true,
): ParsedArgs {
  try {
    const parsed = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ""));
  }
}

/** Reads an integer flag, or throws a usage error naming it. */
export function intFlag(values: ParsedArgs["values"], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
  return n;
}

/** Reads all of stdin as text. */
export async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/**
 * Runs a command body and maps failures to exit codes: usage and input errors print one line
 * and return 2; anything else prints the error and returns 1.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<number> {
  try {
    return (await body()) ?? 0;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof A3sError && error.status < 500)) {
      const where = error instanceof A3sError && error.field ? ` (${error.field})` : "";
      console.error(`error: ${error.message}${where}`);
      return 2;
    }
    console.error(`error: ${(error as Error)?.stack ?? error}`);
    return 1;
  }
}
