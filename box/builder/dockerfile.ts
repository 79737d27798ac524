/**
 * The Dockerfile parser: logical lines (backslash continuations, comments), instruction
 * keywords, `--flag=value` options, JSON (exec) and shell forms. Variable substitution is left
 * to the builder, which knows the ARG and ENV values in scope at each step. Errors name the line
 * they were found on, so `box build` can report them in one line.
 */
import { ValidationError } from "@a3s/common";

/** Instructions `box build` executes. */
export const INSTRUCTIONS = [
  "FROM",
  "RUN",
  "CMD",
  "ENTRYPOINT",
  "COPY",
  "ADD",
  "ENV",
  "ARG",
  "WORKDIR",
  "USER",
  "EXPOSE",
  "LABEL",
  "VOLUME",
  "STOPSIGNAL",
  "SHELL",
  "MAINTAINER",
  "HEALTHCHECK",
  "ONBUILD",
] as const;

/** Instructions an `ONBUILD` may not wrap (Docker's rule: no chains, no new stages). */
const NOT_ON_BUILD = new Set(["ONBUILD", "FROM", "MAINTAINER"]);

/** The Dockerfile instructions box builds (`FROM`, `RUN`, `COPY`...), upper-case. */
export type InstructionName = typeof INSTRUCTIONS[number];

/** One parsed instruction. */
export interface Instruction {
  /** The instruction's keyword, upper-cased. */
  name: InstructionName;
  /** The line it starts on, 1-based. */
  line: number;
  /** `--key=value` options before the arguments (`--from`, `--chown`, `--platform`). */
  flags: Record<string, string>;
  /** The arguments as written, after the flags (continuations joined). */
  raw: string;
  /** The exec form's array, when the arguments are a JSON string array. */
  json?: string[];
}

/** A parse error that names the Dockerfile line. */
export function dockerfileError(line: number, message: string): ValidationError {
  return new ValidationError(`Dockerfile line ${line}: ${message}`, "dockerfile");
}

function parseJsonForm(raw: string): string[] | undefined {
  if (!raw.startsWith("[")) return undefined;
  try {
    const value = JSON.parse(raw);
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  } catch {
    // Not JSON: Docker then treats the text as shell form, and so does box.
  }
  return undefined;
}

const FLAG = /^--([a-z-]+)=(\S*)\s*/;

/**
 * Parses one logical instruction (`RUN echo hi`) found on `line`: the keyword, `--flag=value`
 * options and arguments. Also how `ONBUILD` triggers stored in an image are read back.
 */
export function parseInstruction(text: string, line: number): Instruction | undefined {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  if (!match) return undefined;
  const keyword = match[1].toUpperCase();
  if (!(INSTRUCTIONS as readonly string[]).includes(keyword)) {
    throw dockerfileError(line, `unknown instruction '${match[1]}'`);
  }
  let rest = match[2].trim();
  const flags: Record<string, string> = {};
  // ONBUILD's arguments are a whole instruction; its flags belong to that one.
  if (keyword !== "ONBUILD") {
    for (let flag = FLAG.exec(rest); flag; flag = FLAG.exec(rest)) {
      flags[flag[1]] = flag[2];
      rest = rest.slice(flag[0].length);
    }
  }
  const name = keyword as InstructionName;
  if (rest === "" && name !== "RUN") {
    throw dockerfileError(line, `${name} needs arguments`);
  }
  if (name === "ONBUILD") {
    const inner = /^\S+/.exec(rest)![0].toUpperCase();
    if (NOT_ON_BUILD.has(inner)) {
      throw dockerfileError(line, `ONBUILD cannot wrap ${inner}`);
    }
    parseInstruction(rest, line);
  }
  return { name, line, flags, raw: rest, json: parseJsonForm(rest) };
}

/**
 * Parses a Dockerfile into instructions.
 *
 * @example
 * ```ts
 * import { parseDockerfile } from "@a3s/box";
 * const steps = parseDockerfile("FROM busybox\nRUN echo hi\n");
 * console.log(steps.map((s) => s.name)); // ["FROM", "RUN"]
 * ```
 */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const instructions: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  const finish = () => {
    if (!pending) return;
    const { line, text } = pending;
    pending = undefined;
    const instruction = parseInstruction(text, line);
    if (instruction) instructions.push(instruction);
  };
  for (const [i, source] of lines.entries()) {
    const trimmed = source.trim();
    // Comments and blank lines may sit inside a continued instruction; Docker skips them.
    if (trimmed.startsWith("#") || (trimmed === "" && pending)) continue;
    if (trimmed === "") continue;
    const continued = /\\\s*$/.test(source);
    const piece = continued ? source.replace(/\\\s*$/, "") : source;
    if (pending) pending.text += piece;
    else pending = { line: i + 1, text: piece };
    if (!continued) finish();
  }
  finish();
  if (instructions.length === 0) throw dockerfileError(1, "the Dockerfile has no instructions");
  const first = instructions.find((s) => s.name !== "ARG");
  if (!first || first.name !== "FROM") {
    throw dockerfileError(first?.line ?? 1, "the first instruction must be FROM (after ARGs)");
  }
  return instructions;
}

/**
 * Splits shell-like words: whitespace separates, quotes group, a backslash escapes. Used for
 * `ENV`, `LABEL`, `ARG`, `EXPOSE` and `COPY` sources, which Docker splits the same way.
 */
export function splitWords(text: string, line: number): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) throw dockerfileError(line, "unterminated quote");
  if (inWord) words.push(current);
  return words;
}

/**
 * Parses `key=value` pairs (or the legacy `key value` form when `legacy` allows it), as `ENV`
 * and `LABEL` take them.
 */
export function parsePairs(text: string, line: number, legacy: boolean): [string, string][] {
  const words = splitWords(text, line);
  if (legacy && words.length > 0 && !words[0].includes("=")) {
    const [key] = words;
    const value = text.trim().slice(text.trim().indexOf(key) + key.length).trim();
    return [[key, splitWords(value, line).join(" ")]];
  }
  return words.map((word) => {
    const eq = word.indexOf("=");
    if (eq <= 0) throw dockerfileError(line, `expected key=value, got '${word}'`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/**
 * Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` from `vars`; `\$` stays a
 * literal dollar. Unknown variables expand to nothing, as in Docker.
 */
export function substitute(text: string, vars: Record<string, string>, line: number): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && text[i + 1] === "$") {
      out += "$";
      i++;
      continue;
    }
    if (c !== "$") {
      out += c;
      continue;
    }
    if (text[i + 1] === "{") {
      const end = text.indexOf("}", i + 2);
      if (end === -1) throw dockerfileError(line, "missing '}' in variable substitution");
      const body = text.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(body);
      if (!m) throw dockerfileError(line, `bad substitution '\${${body}}'`);
      const value = vars[m[1]];
      if (m[2] === "-") out += value ? value : m[3];
      else if (m[2] === "+") out += value ? m[3] : "";
      else out += value ?? "";
      i = end;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (!m) {
      out += c;
      continue;
    }
    out += vars[m[0]] ?? "";
    i += m[0].length;
  }
  return out;
}
