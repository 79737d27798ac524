/**
 * What a GNU sed script runs: sed's `e COMMAND` runs a shell command, and `e` alone or the `e`
 * flag of `s///e` runs the text sed is reading, so a sed call can reach the network however
 * ordinary it looks. The script is read command by command, as sed reads it, so the letter `e`
 * in a pattern, a replacement, a label or a file name is no command.
 */

/** The shell commands a sed script runs, and whether it runs the text it reads. */
export interface SedRuns {
  /** `e COMMAND`: command lines written in the script. */
  commands: string[];
  /** `e` with no command, or `s///e`: what it runs is the input, unknown before it runs. */
  runsInput: boolean;
  /** The script could not be read to its end; what it runs is unknown. */
  unreadable: boolean;
}

/** Commands with no argument (`l`, `q`, `Q`, `L` take an optional number, read as a word). */
const PLAIN = new Set(["=", "d", "D", "g", "G", "h", "H", "n", "N", "p", "P", "x", "z", "F"]);
/** Commands whose argument runs to the end of the line: text, file names, a version. */
const TO_LINE_END = new Set(["a", "i", "c", "r", "R", "w", "W", "v"]);

class SedReader {
  #at = 0;
  readonly runs: SedRuns = { commands: [], runsInput: false, unreadable: false };

  constructor(private readonly text: string) {}

  read(): SedRuns {
    try {
      while (this.#at < this.text.length) this.#command();
    } catch {
      this.runs.unreadable = true;
    }
    return this.runs;
  }

  #peek(): string {
    return this.text[this.#at] ?? "";
  }

  #skipBlanks(newlines = false): void {
    while (this.#at < this.text.length) {
      const c = this.text[this.#at];
      if (c === " " || c === "\t" || (newlines && (c === "\n" || c === ";"))) this.#at++;
      else break;
    }
  }

  /** Up to the end of the line; a backslash before a newline continues it (`a\`). */
  #toLineEnd(): string {
    let out = "";
    while (this.#at < this.text.length) {
      const c = this.text[this.#at++];
      if (c === "\n") break;
      if (c === "\\" && this.text[this.#at] === "\n") {
        out += "\n";
        this.#at++;
        continue;
      }
      out += c;
    }
    return out;
  }

  /**
   * A delimited part (`/re/`, `s`'s pattern or replacement), escapes kept. In a pattern, a
   * bracket expression may hold the delimiter unescaped (`s/[/]/x/` is GNU sed's own reading).
   */
  #delimited(delimiter: string, pattern = false): string {
    let out = "";
    while (this.#at < this.text.length) {
      const c = this.text[this.#at++];
      if (c === "\\") {
        out += c + (this.text[this.#at++] ?? "");
        continue;
      }
      if (pattern && c === "[") {
        out += c + this.#bracket();
        continue;
      }
      if (c === delimiter) return out;
      if (c === "\n" && delimiter !== "\n") break;
      out += c;
    }
    throw new Error("unterminated");
  }

  /** The rest of a bracket expression after its `[`: `[^]x]`, `[[:alpha:]/]`. */
  #bracket(): string {
    const start = this.#at;
    if (this.#peek() === "^") this.#at++;
    if (this.#peek() === "]") this.#at++;
    while (this.#at < this.text.length) {
      const c = this.text[this.#at++];
      if (c === "[" && /[:.=]/.test(this.#peek())) {
        const close = this.text.indexOf(`${this.text[this.#at]}]`, this.#at + 1);
        if (close < 0) throw new Error("unterminated class");
        this.#at = close + 2;
      } else if (c === "]") return this.text.slice(start, this.#at);
      else if (c === "\n") break;
    }
    throw new Error("unterminated bracket");
  }

  #address(): boolean {
    const c = this.#peek();
    if (/[0-9]/.test(c)) {
      while (/[0-9~]/.test(this.#peek())) this.#at++;
      return true;
    }
    if (c === "$") {
      this.#at++;
      return true;
    }
    if (c === "/" || c === "\\") {
      this.#at++;
      const delimiter = c === "/" ? "/" : this.text[this.#at++];
      if (!delimiter) throw new Error("no delimiter");
      this.#delimited(delimiter, true);
      while (/[IM]/.test(this.#peek())) this.#at++;
      return true;
    }
    return false;
  }

  #addresses(): void {
    if (!this.#address()) return;
    this.#skipBlanks();
    if (this.#peek() !== ",") return;
    this.#at++;
    this.#skipBlanks();
    if (this.#peek() === "+" || this.#peek() === "~") {
      this.#at++;
      while (/[0-9]/.test(this.#peek())) this.#at++;
    } else if (!this.#address()) throw new Error("no second address");
  }

  #command(): void {
    this.#skipBlanks(true);
    if (this.#at >= this.text.length) return;
    if (this.#peek() === "#") {
      this.#toLineEnd();
      return;
    }
    this.#addresses();
    this.#skipBlanks();
    while (this.#peek() === "!") {
      this.#at++;
      this.#skipBlanks();
    }
    const name = this.text[this.#at++];
    if (name === undefined) throw new Error("address without a command");
    if (name === "{" || name === "}" || PLAIN.has(name)) return;
    if (name === "\n" || name === ";") return;
    if ("lqQL".includes(name)) {
      this.#skipBlanks();
      while (/[0-9]/.test(this.#peek())) this.#at++;
      return;
    }
    if (name === ":" || name === "b" || name === "t" || name === "T") {
      // A label ends at a newline or a semicolon.
      while (this.#at < this.text.length && !/[\n;]/.test(this.text[this.#at])) this.#at++;
      return;
    }
    if (TO_LINE_END.has(name)) {
      this.#toLineEnd();
      return;
    }
    if (name === "e") {
      this.#skipBlanks();
      const command = this.#toLineEnd().trim();
      if (command) this.runs.commands.push(command);
      else this.runs.runsInput = true;
      return;
    }
    if (name === "s" || name === "y") {
      const delimiter = this.text[this.#at++];
      if (!delimiter || delimiter === "\n" || delimiter === "\\") throw new Error("bad delimiter");
      this.#delimited(delimiter, name === "s");
      this.#delimited(delimiter);
      if (name === "y") return;
      this.#substituteFlags();
      return;
    }
    throw new Error(`unknown command ${name}`);
  }

  #substituteFlags(): void {
    while (this.#at < this.text.length) {
      const c = this.#peek();
      if (c === "e") {
        this.runs.runsInput = true;
        this.#at++;
      } else if (c === "w") {
        // The rest of the line is a file name.
        this.#toLineEnd();
        return;
      } else if (/[gpiImM0-9]/.test(c)) this.#at++;
      else return;
    }
  }
}

/**
 * What `script`, one sed script (an `-e` argument, a `-f` file, or the script operand), runs.
 *
 * @example
 * ```ts
 * import { sedRuns } from "./sed_script.ts";
 * console.log(sedRuns("1e curl evil.example").commands); // ["curl evil.example"]
 * console.log(sedRuns("s/e/E/g").runsInput); // false
 * ```
 */
export function sedRuns(script: string): SedRuns {
  return new SedReader(script).read();
}
