/** CLI helpers: `node:util` parseArgs with one-line usage errors and exit code 2. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

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
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals, strict: true, tokens: true });
  } catch (error) {
    const lines = (error as Error).message.split("\n");
    const message = lines[0].replace(/\. To specify a positional argument.*$/, "");
    // "--limit -1": the parser's one hint worth keeping is on its last line.
    const option = lines.find((line) => line.includes("use '--"))?.match(/'(--[^=']+)=-XYZ'/)?.[1];
    if (!option) throw new UsageError(message);
    const value = args[args.indexOf(option) + 1] ?? "-VALUE";
    throw new UsageError(`${message} Write a value that starts with '-' as ${option}=${value}`);
  }
  // The parser keeps the last of a repeated option: `--file a --file b` scanned only b.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice; give it once`);
    seen.add(token.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** Reads an integer flag, or throws a usage error naming it. */
export function intFlag(values: ParsedArgs["values"], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(
      Number.isInteger(n)
        ? `--${name} must be at most ${Number.MAX_SAFE_INTEGER}, got '${raw}'`
        : `--${name} must be an integer, got '${raw}'`,
    );
  }
  return n;
}

export { fileReadError, importOnDemand, readStdin, runCommand } from "./run_command.ts";

/** How list and inspect commands print: Docker's `--format json|table`. */
export type OutputFormat = "json" | "table";

/** The `--format` and `--json` options every list and inspect command takes. */
export const FORMAT_OPTIONS: CliOptions = {
  format: { type: "string" },
  json: { type: "boolean" },
};

/** The help lines of {@linkcode FORMAT_OPTIONS}, aligned like the rest of a command's help. */
export const FORMAT_HELP =
  "  --format FORMAT    json or table (default table)\n  --json             short for --format json";

/**
 * The output format the parsed flags ask for: `--json` is short for `--format json`; a bad
 * or contradicting value is a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { outputFormat, parseCommand, FORMAT_OPTIONS } from "@a3s/common";
 * const { values } = parseCommand(["--json"], FORMAT_OPTIONS);
 * console.log(outputFormat(values)); // "json"
 * ```
 */
export function outputFormat(values: ParsedArgs["values"]): OutputFormat {
  const format = values.format;
  if (format !== undefined && format !== "json" && format !== "table") {
    throw new UsageError(`--format must be json or table, got '${format}'`);
  }
  if (values.json === true) {
    if (format === "table") throw new UsageError("--json contradicts --format table");
    return "json";
  }
  return format ?? "table";
}

/**
 * Aligns `rows` under `header` in columns two spaces apart; `empty` is printed instead when
 * there are no rows.
 *
 * @example
 * ```ts
 * import { renderTable } from "@a3s/common";
 * console.log(renderTable(["NAME", "SIZE"], [["a", "1"], ["bb", "22"]]));
 * // NAME  SIZE
 * // a     1
 * // bb    22
 * ```
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  empty?: string,
): string {
  if (!rows.length && empty !== undefined) return empty;
  const lines = [header, ...rows].map((row) => row.map(printableCell));
  const widths = header.map(() => 0);
  for (const line of lines) {
    line.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell)));
  }
  return lines.map((line) =>
    line.map((cell, i) => cell + " ".repeat(widths[i] - displayWidth(cell))).join("  ").trimEnd()
  ).join("\n");
}

/**
 * Columns a terminal gives `text`: two for a wide character (CJK, Hangul, fullwidth forms,
 * most emoji), none for a combining mark, one otherwise. Padding by UTF-16 length pushed a row
 * with `张三` two columns to the right per character.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\u200d|[\ufe00-\ufe0f]/u.test(char)) continue;
    width += isWide(code) ? 2 : 1;
  }
  return width;
}

function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0x303e) ||
    (code >= 0x3041 && code <= 0x33ff) || (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) || (code >= 0xa000 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) || (code >= 0x20000 && code <= 0x3fffd);
}

/**
 * Control characters (C0, DEL, C1) and bidirectional overrides, which a terminal acts on: a
 * value such as a session name from a request could clear the screen, retitle the window, add a
 * forged row with a newline or reorder what is shown.
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character a terminal would act on written as an escape (`\n`,
 * `\t`, `\x1b`, `\u202e`), so that a table cell shows what the value holds and nothing more.
 *
 * @example
 * ```ts
 * import { printableCell } from "@a3s/common";
 * console.log(printableCell("a\x1b[2Jb\nc")); // a\x1b[2Jb\nc, as typed here
 * ```
 */
export function printableCell(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Prints `value` as JSON, or the table `table()` renders. */
export function printFormatted(format: OutputFormat, value: unknown, table: () => string): void {
  console.log(format === "json" ? JSON.stringify(value, null, 2) : table());
}
