/**
 * A small HCL parser for agent configs: attributes, blocks with labels, strings (with escapes),
 * heredocs, numbers, booleans, null, lists, objects, comments and the `env()` and `file()`
 * functions. Every value records its line, so a config error can name file, line and key.
 *
 * The npm HCL parsers are Go code compiled to JS or wasm; they return plain JSON without
 * positions, which would make "file:line: key" errors impossible, so we parse the subset here.
 */

/** A parse failure with its position. */
export class HclSyntaxError extends Error {
  /** An error at `line` of `file`; the message reads `file:line: message`. */
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = "HclSyntaxError";
  }
}

/** The JSON-like value a document evaluates to. */
export type HclValue = string | number | boolean | null | HclValue[] | { [key: string]: HclValue };

/** A parsed document: the value tree and the line of every dotted key path in it. */
export interface HclDocument {
  /** The document's top-level attributes and blocks, evaluated; repeated blocks become lists. */
  value: Record<string, HclValue>;
  /** `providers.0.api_key` → 12. Block paths point at the block's opening line. */
  lines: Map<string, number>;
}

/** Options for functions a config may call. */
export interface HclOptions {
  /** The file name used in errors. */
  file?: string;
  /** What `env("NAME")` reads (default `Deno.env`). */
  env?: (name: string) => string | undefined;
  /** What `file("path")` reads, relative to the config's folder. */
  readFile?: (path: string) => string;
  /**
   * Block names that may repeat; they always become lists. Any other block becomes an object
   * and may appear once.
   */
  repeatedBlocks?: ReadonlySet<string>;
}

type TokenKind = "ident" | "string" | "number" | "punct" | "newline" | "eof";

interface Token {
  kind: TokenKind;
  text: string;
  line: number;
  /** The decoded value of a string or heredoc. */
  value?: string;
}

const PUNCT = new Set(["{", "}", "[", "]", "(", ")", "=", ",", ":"]);

function tokenize(src: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw new HclSyntaxError(file, line, msg);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === "\n") {
      tokens.push({ kind: "newline", text: "\n", line });
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#" || (c === "/" && src[i + 1] === "/")) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated /* comment");
      for (let k = i; k < end; k++) if (src[k] === "\n") line++;
      i = end + 2;
    } else if (c === '"') {
      const start = line;
      let out = "";
      i++;
      while (true) {
        if (i >= src.length || src[i] === "\n") fail("unterminated string");
        const ch = src[i];
        if (ch === '"') break;
        if (ch === "\\") {
          const e = src[i + 1];
          const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
          if (e in map) {
            out += map[e];
            i += 2;
          } else if (e === "u") {
            const hex = src.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
            out += String.fromCharCode(parseInt(hex, 16));
            i += 6;
          } else {
            fail(`unknown escape \\${e}`);
          }
        } else {
          out += ch;
          i++;
        }
      }
      i++;
      tokens.push({ kind: "string", text: out, value: out, line: start });
    } else if (c === "<" && src[i + 1] === "<") {
      const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)[ \t]*\r?\n/.exec(src.slice(i));
      if (!m) fail("bad heredoc: expected <<MARKER and a newline");
      const indent = m![1] === "-";
      const marker = m![2];
      const start = line;
      i += m![0].length;
      line++;
      const bodyLines: string[] = [];
      while (true) {
        if (i >= src.length) throw new HclSyntaxError(file, start, `heredoc ${marker} not closed`);
        const nl = src.indexOf("\n", i);
        const raw = src.slice(i, nl < 0 ? src.length : nl).replace(/\r$/, "");
        i = nl < 0 ? src.length : nl + 1;
        if (raw.trim() === marker) break;
        bodyLines.push(raw);
        line++;
      }
      if (indent) {
        const widths = bodyLines.filter((l) => l.trim()).map((l) => /^[ \t]*/.exec(l)![0].length);
        const cut = widths.length ? Math.min(...widths) : 0;
        for (let k = 0; k < bodyLines.length; k++) bodyLines[k] = bodyLines[k].slice(cut);
      }
      const body = bodyLines.length ? bodyLines.join("\n") + "\n" : "";
      tokens.push({ kind: "string", text: body, value: body, line: start });
      tokens.push({ kind: "newline", text: "\n", line });
      line++;
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i))!;
      tokens.push({ kind: "number", text: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      tokens.push({ kind: "ident", text: m[0], line });
      i += m[0].length;
    } else if (PUNCT.has(c)) {
      tokens.push({ kind: "punct", text: c, line });
      i++;
    } else {
      fail(`unexpected character '${c}'`);
    }
  }
  tokens.push({ kind: "eof", text: "end of file", line });
  return tokens;
}

class Parser {
  private pos = 0;
  readonly lines = new Map<string, number>();

  constructor(private readonly tokens: Token[], private readonly options: Required<HclOptions>) {}

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private next(): Token {
    return this.tokens[this.pos++];
  }

  private fail(token: Token, message: string): never {
    throw new HclSyntaxError(this.options.file, token.line, message);
  }

  private skipNewlines(): void {
    while (this.peek().kind === "newline") this.pos++;
  }

  private expect(text: string): Token {
    const t = this.next();
    if (t.kind !== "punct" || t.text !== text) {
      this.fail(t, `expected '${text}', found '${t.kind === "newline" ? "newline" : t.text}'`);
    }
    return t;
  }

  /** Parses a body until `}` (nested) or end of file (top level). */
  body(path: string, closing: boolean): Record<string, HclValue> {
    const out: Record<string, HclValue> = {};
    const repeated = this.options.repeatedBlocks;
    while (true) {
      this.skipNewlines();
      const t = this.peek();
      if (t.kind === "eof") {
        if (closing) this.fail(t, "missing '}'");
        return out;
      }
      if (t.kind === "punct" && t.text === "}") {
        if (!closing) this.fail(t, "unexpected '}'");
        this.pos++;
        return out;
      }
      if (t.kind !== "ident" && t.kind !== "string") {
        this.fail(t, `expected a key, found '${t.text}'`);
      }
      this.pos++;
      const key = t.text;
      const keyPath = path ? `${path}.${key}` : key;
      const after = this.peek();
      if (after.kind === "punct" && after.text === "=") {
        this.pos++;
        if (key in out) this.fail(t, `duplicate key '${keyPath}'`);
        this.lines.set(keyPath, t.line);
        out[key] = this.expr(keyPath);
        const end = this.peek();
        if (
          end.kind !== "newline" && end.kind !== "eof" &&
          !(end.kind === "punct" && end.text === "}")
        ) {
          this.fail(end, `expected a newline after '${key}', found '${end.text}'`);
        }
        continue;
      }
      // A block: labels, then a body.
      const labels: string[] = [];
      while (this.peek().kind === "string" || this.peek().kind === "ident") {
        labels.push(this.next().text);
      }
      const open = this.peek();
      if (!(open.kind === "punct" && open.text === "{")) {
        this.fail(open, `expected '=' or '{' after '${key}'`);
      }
      this.pos++;
      if (repeated.has(key)) {
        const list = (out[key] ??= []) as HclValue[];
        if (!Array.isArray(list)) this.fail(t, `'${keyPath}' is both an attribute and a block`);
        const itemPath = `${keyPath}.${list.length}`;
        this.lines.set(keyPath, this.lines.get(keyPath) ?? t.line);
        this.lines.set(itemPath, t.line);
        const block = this.body(itemPath, true);
        if (labels[0] !== undefined) {
          block.name ??= labels[0];
          this.lines.set(`${itemPath}.name`, t.line);
        }
        list.push(block);
      } else {
        if (key in out) this.fail(t, `block '${keyPath}' may appear only once`);
        this.lines.set(keyPath, t.line);
        if (labels.length) {
          // `engine "google" { ... }` nests as engine.google.
          let target = out;
          let p = keyPath;
          let k = key;
          for (const label of labels) {
            const child = (target[k] ??= {}) as Record<string, HclValue>;
            target = child;
            k = label;
            p = `${p}.${label}`;
            this.lines.set(p, t.line);
          }
          target[k] = this.body(p, true);
        } else {
          out[key] = this.body(keyPath, true);
        }
      }
    }
  }

  private expr(path: string): HclValue {
    const t = this.next();
    switch (t.kind) {
      case "string":
        return t.value!;
      case "number":
        return Number(t.text);
      case "ident": {
        if (t.text === "true") return true;
        if (t.text === "false") return false;
        if (t.text === "null") return null;
        if (this.peek().kind === "punct" && this.peek().text === "(") return this.call(t, path);
        return this.fail(t, `'${path}': unknown value '${t.text}' (strings need quotes)`);
      }
      case "punct":
        if (t.text === "[") return this.list(path);
        if (t.text === "{") return this.object(path);
        return this.fail(t, `'${path}': unexpected '${t.text}'`);
      default:
        return this.fail(t, `'${path}': missing value`);
    }
  }

  private call(name: Token, path: string): HclValue {
    this.expect("(");
    this.skipNewlines();
    const arg = this.next();
    if (arg.kind !== "string") this.fail(arg, `${name.text}() takes one string`);
    this.skipNewlines();
    let fallback: string | undefined;
    if (this.peek().kind === "punct" && this.peek().text === ",") {
      this.pos++;
      this.skipNewlines();
      const second = this.next();
      if (second.kind !== "string") this.fail(second, `${name.text}() default must be a string`);
      fallback = second.value;
      this.skipNewlines();
    }
    this.expect(")");
    if (name.text === "env") {
      const value = this.options.env(arg.value!) ?? fallback;
      if (value === undefined) {
        this.fail(name, `'${path}': environment variable ${arg.value} is not set`);
      }
      return value!;
    }
    if (name.text === "file") {
      try {
        return this.options.readFile(arg.value!);
      } catch (error) {
        return this.fail(name, `'${path}': cannot read ${arg.value}: ${(error as Error).message}`);
      }
    }
    return this.fail(name, `'${path}': unknown function ${name.text}()`);
  }

  private list(path: string): HclValue[] {
    const out: HclValue[] = [];
    while (true) {
      this.skipNewlines();
      const t = this.peek();
      if (t.kind === "punct" && t.text === "]") {
        this.pos++;
        return out;
      }
      const itemPath = `${path}.${out.length}`;
      this.lines.set(itemPath, t.line);
      out.push(this.expr(itemPath));
      this.skipNewlines();
      const sep = this.peek();
      if (sep.kind === "punct" && sep.text === ",") this.pos++;
      else if (!(sep.kind === "punct" && sep.text === "]")) {
        this.fail(sep, `'${path}': expected ',' or ']', found '${sep.text}'`);
      }
    }
  }

  private object(path: string): Record<string, HclValue> {
    const out: Record<string, HclValue> = {};
    while (true) {
      this.skipNewlines();
      const t = this.next();
      if (t.kind === "punct" && t.text === "}") return out;
      if (t.kind !== "ident" && t.kind !== "string") this.fail(t, `'${path}': expected a key`);
      const sep = this.next();
      if (!(sep.kind === "punct" && (sep.text === "=" || sep.text === ":"))) {
        this.fail(sep, `'${path}.${t.text}': expected '=' or ':'`);
      }
      const keyPath = `${path}.${t.text}`;
      this.lines.set(keyPath, t.line);
      out[t.text] = this.expr(keyPath);
      this.skipNewlines();
      const after = this.peek();
      if (after.kind === "punct" && after.text === ",") this.pos++;
    }
  }
}

/**
 * Parses HCL text.
 *
 * @example
 * ```ts
 * import { parseHcl } from "./hcl.ts";
 * const doc = parseHcl('name = "a"\nproviders {\n  kind = "openai"\n}\n', {
 *   repeatedBlocks: new Set(["providers"]),
 * });
 * console.log(doc.value, doc.lines.get("providers.0.kind")); // line 3
 * ```
 */
export function parseHcl(src: string, options: HclOptions = {}): HclDocument {
  const resolved: Required<HclOptions> = {
    file: options.file ?? "<config>",
    env: options.env ?? ((name) => Deno.env.get(name)),
    readFile: options.readFile ?? ((path) => Deno.readTextFileSync(path)),
    repeatedBlocks: options.repeatedBlocks ?? new Set(),
  };
  const parser = new Parser(tokenize(src, resolved.file), resolved);
  const value = parser.body("", false);
  return { value, lines: parser.lines };
}

/** The line of `path`, or of its nearest ancestor that has one. */
export function lineOf(lines: Map<string, number>, path: string): number | undefined {
  let p = path;
  while (p) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    const dot = p.lastIndexOf(".");
    if (dot < 0) break;
    p = p.slice(0, dot);
  }
  return undefined;
}
