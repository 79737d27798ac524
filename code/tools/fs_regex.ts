/**
 * A linear-time matcher for JavaScript regular expressions, for patterns a model writes. JS's
 * own engine backtracks: `^(a+)+$` on a line of 30 a's runs for minutes, and a worker running it
 * cannot even be terminated (V8 does not interrupt a running regular expression). This engine
 * compiles the pattern to an automaton and runs it one character at a time (a lazily built DFA
 * over a Thompson NFA), so a test costs at most the line's length times the pattern's size.
 *
 * It answers `test` exactly as `new RegExp(source, flags).test` does for the syntax it knows:
 * everything but backreferences and lookaround (as ripgrep without `-P`), with the `i` and `s`
 * flags. Anything else is refused with {@linkcode UnsupportedPatternError}, never guessed at.
 *
 * @module
 */

/** A pattern this engine does not run (a backreference, lookaround, a flag, too large). */
export class UnsupportedPatternError extends Error {
  /** An error saying what the pattern uses. */
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedPatternError";
  }
}

/** The most automaton states one pattern may compile to (counted repetition expands). */
const MAX_PROGRAM = 20_000;
/** DFA states cached before the cache starts over. */
const MAX_DFA_STATES = 4_000;

// ---- character sets ------------------------------------------------------------------------

/** Sorted, merged code-unit ranges `[lo, hi]`, flattened. */
type Ranges = number[];

interface CharSet {
  ranges: Ranges;
  negated: boolean;
}

function merge(list: readonly [number, number][]): Ranges {
  const ranges = [...list].sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of ranges) {
    const n = out.length;
    if (n && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

function inRanges(ranges: Ranges, c: number): boolean {
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < ranges[mid * 2]) hi = mid - 1;
    else if (c > ranges[mid * 2 + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

const DIGIT: [number, number][] = [[48, 57]];
const WORD: [number, number][] = [[48, 57], [65, 90], [95, 95], [97, 122]];
const SPACE: [number, number][] = [
  [9, 13],
  [32, 32],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: [number, number][] = [[10, 10], [13, 13], [0x2028, 0x2029]];

function complement(ranges: [number, number][]): [number, number][] {
  const sorted = merge(ranges);
  const out: [number, number][] = [];
  let next = 0;
  for (let i = 0; i < sorted.length; i += 2) {
    if (sorted[i] > next) out.push([next, sorted[i] - 1]);
    next = sorted[i + 1] + 1;
  }
  if (next <= 0xffff) out.push([next, 0xffff]);
  return out;
}

function isWordUnit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 95 || (c >= 97 && c <= 122);
}

/** Case folding of the `i` flag without `u`: ECMAScript's Canonicalize. */
function canonicalize(c: number): number {
  const upper = String.fromCharCode(c).toUpperCase();
  if (upper.length !== 1) return c;
  const u = upper.charCodeAt(0);
  return c >= 128 && u < 128 ? c : u;
}

let foldClasses: Map<number, number[]> | undefined;
/** Every code unit whose canonical form is the same as `c`'s, `c` first. */
function caseVariants(c: number): number[] {
  if (!foldClasses) {
    foldClasses = new Map();
    for (let x = 0; x <= 0xffff; x++) {
      const k = canonicalize(x);
      const list = foldClasses.get(k);
      if (list) list.push(x);
      else foldClasses.set(k, [x]);
    }
  }
  const all = foldClasses.get(canonicalize(c)) ?? [c];
  return [c, ...all.filter((x) => x !== c)];
}

function setHas(set: CharSet, c: number, ignoreCase: boolean): boolean {
  let hit = false;
  if (ignoreCase) {
    for (const x of caseVariants(c)) {
      if (inRanges(set.ranges, x)) {
        hit = true;
        break;
      }
    }
  } else hit = inRanges(set.ranges, c);
  return hit !== set.negated;
}

// ---- parsing ---------------------------------------------------------------------------------

type Ast =
  | { t: "empty" }
  | { t: "set"; set: CharSet }
  | { t: "cat"; items: Ast[] }
  | { t: "alt"; items: Ast[] }
  | { t: "rep"; node: Ast; min: number; max: number }
  | { t: "assert"; kind: "^" | "$" | "b" | "B" };

function single(c: number): CharSet {
  return { ranges: [c, c], negated: false };
}

class Parser {
  #i = 0;
  readonly #groups: number;
  readonly #named: boolean;

  constructor(readonly src: string, readonly dotAll: boolean) {
    // Capturing groups, for telling a backreference `\2` from a legacy octal escape.
    let groups = 0;
    let named = false;
    for (let i = 0, inClass = false; i < src.length; i++) {
      const c = src[i];
      if (c === "\\") i++;
      else if (inClass) inClass = c !== "]";
      else if (c === "[") inClass = true;
      else if (c === "(") {
        if (src[i + 1] !== "?") groups++;
        else if (src[i + 2] === "<" && src[i + 3] !== "=" && src[i + 3] !== "!") {
          groups++;
          named = true;
        }
      }
    }
    this.#groups = groups;
    this.#named = named;
  }

  parse(): Ast {
    const node = this.#alternation();
    if (this.#i < this.src.length) throw new UnsupportedPatternError("unbalanced parenthesis");
    return node;
  }

  #peek(offset = 0): string | undefined {
    return this.src[this.#i + offset];
  }

  #alternation(): Ast {
    const items = [this.#sequence()];
    while (this.#peek() === "|") {
      this.#i++;
      items.push(this.#sequence());
    }
    return items.length === 1 ? items[0] : { t: "alt", items };
  }

  #sequence(): Ast {
    const items: Ast[] = [];
    while (this.#i < this.src.length && this.#peek() !== "|" && this.#peek() !== ")") {
      const atom = this.#atom();
      items.push(atom.quantifiable ? this.#quantified(atom.node) : atom.node);
    }
    if (!items.length) return { t: "empty" };
    return items.length === 1 ? items[0] : { t: "cat", items };
  }

  /** A `{n}`, `{n,}` or `{n,m}` at the cursor, or undefined when the brace is a literal. */
  #braces(): { min: number; max: number; end: number } | undefined {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.#i));
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
    return { min, max, end: this.#i + m[0].length };
  }

  #quantified(node: Ast): Ast {
    let out = node;
    for (;;) {
      const c = this.#peek();
      let min: number;
      let max: number;
      if (c === "*") [min, max] = [0, Infinity];
      else if (c === "+") [min, max] = [1, Infinity];
      else if (c === "?") [min, max] = [0, 1];
      else if (c === "{") {
        const b = this.#braces();
        if (!b) return out;
        [min, max] = [b.min, b.max];
        this.#i = b.end - 1;
      } else return out;
      this.#i++;
      if (this.#peek() === "?") this.#i++; // lazy: the same strings match
      out = { t: "rep", node: out, min, max };
      // A quantifier cannot follow another (the source compiled, so this does not happen).
      return out;
    }
  }

  #atom(): { node: Ast; quantifiable: boolean } {
    const c = this.src[this.#i++];
    switch (c) {
      case "^":
        return { node: { t: "assert", kind: "^" }, quantifiable: false };
      case "$":
        return { node: { t: "assert", kind: "$" }, quantifiable: false };
      case ".":
        return {
          node: {
            t: "set",
            set: this.dotAll
              ? { ranges: [0, 0xffff], negated: false }
              : { ranges: merge([...LINE_TERMINATORS]), negated: true },
          },
          quantifiable: true,
        };
      case "(":
        return { node: this.#group(), quantifiable: true };
      case "[":
        return { node: { t: "set", set: this.#class() }, quantifiable: true };
      case "\\":
        return this.#escape();
      default:
        return { node: { t: "set", set: single(c.charCodeAt(0)) }, quantifiable: true };
    }
  }

  #group(): Ast {
    if (this.#peek() === "?") {
      const next = this.#peek(1);
      if (next === ":") this.#i += 2;
      else if (next === "<" && this.#peek(2) !== "=" && this.#peek(2) !== "!") {
        const end = this.src.indexOf(">", this.#i);
        this.#i = end + 1;
      } else if (next === "=" || next === "!" || next === "<") {
        throw new UnsupportedPatternError("lookahead and lookbehind are not supported");
      } else throw new UnsupportedPatternError("group modifiers such as (?i:) are not supported");
    }
    const node = this.#alternation();
    if (this.src[this.#i++] !== ")") throw new UnsupportedPatternError("unbalanced parenthesis");
    return node;
  }

  /** A decimal escape after `\`: a backreference (refused) or a legacy octal or identity escape. */
  #decimal(first: string, inClass: boolean): number {
    if (!inClass && first !== "0") {
      const m = /^\d+/.exec(this.src.slice(this.#i - 1))!;
      if (Number(m[0]) <= this.#groups) {
        throw new UnsupportedPatternError("backreferences are not supported");
      }
    }
    if (first === "8" || first === "9") return first.charCodeAt(0);
    // Legacy octal: up to three digits, at most \377.
    let value = Number(first);
    if (/[0-7]/.test(this.#peek() ?? "")) {
      value = value * 8 + Number(this.src[this.#i++]);
      if (first <= "3" && /[0-7]/.test(this.#peek() ?? "")) {
        value = value * 8 + Number(this.src[this.#i++]);
      }
    }
    return value;
  }

  /** A character escape after `\` (also inside classes); a code unit, or a class as ranges. */
  #charEscape(inClass: boolean): number | [number, number][] {
    const c = this.src[this.#i++];
    switch (c) {
      case "d":
        return DIGIT;
      case "D":
        return complement(DIGIT);
      case "w":
        return WORD;
      case "W":
        return complement(WORD);
      case "s":
        return SPACE;
      case "S":
        return complement(SPACE);
      case "f":
        return 12;
      case "n":
        return 10;
      case "r":
        return 13;
      case "t":
        return 9;
      case "v":
        return 11;
      case "b":
        return 8; // only reached inside a class
      case "c": {
        const letter = this.#peek() ?? "";
        if (/[A-Za-z]/.test(letter) || (inClass && /[0-9_]/.test(letter))) {
          this.#i++;
          return letter.charCodeAt(0) % 32;
        }
        this.#i--; // `\c` not followed by a control letter is a backslash, then `c`
        return 92;
      }
      case "x": {
        const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.#i));
        if (!m) return 120;
        this.#i += 2;
        return parseInt(m[0], 16);
      }
      case "u": {
        const m = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.#i));
        if (!m) return 117;
        this.#i += 4;
        return parseInt(m[0], 16);
      }
      case "k":
        if (this.#named && !inClass) {
          throw new UnsupportedPatternError("backreferences are not supported");
        }
        return 107;
      case undefined:
        throw new UnsupportedPatternError("a pattern may not end with \\");
      default:
        if (c >= "0" && c <= "9") return this.#decimal(c, inClass);
        return c.charCodeAt(0);
    }
  }

  #escape(): { node: Ast; quantifiable: boolean } {
    const c = this.#peek();
    if (c === "b" || c === "B") {
      this.#i++;
      return { node: { t: "assert", kind: c }, quantifiable: false };
    }
    const e = this.#charEscape(false);
    return {
      node: {
        t: "set",
        set: typeof e === "number" ? single(e) : { ranges: merge(e), negated: false },
      },
      quantifiable: true,
    };
  }

  #class(): CharSet {
    let negated = false;
    if (this.#peek() === "^") {
      negated = true;
      this.#i++;
    }
    const ranges: [number, number][] = [];
    const atom = (): number | [number, number][] => {
      const c = this.src[this.#i++];
      if (c === "\\") return this.#charEscape(true);
      return c.charCodeAt(0);
    };
    while (this.#peek() !== "]") {
      if (this.#i >= this.src.length) throw new UnsupportedPatternError("unterminated class");
      const lo = atom();
      if (this.#peek() === "-" && this.#peek(1) !== "]" && this.#peek(1) !== undefined) {
        this.#i++;
        const hi = atom();
        if (typeof lo === "number" && typeof hi === "number") {
          ranges.push([lo, hi]);
          continue;
        }
        // A class escape at either end makes the `-` a literal.
        for (const x of [lo, 45, hi]) {
          if (typeof x === "number") ranges.push([x, x]);
          else ranges.push(...x);
        }
        continue;
      }
      if (typeof lo === "number") ranges.push([lo, lo]);
      else ranges.push(...lo);
    }
    this.#i++;
    return { ranges: merge(ranges), negated };
  }
}

// ---- compilation -----------------------------------------------------------------------------

const OP_SET = 0;
const OP_SPLIT = 1;
const OP_JMP = 2;
const OP_ASSERT = 3;
const OP_MATCH = 4;

const ASSERT_START = 0;
const ASSERT_END = 1;
const ASSERT_WORD = 2;
const ASSERT_NOT_WORD = 3;

interface Program {
  op: number[];
  a: number[];
  b: number[];
  sets: (CharSet | undefined)[];
  usesWordBoundary: boolean;
}

class Compiler {
  readonly prog: Program = { op: [], a: [], b: [], sets: [], usesWordBoundary: false };

  #emit(op: number, a = -1, b = -1, set?: CharSet): number {
    const p = this.prog;
    if (p.op.length >= MAX_PROGRAM) {
      throw new UnsupportedPatternError(
        "the pattern is too large (expand fewer repetitions, such as {1000})",
      );
    }
    p.op.push(op);
    p.a.push(a);
    p.b.push(b);
    p.sets.push(set);
    return p.op.length - 1;
  }

  /** Emits `node`; its loose ends (instructions whose `a` is -1 to patch) are returned. */
  emit(node: Ast): number[] {
    const p = this.prog;
    switch (node.t) {
      case "empty": {
        const j = this.#emit(OP_JMP);
        return [j];
      }
      case "set":
        return [this.#emit(OP_SET, -1, -1, node.set)];
      case "assert": {
        const kind = node.kind === "^"
          ? ASSERT_START
          : node.kind === "$"
          ? ASSERT_END
          : node.kind === "b"
          ? ASSERT_WORD
          : ASSERT_NOT_WORD;
        if (kind >= ASSERT_WORD) p.usesWordBoundary = true;
        return [this.#emit(OP_ASSERT, -1, kind)];
      }
      case "cat": {
        let ends: number[] = [];
        for (let i = 0; i < node.items.length; i++) {
          const start = p.op.length;
          const next = this.emit(node.items[i]);
          this.#patch(ends, start);
          ends = next;
        }
        return ends;
      }
      case "alt": {
        // split L1, (split L2, ...)
        const ends: number[] = [];
        for (let i = 0; i < node.items.length; i++) {
          if (i < node.items.length - 1) {
            const split = this.#emit(OP_SPLIT, -1, -1);
            p.a[split] = p.op.length;
            ends.push(...this.emit(node.items[i]));
            p.b[split] = p.op.length;
          } else ends.push(...this.emit(node.items[i]));
        }
        return ends;
      }
      case "rep": {
        const { min, max } = node;
        let ends: number[] = [];
        let first = true;
        const chain = (emitPart: () => number[]) => {
          const start = p.op.length;
          const next = emitPart();
          if (!first) this.#patch(ends, start);
          first = false;
          ends = next;
        };
        for (let k = 0; k < min; k++) chain(() => this.emit(node.node));
        if (max === Infinity) {
          chain(() => {
            const split = this.#emit(OP_SPLIT, -1, -1);
            p.a[split] = p.op.length;
            const body = this.emit(node.node);
            this.#patch(body, split);
            return [split]; // its `b` is the loose end
          });
        } else {
          for (let k = min; k < max; k++) {
            chain(() => {
              const split = this.#emit(OP_SPLIT, -1, -1);
              p.a[split] = p.op.length;
              const body = this.emit(node.node);
              return [...body, split];
            });
          }
        }
        if (first) return [this.#emit(OP_JMP)];
        return ends;
      }
    }
  }

  /** Points every loose end at `target`: a split's free branch is its `b`, others' `a`. */
  #patch(ends: number[], target: number): void {
    const p = this.prog;
    for (const e of ends) {
      if (p.op[e] === OP_SPLIT) {
        if (p.b[e] === -1) p.b[e] = target;
        else p.a[e] = target;
      } else p.a[e] = target;
    }
  }

  finish(node: Ast): number {
    const start = this.prog.op.length;
    const ends = this.emit(node);
    this.#patch(ends, this.#emit(OP_MATCH));
    return start;
  }
}

// ---- a literal every match contains ------------------------------------------------------

/** What a node says about literals: the one string it matches, if so, and ones it must hold. */
interface Literals {
  exact?: string;
  required: string[];
}

function literalsOf(node: Ast): Literals {
  switch (node.t) {
    case "empty":
    case "assert":
      return { exact: "", required: [] };
    case "set": {
      const { ranges, negated } = node.set;
      return !negated && ranges.length === 2 && ranges[0] === ranges[1]
        ? { exact: String.fromCharCode(ranges[0]), required: [] }
        : { required: [] };
    }
    case "cat": {
      const required: string[] = [];
      let run = "";
      let exact: string | undefined = "";
      for (const item of node.items) {
        const l = literalsOf(item);
        if (l.exact !== undefined) {
          run += l.exact;
          if (exact !== undefined) exact += l.exact;
        } else {
          if (run) required.push(run);
          run = "";
          exact = undefined;
          required.push(...l.required);
        }
      }
      if (run) required.push(run);
      return { exact, required };
    }
    case "alt": {
      const all = node.items.map(literalsOf);
      const first = all[0].exact;
      return first !== undefined && all.every((l) => l.exact === first)
        ? { exact: first, required: [] }
        : { required: [] };
    }
    case "rep": {
      if (node.min === 0) return { exact: node.max === 0 ? "" : undefined, required: [] };
      const inner = literalsOf(node.node);
      const required = [...inner.required];
      if (inner.exact) required.push(inner.exact);
      return {
        exact: node.min === node.max && inner.exact !== undefined && node.min <= 1000
          ? inner.exact.repeat(node.min)
          : undefined,
        required,
      };
    }
  }
}

/**
 * A quick test that `text` holds the longest literal every match must contain; undefined when
 * there is none worth looking for. With `i`, a native expression of the escaped literal (which
 * cannot backtrack) folds case exactly as the pattern does.
 */
function literalFilter(node: Ast, ignoreCase: boolean): ((text: string) => boolean) | undefined {
  const { exact, required } = literalsOf(node);
  const best = [...required, exact ?? ""].reduce((a, b) => (b.length > a.length ? b : a), "");
  if (!best) return undefined;
  if (!ignoreCase) return (text) => text.includes(best);
  const re = new RegExp(best.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&"), "i");
  return (text) => re.test(text);
}

// ---- matching --------------------------------------------------------------------------------

interface DfaState {
  /** Instructions (SET ones) the threads are at, before following empty moves. */
  pcs: Int32Array;
  atStart: boolean;
  prevWord: boolean;
  /** Next state per ASCII code unit: -1 unknown, -2 a match was found. */
  ascii: Int32Array;
  other: Map<number, number>;
  /** Whether a match ends here when the input ends: -1 unknown, 0 no, 1 yes. */
  atEnd: number;
}

/**
 * A compiled pattern: `test` answers as `RegExp.prototype.test` would, in time linear in the
 * input.
 *
 * @example
 * ```ts
 * import { LinearRegExp } from "./fs_regex.ts";
 * const re = LinearRegExp.compile("^(a+)+$", "");
 * console.log(re.test("a".repeat(50) + "!")); // false, at once
 * ```
 */
export class LinearRegExp {
  readonly #prog: Program;
  readonly #start: number;
  readonly #ignoreCase: boolean;
  #states: DfaState[] = [];
  #index = new Map<string, number>();
  /** Counts cache restarts: a state id from before one means nothing after it. */
  #epoch = 0;
  // Scratch space for following empty moves.
  readonly #mark: Int32Array;
  #generation = 0;
  readonly #stack: Int32Array;

  readonly #literal: ((text: string) => boolean) | undefined;
  #initial = -1;
  #initialEpoch = -1;

  private constructor(
    prog: Program,
    start: number,
    ignoreCase: boolean,
    literal: ((text: string) => boolean) | undefined,
  ) {
    this.#literal = literal;
    this.#prog = prog;
    this.#start = start;
    this.#ignoreCase = ignoreCase;
    this.#mark = new Int32Array(prog.op.length);
    this.#stack = new Int32Array(prog.op.length * 2 + 2);
  }

  /**
   * Compiles `source` with `flags` (only `i` and `s`); throws `SyntaxError` as `RegExp` does for
   * a malformed pattern and {@linkcode UnsupportedPatternError} for syntax this engine lacks.
   */
  static compile(source: string, flags = ""): LinearRegExp {
    new RegExp(source, flags); // the platform's syntax check and its error messages
    for (const f of flags) {
      if (f !== "i" && f !== "s") {
        throw new UnsupportedPatternError(`the regular expression flag '${f}' is not supported`);
      }
    }
    const node = new Parser(source, flags.includes("s")).parse();
    const compiler = new Compiler();
    const start = compiler.finish(node);
    const ignoreCase = flags.includes("i");
    return new LinearRegExp(compiler.prog, start, ignoreCase, literalFilter(node, ignoreCase));
  }

  /**
   * False when `text` cannot hold a match anywhere, because it lacks a literal every match
   * contains; true when it may (a quick test before {@linkcode LinearRegExp.test} line by line).
   */
  mayMatch(text: string): boolean {
    return this.#literal ? this.#literal(text) : true;
  }

  /** Whether the pattern matches anywhere in `text`. */
  test(text: string): boolean {
    if (this.#literal && !this.#literal(text)) return false;
    if (this.#initialEpoch !== this.#epoch) {
      this.#initial = this.#state(new Int32Array(0), true, false);
      this.#initialEpoch = this.#epoch;
    }
    let state = this.#initial;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      const s = this.#states[state];
      let next = c < 128 ? s.ascii[c] : (s.other.get(c) ?? -1);
      if (next === -1) {
        const epoch = this.#epoch;
        next = this.#step(s, c);
        // The cache may have started over: `s` is then no longer a live state.
        if (epoch === this.#epoch) {
          if (c < 128) s.ascii[c] = next;
          else s.other.set(c, next);
        }
      }
      if (next === -2) return true;
      state = next;
    }
    const s = this.#states[state];
    if (s.atEnd === -1) s.atEnd = this.#close(s.pcs, s.atStart, s.prevWord, -1, null) ? 1 : 0;
    return s.atEnd === 1;
  }

  /** The state for threads at `pcs` (sorted) with this context. */
  #state(pcs: Int32Array, atStart: boolean, prevWord: boolean): number {
    const word = this.#prog.usesWordBoundary && prevWord;
    const key = `${atStart ? "S" : ""}${word ? "w" : ""}:${pcs.join(",")}`;
    let id = this.#index.get(key);
    if (id === undefined) {
      if (this.#states.length >= MAX_DFA_STATES) {
        this.#states = [];
        this.#index = new Map();
        this.#epoch++;
      }
      id = this.#states.length;
      this.#states.push({
        pcs,
        atStart,
        prevWord: word,
        ascii: new Int32Array(128).fill(-1),
        other: new Map(),
        atEnd: -1,
      });
      this.#index.set(key, id);
    }
    return id;
  }

  /** Consumes `c` from state `s`: the next state, or -2 when a match ends before `c`. */
  #step(s: DfaState, c: number): number {
    const out: number[] = [];
    if (this.#close(s.pcs, s.atStart, s.prevWord, c, out)) return -2;
    const prog = this.#prog;
    const next: number[] = [];
    const seen = new Set<number>();
    for (const pc of out) {
      if (setHas(prog.sets[pc]!, c, this.#ignoreCase)) {
        const to = prog.a[pc];
        if (!seen.has(to)) {
          seen.add(to);
          next.push(to);
        }
      }
    }
    next.sort((x, y) => x - y);
    return this.#state(Int32Array.from(next), false, isWordUnit(c));
  }

  /**
   * Follows empty moves from `pcs` plus a new thread at the start, at a position whose context
   * is given (`next` is -1 at the end of input); collects the SET instructions reached into
   * `out` and says whether a MATCH was reached.
   */
  #close(
    pcs: Int32Array,
    atStart: boolean,
    prevWord: boolean,
    next: number,
    out: number[] | null,
  ): boolean {
    const prog = this.#prog;
    const mark = this.#mark;
    const stack = this.#stack;
    const generation = ++this.#generation;
    if (generation === 0x7fffffff) {
      mark.fill(0);
      this.#generation = 1;
    }
    const g = this.#generation;
    const nextWord = next >= 0 && isWordUnit(next);
    let matched = false;
    const run = (from: number) => {
      let sp = 0;
      stack[sp++] = from;
      while (sp > 0) {
        const pc = stack[--sp];
        if (mark[pc] === g) continue;
        mark[pc] = g;
        switch (prog.op[pc]) {
          case OP_SET:
            out?.push(pc);
            break;
          case OP_MATCH:
            matched = true;
            break;
          case OP_JMP:
            stack[sp++] = prog.a[pc];
            break;
          case OP_SPLIT:
            stack[sp++] = prog.b[pc];
            stack[sp++] = prog.a[pc];
            break;
          case OP_ASSERT: {
            const kind = prog.b[pc];
            const ok = kind === ASSERT_START
              ? atStart
              : kind === ASSERT_END
              ? next === -1
              : kind === ASSERT_WORD
              ? prevWord !== nextWord
              : prevWord === nextWord;
            if (ok) stack[sp++] = prog.a[pc];
            break;
          }
        }
      }
    };
    for (const pc of pcs) run(pc);
    run(this.#start);
    return matched;
  }
}
