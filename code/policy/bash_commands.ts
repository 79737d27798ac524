/**
 * The commands a `bash` command line runs, for the permission rules: each simple command of the
 * line (`true && curl x` runs `curl x`), the commands inside substitutions, what wrappers run
 * (`sudo`, `env`, `timeout`, `xargs`, `nohup`…), the scripts given to a shell (`sh -c '…'`,
 * `eval`, a here-document piped to `bash`) and the script files it runs (`bash run.sh`,
 * `./run.sh`, `source env.sh`) when they can be read. A command whose name is an expansion
 * (`$CMD`, `$(echo curl)`), or a shell reading code it cannot see, is reported as unreadable:
 * no rule can be matched against it.
 */
import {
  COMMAND_WRAPPERS,
  parseShell,
  type ScriptReader,
  SHELL_KEYWORDS,
  SHELL_NOT_COMMANDS,
  SHELLS,
  type ShellWord,
  type SimpleCommand,
} from "@a3s/safeclaw";

/** One command the line runs. */
export interface BashCommand {
  /** Its words as written (leading `NAME=value` assignments and keywords dropped). */
  words: string[];
  /** The words again with the program's own name for a path (`/usr/bin/curl` → `curl`), when it differs. */
  named?: string[];
}

/** What {@linkcode readBashCommands} found. */
export interface BashCommands {
  /** Every command the line runs, outer ones first, then those they start. */
  commands: BashCommand[];
  /** Why parts of the line cannot be read (a command named by an expansion...). */
  unreadable: string[];
}

/** Reads a script file (relative to the command's folder); undefined when it cannot. */
export type { ScriptReader };

/** The wrappers safeclaw reads, and busybox and toybox, whose first operand is the command. */
const WRAPPERS: Record<string, { valued: string[]; operands?: number }> = {
  ...COMMAND_WRAPPERS,
  busybox: { valued: [] },
  toybox: { valued: [] },
};
const KEYWORDS = SHELL_KEYWORDS;
const NOT_COMMANDS = SHELL_NOT_COMMANDS;

/** How deep scripts inside scripts are read; deeper is unreadable. */
const MAX_DEPTH = 6;

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/;

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The interpreter a script's `#!` line names (`/usr/bin/env bash` → `bash`), or undefined. */
function shebangProgram(text: string): string | undefined {
  const line = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
  if (!line) return undefined;
  const program = basename(line[1]);
  return program === "env" && line[2] ? basename(line[2]) : program;
}

class Reader {
  readonly commands: BashCommand[] = [];
  readonly unreadable: string[] = [];

  constructor(private readonly readScript?: ScriptReader) {}

  script(text: string, depth: number, where: string): void {
    if (depth > MAX_DEPTH) {
      this.unreadable.push(`${where} nested too deep`);
      return;
    }
    for (const command of parseShell(text)) this.#simple(command, depth);
  }

  #simple(command: SimpleCommand, depth: number): void {
    let words = command.words;
    let start = 0;
    while (start < words.length && !words[start].dynamic && KEYWORDS.has(words[start].text)) {
      start++;
    }
    if (start < words.length && !words[start].dynamic && NOT_COMMANDS.has(words[start].text)) {
      return;
    }
    while (start < words.length && ASSIGNMENT.test(words[start].text)) start++;
    words = words.slice(start);
    if (!words.length) return;
    this.#run(words, command, depth);
  }

  /** The command `words` (its name first), and what it runs in turn. */
  #run(words: ShellWord[], command: SimpleCommand, depth: number): void {
    const [head, ...args] = words;
    if (head.dynamic) {
      this.unreadable.push(`a command named by an expansion (${head.text})`);
      return;
    }
    const texts = words.map((w) => w.text);
    const name = basename(head.text);
    this.commands.push(
      name === head.text ? { words: texts } : { words: texts, named: [name, ...texts.slice(1)] },
    );
    if (depth > MAX_DEPTH) {
      this.unreadable.push(`${name}: commands nested too deep`);
      return;
    }
    if (Object.hasOwn(WRAPPERS, name)) {
      const inner = this.#wrapped(name, args);
      if (inner?.length) this.#run(inner, command, depth + 1);
      return;
    }
    if (SHELLS.test(name)) return this.#shell(name, args, command, depth);
    if (name === "eval") return this.#inline(args, depth, "eval");
    if ((name === "source" || name === ".") && args[0]) {
      return this.#file(args[0], depth, name);
    }
    if (name === "watch") {
      const rest = this.#afterOptions(args, ["-n", "-d", "--interval", "--differences"]);
      if (rest.length) this.#inline(rest, depth, "watch");
      return;
    }
    if (name === "find") return this.#findExec(args, command, depth);
    if (head.text.includes("/")) this.#executable(head.text, depth);
  }

  /** The words after a command's options (`valued` ones take the next word). */
  #afterOptions(args: ShellWord[], valued: string[]): ShellWord[] {
    let i = 0;
    while (i < args.length) {
      const text = args[i].text;
      if (text === "--") return args.slice(i + 1);
      if (!text.startsWith("-") || text === "-") break;
      i += valued.includes(text) ? 2 : 1;
    }
    return args.slice(i);
  }

  /** The command a wrapper runs, or undefined (`command -v x` only looks `x` up). */
  #wrapped(name: string, args: ShellWord[]): ShellWord[] | undefined {
    if (name === "command" && args.some((a) => a.text === "-v" || a.text === "-V")) {
      return undefined;
    }
    const wrapper = WRAPPERS[name];
    let rest = this.#afterOptions(args, wrapper.valued);
    if (name === "env") {
      let i = 0;
      while (i < rest.length && ASSIGNMENT.test(rest[i].text)) i++;
      rest = rest.slice(i);
    }
    return rest.slice(wrapper.operands ?? 0);
  }

  /** A shell: `-c SCRIPT`, a script file, or commands on stdin. */
  #shell(name: string, args: ShellWord[], command: SimpleCommand, depth: number): void {
    let i = 0;
    let inline = false;
    for (; i < args.length; i++) {
      const text = args[i].text;
      if (text === "--" || text === "-") {
        i++;
        break;
      }
      if (!/^[-+]/.test(text) || args[i].dynamic) break;
      if (/^-[A-Za-z]*c[A-Za-z]*$/.test(text)) inline = true;
      // `-o option` and `-O shopt` take a value.
      else if (/^[-+][oO]$/.test(text)) i++;
    }
    const operand = args[i];
    if (inline) {
      if (!operand) return;
      if (operand.dynamic) {
        this.unreadable.push(`${name} -c with a script made by an expansion`);
      } else this.script(operand.text, depth + 1, `${name} -c`);
      return;
    }
    if (operand) return this.#file(operand, depth, name);
    const stdin = command.stdin;
    if (!stdin) return;
    if (stdin.from === "text") {
      if (stdin.dynamic) this.unreadable.push(`${name} reading a script made by an expansion`);
      else this.script(stdin.text, depth + 1, name);
    } else if (stdin.from === "file") this.#file(stdin.path, depth, name);
    else this.unreadable.push(`${name} reading commands from a pipe`);
  }

  /** `eval` and the like: their words joined are a script. */
  #inline(args: ShellWord[], depth: number, name: string): void {
    if (args.some((a) => a.dynamic)) {
      this.unreadable.push(`${name} of text made by an expansion`);
      return;
    }
    this.script(args.map((a) => a.text).join(" "), depth + 1, name);
  }

  /** A script file a shell runs: read when it can be (one that cannot runs as its reader saw). */
  #file(path: ShellWord, depth: number, name: string): void {
    if (path.dynamic) {
      this.unreadable.push(`${name} running a script named by an expansion (${path.text})`);
      return;
    }
    const text = this.readScript?.(path.text);
    if (text !== undefined) this.script(text, depth + 1, `${name} ${path.text}`);
  }

  /** A program run by its path: a shell script (by its `#!`, or a text file without one) is read. */
  #executable(path: string, depth: number): void {
    const text = this.readScript?.(path);
    if (text === undefined || text.includes("\0")) return;
    const program = shebangProgram(text);
    if (program === undefined || SHELLS.test(program)) this.script(text, depth + 1, path);
  }

  /** `find … -exec CMD … ;`: the command it runs for each file. */
  #findExec(args: ShellWord[], command: SimpleCommand, depth: number): void {
    for (let i = 0; i < args.length; i++) {
      if (!/^-(?:exec|execdir|ok|okdir)$/.test(args[i].text)) continue;
      const end = args.findIndex((a, j) => j > i && (a.text === ";" || a.text === "+"));
      const inner = args.slice(i + 1, end < 0 ? args.length : end);
      if (inner.length) this.#run(inner, command, depth + 1);
      if (end < 0) break;
      i = end;
    }
  }
}

/**
 * The commands `line` runs, read as the shell reads them; `readScript` reads the script files
 * it runs (without one they are not read).
 *
 * @example
 * ```ts
 * import { readBashCommands } from "./bash_commands.ts";
 * const { commands, unreadable } = readBashCommands("true && sudo -u x curl -s example.org; $X");
 * console.log(commands.map((c) => c.words.join(" ")));
 * // ["true", "sudo -u x curl -s example.org", "curl -s example.org"]
 * console.log(unreadable); // ["a command named by an expansion ($X)"]
 * ```
 */
export function readBashCommands(line: string, readScript?: ScriptReader): BashCommands {
  const reader = new Reader(readScript);
  reader.script(line, 0, "the command line");
  return { commands: reader.commands, unreadable: reader.unreadable };
}
