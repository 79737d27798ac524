/**
 * Constrained decoding: a byte-level pushdown automaton over JSON that follows a compiled
 * schema. At each step it masks every token whose bytes cannot extend a valid prefix, so the
 * output always parses and validates. Token bytes live in a trie, so tokens sharing a prefix
 * share the work of checking it.
 */
import type { Tokenizer } from "./_tokenizer.ts";
import { ANY, byteString, type SchemaNode } from "./json_schema.ts";

type ObjectNode = Extract<SchemaNode, { kind: "object" }>;
type ArrayNode = Extract<SchemaNode, { kind: "array" }>;
type StringNode = Extract<SchemaNode, { kind: "string" }>;

type ObjectPhase =
  | "open"
  | "key"
  | "colon"
  | "afterColon"
  | "valueStart"
  | "afterValue"
  | "afterComma"
  | "afterCommaSpace";

type Frame =
  | { t: "value"; node: SchemaNode }
  | { t: "lit"; values: string[]; pos: number }
  | { t: "str"; node: StringNode; len: number; esc: number; cont: number; lo?: number; hi?: number }
  | { t: "num"; integer: boolean; phase: string; digits: number }
  | {
    t: "obj";
    node: ObjectNode;
    phase: ObjectPhase;
    seen: string[];
    key: string;
    current?: string;
  }
  | {
    t: "arr";
    node: ArrayNode;
    phase: "open" | "afterValue" | "afterComma" | "valueStart";
    count: number;
  };

/** A persistent stack; `null` is the empty stack, which means the output is complete. */
type Stack = { frame: Frame; next: Stack } | null;

const QUOTE = 34, BACKSLASH = 92, COMMA = 44, COLON = 58, SPACE = 32;
const OPEN_OBJ = 123, CLOSE_OBJ = 125, OPEN_ARR = 91, CLOSE_ARR = 93;
const MAX_INT_DIGITS = 15, MAX_FRAC_DIGITS = 12, MAX_EXP_DIGITS = 3;
const ANY_OPTIONS: SchemaNode[] = [
  { kind: "object", required: [], ordered: false },
  { kind: "array", items: ANY, minItems: 0, maxItems: Infinity },
  { kind: "string", minLength: 0, maxLength: Infinity },
  { kind: "number", integer: false },
  { kind: "literal", values: ["true", "false", "null"] },
];

function push(frame: Frame, next: Stack): Stack {
  return { frame, next };
}

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

function isHex(b: number): boolean {
  return isDigit(b) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102);
}

/** An object node's keys, their encodings and value nodes, built once per node. */
interface ObjectShape {
  names: string[];
  encodings: Map<string, string>;
  values: Map<string, SchemaNode>;
}

const shapes = new WeakMap<ObjectNode, ObjectShape>();

// Schemas with many properties are walked once per byte of every candidate token, so the
// per-node lookups are precomputed instead of searched and re-encoded on each byte.
function shapeOf(node: ObjectNode): ObjectShape {
  let shape = shapes.get(node);
  if (!shape) {
    const names = (node.properties ?? []).map(([n]) => n);
    shape = {
      names,
      encodings: new Map(names.map((n) => [n, keyEncoding(n)])),
      values: new Map(node.properties ?? []),
    };
    shapes.set(node, shape);
  }
  return shape;
}

function keyEncoding(name: string): string {
  return byteString(JSON.stringify(name));
}

function encodedKey(node: ObjectNode, name: string): string {
  return shapeOf(node).encodings.get(name) ?? keyEncoding(name);
}

function propertyNode(node: ObjectNode, name: string): SchemaNode {
  return shapeOf(node).values.get(name) ?? ANY;
}

/** The node of the value after key `name`; a key of a free object (none declared) has none. */
function valueNode(node: ObjectNode, name: string | undefined): SchemaNode {
  return name === undefined ? node.additional ?? ANY : propertyNode(node, name);
}

/** Keys that may come next in `frame`. */
function candidateKeys(node: ObjectNode, seen: readonly string[]): string[] {
  const { names } = shapeOf(node);
  if (node.ordered) {
    const next = names[seen.length];
    return next === undefined ? [] : [next];
  }
  if (!seen.length) return names;
  const taken = new Set(seen);
  return names.filter((n) => !taken.has(n));
}

function requiredDone(node: ObjectNode, seen: readonly string[]): boolean {
  if (node.required.length > seen.length) return false;
  const taken = new Set(seen);
  return node.required.every((r) => taken.has(r));
}

/** Starts a value of `node` with byte `b`, on top of `next`. */
function startValue(node: SchemaNode, b: number, next: Stack, out: Stack[]): void {
  switch (node.kind) {
    case "any":
      for (const option of ANY_OPTIONS) startValue(option, b, next, out);
      return;
    case "union":
      for (const option of node.options) startValue(option, b, next, out);
      return;
    case "object":
      if (b === OPEN_OBJ) {
        out.push(push({ t: "obj", node, phase: "open", seen: [], key: "" }, next));
      }
      return;
    case "array":
      if (b === OPEN_ARR) out.push(push({ t: "arr", node, phase: "open", count: 0 }, next));
      return;
    case "string":
      if (b === QUOTE) out.push(push({ t: "str", node, len: 0, esc: 0, cont: 0 }, next));
      return;
    case "number":
      if (b === 45) {
        out.push(push({ t: "num", integer: node.integer, phase: "sign", digits: 0 }, next));
      } else if (b === 48) {
        out.push(push({ t: "num", integer: node.integer, phase: "zero", digits: 1 }, next));
      } else if (isDigit(b)) {
        out.push(push({ t: "num", integer: node.integer, phase: "int", digits: 1 }, next));
      }
      return;
    case "literal":
      feed(push({ t: "lit", values: node.values, pos: 0 }, next), b, out);
      return;
  }
}

function numberAccepting(phase: string): boolean {
  return phase === "zero" || phase === "int" || phase === "frac" || phase === "exp";
}

/** Feeds byte `b` to `stack`, appending every resulting stack to `out`. */
function feed(stack: Stack, b: number, out: Stack[]): void {
  if (stack === null) return;
  const f = stack.frame;
  const next = stack.next;
  switch (f.t) {
    case "value":
      startValue(f.node, b, next, out);
      return;
    case "lit": {
      const ext = f.values.filter((v) => v.length > f.pos && v.charCodeAt(f.pos) === b);
      if (ext.length) {
        const pos = f.pos + 1;
        if (ext.every((v) => v.length === pos)) out.push(next);
        else out.push(push({ t: "lit", values: ext, pos }, next));
      } else if (f.values.some((v) => v.length === f.pos)) {
        feed(next, b, out);
      }
      return;
    }
    case "str": {
      if (f.esc === 1) {
        if (b === 117) out.push(push({ ...f, esc: 5 }, next));
        else if ([34, 92, 47, 98, 102, 110, 114, 116].includes(b)) {
          out.push(push({ ...f, esc: 0, len: f.len + 1 }, next));
        }
        return;
      }
      if (f.esc > 1) {
        if (!isHex(b)) return;
        if (f.esc === 2) out.push(push({ ...f, esc: 0, len: f.len + 1 }, next));
        else out.push(push({ ...f, esc: f.esc - 1 }, next));
        return;
      }
      // Only well-formed UTF-8: continuation bytes exactly where a lead byte asked for them.
      if (f.cont > 0) {
        if (b >= (f.lo ?? 0x80) && b <= (f.hi ?? 0xbf)) {
          out.push(push({ ...f, cont: f.cont - 1, lo: undefined, hi: undefined }, next));
        }
        return;
      }
      if (b === QUOTE) {
        if (f.len >= f.node.minLength) out.push(next);
        return;
      }
      if (b === BACKSLASH) {
        // The escape is one more character; it must fit before it starts.
        if (f.len + 1 <= f.node.maxLength) out.push(push({ ...f, esc: 1 }, next));
        return;
      }
      if (b < 0x20 || (b >= 0x80 && b < 0xc2) || b > 0xf4) return;
      const cont = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc2 ? 1 : 0;
      // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
      const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : undefined;
      const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : undefined;
      if (f.len + 1 <= f.node.maxLength) {
        out.push(push({ ...f, len: f.len + 1, cont, lo, hi }, next));
      }
      return;
    }
    case "num": {
      const to = (phase: string, digits: number) =>
        out.push(push({ t: "num", integer: f.integer, phase, digits }, next));
      const d = isDigit(b);
      switch (f.phase) {
        case "sign":
          if (b === 48) return void to("zero", 1);
          if (d) return void to("int", 1);
          return;
        case "int":
          if (d && f.digits < MAX_INT_DIGITS) return void to("int", f.digits + 1);
        // falls through
        case "zero":
          if (!f.integer && b === 46) return void to("dot", 0);
          if (!f.integer && (b === 101 || b === 69)) return void to("e", 0);
          if (d) return;
          break;
        case "dot":
          if (d) to("frac", 1);
          return;
        case "frac":
          if (d && f.digits < MAX_FRAC_DIGITS) return void to("frac", f.digits + 1);
          if (b === 101 || b === 69) return void to("e", 0);
          if (d) return;
          break;
        case "e":
          if (b === 43 || b === 45) return void to("esign", 0);
        // falls through
        case "esign":
          if (d) to("exp", 1);
          return;
        case "exp":
          if (d && f.digits < MAX_EXP_DIGITS) return void to("exp", f.digits + 1);
          if (d) return;
          break;
      }
      if (numberAccepting(f.phase)) feed(next, b, out);
      return;
    }
    case "obj":
      feedObject(f, next, b, out);
      return;
    case "arr": {
      const node = f.node;
      const startItem = () => {
        if (f.count >= node.maxItems) return;
        const parent = push({ ...f, phase: "afterValue", count: f.count + 1 }, next);
        startValue(node.items, b, parent, out);
      };
      switch (f.phase) {
        case "open":
          if (b === CLOSE_ARR && node.minItems === 0) out.push(next);
          else startItem();
          return;
        case "afterValue":
          if (b === COMMA && f.count < node.maxItems) {
            out.push(push({ ...f, phase: "afterComma" }, next));
          } else if (b === CLOSE_ARR && f.count >= node.minItems) out.push(next);
          return;
        case "afterComma":
          if (b === SPACE) out.push(push({ ...f, phase: "valueStart" }, next));
          else startItem();
          return;
        case "valueStart":
          startItem();
          return;
      }
    }
  }
}

function feedObject(
  f: Extract<Frame, { t: "obj" }>,
  next: Stack,
  b: number,
  out: Stack[],
): void {
  const node = f.node;
  const free = node.properties === undefined;
  const startKey = () => {
    if (free) {
      out.push(
        push({
          t: "str",
          node: { kind: "string", minLength: 0, maxLength: Infinity },
          len: 0,
          esc: 0,
          cont: 0,
        }, push({ ...f, phase: "colon", current: undefined }, next)),
      );
      return;
    }
    if (candidateKeys(node, f.seen).length) out.push(push({ ...f, phase: "key", key: '"' }, next));
  };
  switch (f.phase) {
    case "open":
      if (b === CLOSE_OBJ && requiredDone(node, f.seen)) out.push(next);
      else if (b === QUOTE) startKey();
      return;
    case "key": {
      const key = f.key + String.fromCharCode(b);
      const candidates = candidateKeys(node, f.seen).filter((n) =>
        encodedKey(node, n).startsWith(key)
      );
      if (!candidates.length) return;
      const exact = candidates.find((n) => encodedKey(node, n) === key);
      if (exact !== undefined) {
        out.push(
          push({ ...f, phase: "colon", key: "", current: exact, seen: [...f.seen, exact] }, next),
        );
      } else out.push(push({ ...f, key }, next));
      return;
    }
    case "colon":
      if (b === COLON) out.push(push({ ...f, phase: "afterColon" }, next));
      return;
    case "afterColon":
      if (b === SPACE) {
        out.push(push({ ...f, phase: "valueStart" }, next));
        return;
      }
    // falls through
    case "valueStart": {
      const value = valueNode(node, f.current);
      startValue(value, b, push({ ...f, phase: "afterValue", current: undefined }, next), out);
      return;
    }
    case "afterValue":
      if (b === COMMA && (free || candidateKeys(node, f.seen).length)) {
        out.push(push({ ...f, phase: "afterComma" }, next));
      } else if (b === CLOSE_OBJ && requiredDone(node, f.seen)) out.push(next);
      return;
    case "afterComma":
      if (b === SPACE) out.push(push({ ...f, phase: "afterCommaSpace" }, next));
      else if (b === QUOTE) startKey();
      return;
    case "afterCommaSpace":
      if (b === QUOTE) startKey();
      return;
  }
}

const minimalLengths = new WeakMap<SchemaNode, number>();

/**
 * Bytes in the shortest complete value of `node`. Counted, never built: a schema such as
 * `{"minItems": 1000000}` has a minimal value far too large to materialize.
 */
export function minimalValueLength(node: SchemaNode): number {
  const known = minimalLengths.get(node);
  if (known !== undefined) return known;
  let length: number;
  switch (node.kind) {
    case "any":
      length = "null".length;
      break;
    case "union":
      length = Math.min(...node.options.map(minimalValueLength));
      break;
    case "object":
      length = "{}".length + requiredRestLength(node, [], false) - "}".length;
      break;
    case "array":
      length = "[]".length + node.minItems * minimalValueLength(node.items) +
        Math.max(0, node.minItems - 1);
      break;
    case "string":
      length = '""'.length + node.minLength;
      break;
    case "number":
      length = "0".length;
      break;
    case "literal":
      length = Math.min(...node.values.map((v) => v.length));
      break;
  }
  minimalLengths.set(node, length);
  return length;
}

/** The shortest text that is a complete value of `node`; callers bound its length first. */
function minimalValue(node: SchemaNode): string {
  switch (node.kind) {
    case "any":
      return "null";
    case "union":
      return minimalValue(shortestOf(node.options));
    case "object":
      return "{" + finishObjectFrom(node, [], false);
    case "array":
      return `[${Array.from({ length: node.minItems }, () => minimalValue(node.items)).join(",")}]`;
    case "string":
      return `"${"a".repeat(node.minLength)}"`;
    case "number":
      return "0";
    case "literal":
      return shortestString(node.values);
  }
}

function shortestOf(options: SchemaNode[]): SchemaNode {
  let best = options[0] ?? ANY;
  for (const option of options) {
    if (minimalValueLength(option) < minimalValueLength(best)) best = option;
  }
  return best;
}

function shortestString(values: readonly string[]): string {
  return values.reduce((best, v) => (v.length < best.length ? v : best));
}

function unseenRequired(node: ObjectNode, seen: readonly string[]): string[] {
  const taken = new Set(seen);
  return node.required.filter((r) => !taken.has(r));
}

/** Bytes of {@linkcode finishObjectFrom}'s text. */
function requiredRestLength(node: ObjectNode, seen: readonly string[], needComma: boolean): number {
  let length = "}".length;
  let comma = needComma;
  for (const r of unseenRequired(node, seen)) {
    length += (comma ? 1 : 0) + encodedKey(node, r).length + ":".length +
      minimalValueLength(propertyNode(node, r));
    comma = true;
  }
  return length;
}

function finishObjectFrom(node: ObjectNode, seen: readonly string[], needComma: boolean): string {
  let out = "";
  let comma = needComma;
  for (const r of unseenRequired(node, seen)) {
    out += `${comma ? "," : ""}${encodedKey(node, r)}:${minimalValue(propertyNode(node, r))}`;
    comma = true;
  }
  return out + "}";
}

/** The key an object in the middle of a key (or after a comma) is finished with. */
function keyToFinish(node: ObjectNode, f: Extract<Frame, { t: "obj" }>): string {
  const candidates = candidateKeys(node, f.seen).filter((n) =>
    encodedKey(node, n).startsWith(f.key)
  );
  return candidates.find((n) => node.required.includes(n)) ?? candidates[0];
}

/** The key a free object is finished with when it needs one more (after a comma). */
const FREE_KEY = '"k":';

/**
 * The shortest bytes that finish the top frame (parents are finished by the caller), or with
 * `build` false only their count.
 */
function finishFrame(f: Frame, build: true): string;
function finishFrame(f: Frame, build: false): number;
function finishFrame(f: Frame, build: boolean): string | number {
  const value = (node: SchemaNode) => build ? minimalValue(node) : minimalValueLength(node);
  const join = (...parts: (string | number)[]) =>
    build ? parts.join("") : parts.reduce<number>((n, p) => n + Number(p), 0);
  const rest = (node: ObjectNode, seen: readonly string[], comma: boolean) =>
    build ? finishObjectFrom(node, seen, comma) : requiredRestLength(node, seen, comma);
  const text = (t: string) => build ? t : t.length;
  switch (f.t) {
    case "value":
      return value(f.node);
    case "lit":
      return text(shortestString(f.values.map((v) => v.slice(f.pos))));
    case "str": {
      const continuation = f.cont
        ? String.fromCharCode(f.lo ?? 0x80) + "\x80".repeat(f.cont - 1)
        : "";
      const escape = f.esc === 1 ? "n" : f.esc > 1 ? "0".repeat(f.esc - 1) : "";
      const missing = Math.max(0, f.node.minLength - f.len - (f.esc ? 1 : 0));
      return build
        ? continuation + escape + "a".repeat(missing) + '"'
        : continuation.length + escape.length + missing + 1;
    }
    case "num":
      return text(numberAccepting(f.phase) ? "" : "0");
    case "arr": {
      const missing = Math.max(0, f.node.minItems - f.count);
      if (!build) {
        const item = minimalValueLength(f.node.items);
        if (f.phase === "open") return missing * item + Math.max(0, missing - 1) + 1;
        if (f.phase === "afterValue") return missing * (item + 1) + 1;
        return item + Math.max(0, missing - 1) * (item + 1) + 1;
      }
      const item = minimalValue(f.node.items);
      if (f.phase === "open") return `${Array.from({ length: missing }, () => item).join(",")}]`;
      if (f.phase === "afterValue") return `${`,${item}`.repeat(missing)}]`;
      return `${item}${`,${item}`.repeat(Math.max(0, missing - 1))}]`;
    }
    case "obj": {
      const node = f.node;
      const valueOf = (name?: string) => value(valueNode(node, name));
      switch (f.phase) {
        case "open":
        case "afterValue":
          return rest(node, f.seen, f.phase === "afterValue");
        case "key": {
          const name = keyToFinish(node, f);
          return join(
            text(encodedKey(node, name).slice(f.key.length) + ":"),
            valueOf(name),
            rest(node, [...f.seen, name], true),
          );
        }
        case "colon":
          return join(text(":"), valueOf(f.current), rest(node, f.seen, true));
        case "afterColon":
        case "valueStart":
          return join(valueOf(f.current), rest(node, f.seen, true));
        case "afterComma":
        case "afterCommaSpace": {
          if (node.properties === undefined) return join(text(FREE_KEY), valueOf(), text("}"));
          const name = keyToFinish(node, { ...f, key: "" });
          return join(
            text(encodedKey(node, name) + ":"),
            valueOf(name),
            rest(node, [...f.seen, name], true),
          );
        }
      }
    }
  }
}

function completionOf(stack: Stack): string {
  let out = "";
  for (let s = stack; s !== null; s = s.next) out += finishFrame(s.frame, true);
  return out;
}

function completionLength(stack: Stack): number {
  let length = 0;
  for (let s = stack; s !== null; s = s.next) length += finishFrame(s.frame, false);
  return length;
}

function canStop(stack: Stack): boolean {
  if (stack === null) return true;
  if (stack.next !== null) return false;
  const f = stack.frame;
  return (f.t === "num" && numberAccepting(f.phase)) ||
    (f.t === "lit" && f.values.some((v) => v.length === f.pos));
}

interface Trie {
  children: Map<number, number>[];
  tokens: number[][];
  /** Bytes in the vocabulary's longest token. */
  depth: number;
}

const tries = new WeakMap<Tokenizer, Trie>();

/**
 * Most readings of the output kept at once. Ambiguous schemas (many `anyOf` options sharing a
 * prefix) multiply them, and every byte of every candidate token is fed to each; past this
 * the first ones are kept. Any reading kept is a valid one, so the output stays valid.
 */
const MAX_PARALLEL_STATES = 64;

function bounded(states: Stack[]): Stack[] {
  return states.length > MAX_PARALLEL_STATES ? states.slice(0, MAX_PARALLEL_STATES) : states;
}

/** The byte trie of a tokenizer's vocabulary, built once per tokenizer. */
function trieOf(tokenizer: Tokenizer): Trie {
  const cached = tries.get(tokenizer);
  if (cached) return cached;
  const trie: Trie = { children: [new Map()], tokens: [[]], depth: 0 };
  const special = new Set(tokenizer.specialTokens.values());
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (special.has(id)) continue;
    const bytes = tokenizer.tokenBytes(id);
    if (!bytes.length) continue;
    let node = 0;
    for (const b of bytes) {
      let child = trie.children[node].get(b);
      if (child === undefined) {
        child = trie.children.length;
        trie.children.push(new Map());
        trie.tokens.push([]);
        trie.children[node].set(b, child);
      }
      node = child;
    }
    trie.tokens[node].push(id);
    trie.depth = Math.max(trie.depth, bytes.length);
  }
  tries.set(tokenizer, trie);
  return trie;
}

/** The token that is exactly the byte `b`, if the vocabulary has one (byte fallback). */
function byteToken(trie: Trie, b: number): number | undefined {
  const node = trie.children[0].get(b);
  return node === undefined ? undefined : trie.tokens[node][0];
}

/**
 * Bytes in the longest token of `tokenizer`: `n` tokens never carry more than `n` times this,
 * which bounds how many tokens a text of known length needs without encoding it.
 */
export function longestTokenBytes(tokenizer: Tokenizer): number {
  return trieOf(tokenizer).depth;
}

/** What the generator asks of a constraint at each step. */
export interface TokenConstraint {
  /** Whether `token` may come next. */
  allows(token: number): boolean;
  /** A 0/1 mask over the vocabulary of the tokens that may come next. */
  mask(): Uint8Array;
  /** Consumes `token`. */
  advance(token: number): void;
  /** The output so far is complete, so an end-of-sequence token may come next. */
  isComplete(): boolean;
  /** Complete and nothing more may follow. */
  mustEnd(): boolean;
  /**
   * The shortest text that completes the output. It can be huge (a schema's `minItems`);
   * check {@linkcode TokenConstraint.minimalLength} first.
   */
  completion(): string;
  /**
   * The tokens of {@linkcode TokenConstraint.completion}, including the bytes that finish a
   * character cut in the middle (which no text can spell).
   */
  completionTokens(): number[];
  /** Bytes in the shortest completion, counted without building it. */
  minimalLength(): number;
  /** {@linkcode TokenConstraint.minimalLength} as it would be after `token`, without taking it. */
  minimalLengthAfter(token: number): number;
}

/** Pieces around the JSON value, such as `<tool_call>\n` and `\n</tool_call>`. */
export interface ConstraintFrame {
  prefix?: string;
  suffix?: string;
}

/**
 * A constraint that accepts exactly the JSON texts valid for `node`, optionally wrapped in a
 * fixed prefix and suffix. `eosTokens` may end the output once it is complete.
 *
 * @example
 * ```ts
 * const tokenizer = await loadTokenizer("power/testdata/tiny");
 * const constraint = new JsonConstraint(tokenizer, compileSchema({ type: "object" }), [322]);
 * console.log(constraint.completion()); // {}
 * ```
 */
export class JsonConstraint implements TokenConstraint {
  #tokenizer: Tokenizer;
  #trie: Trie;
  #eos: number[];
  #states: Stack[];

  constructor(
    tokenizer: Tokenizer,
    node: SchemaNode,
    eosTokens: readonly number[],
    frame: ConstraintFrame = {},
  ) {
    this.#tokenizer = tokenizer;
    this.#trie = trieOf(tokenizer);
    this.#eos = [...eosTokens];
    let stack: Stack = null;
    if (frame.suffix) stack = push({ t: "lit", values: [byteString(frame.suffix)], pos: 0 }, stack);
    stack = push({ t: "value", node }, stack);
    if (frame.prefix) stack = push({ t: "lit", values: [byteString(frame.prefix)], pos: 0 }, stack);
    this.#states = [stack];
  }

  #feedBytes(states: Stack[], bytes: Uint8Array): Stack[] {
    let current = states;
    for (const b of bytes) {
      const out: Stack[] = [];
      for (const s of current) feed(s, b, out);
      current = bounded(out);
      if (!current.length) break;
    }
    return current;
  }

  allows(token: number): boolean {
    if (this.#eos.includes(token)) return this.isComplete();
    const bytes = this.#tokenizer.tokenBytes(token);
    if (!bytes.length) return false;
    return this.#feedBytes(this.#states, bytes).length > 0;
  }

  mask(): Uint8Array {
    const allowed = new Uint8Array(
      Math.max(this.#tokenizer.vocabSize, ...this.#eos.map((e) => e + 1)),
    );
    const { children, tokens } = this.#trie;
    const walk = (node: number, states: Stack[]) => {
      for (const [b, child] of children[node]) {
        const out: Stack[] = [];
        for (const s of states) feed(s, b, out);
        if (!out.length) continue;
        for (const t of tokens[child]) allowed[t] = 1;
        walk(child, bounded(out));
      }
    };
    walk(0, this.#states);
    if (this.isComplete()) { for (const e of this.#eos) allowed[e] = 1; }
    return allowed;
  }

  advance(token: number): void {
    if (this.#eos.includes(token)) {
      this.#states = [null];
      return;
    }
    this.#states = this.#feedBytes(this.#states, this.#tokenizer.tokenBytes(token));
  }

  isComplete(): boolean {
    return this.#states.some(canStop);
  }

  mustEnd(): boolean {
    return this.#states.length > 0 && this.#states.every((s) => s === null);
  }

  completion(): string {
    const best = this.#shortestState();
    // Byte strings hold UTF-8 one byte per char; turn them back into text.
    const text = best === undefined ? "" : completionOf(best.state);
    return new TextDecoder().decode(Uint8Array.from(text, (ch) => ch.charCodeAt(0)));
  }

  completionTokens(): number[] {
    const best = this.#shortestState();
    const bytes = best === undefined ? "" : completionOf(best.state);
    // A character cut mid-way is finished byte by byte; the rest is ordinary text.
    let cut = 0;
    while (cut < bytes.length && (bytes.charCodeAt(cut) & 0xc0) === 0x80) cut++;
    const ids: number[] = [];
    for (let i = 0; i < cut; i++) {
      const token = byteToken(this.#trie, bytes.charCodeAt(i));
      if (token === undefined) return ids;
      ids.push(token);
    }
    const rest = new TextDecoder().decode(
      Uint8Array.from(bytes.slice(cut), (c) => c.charCodeAt(0)),
    );
    return ids.concat(rest ? this.#tokenizer.encode(rest, { special: "none" }) : []);
  }

  minimalLength(): number {
    return this.#shortestState()?.length ?? 0;
  }

  minimalLengthAfter(token: number): number {
    if (this.#eos.includes(token)) return 0;
    const states = this.#feedBytes(this.#states, this.#tokenizer.tokenBytes(token));
    return this.#shortestState(states)?.length ?? 0;
  }

  #shortestState(states = this.#states): { state: Stack; length: number } | undefined {
    let best: { state: Stack; length: number } | undefined;
    for (const state of states) {
      const length = completionLength(state);
      if (best === undefined || length < best.length) best = { state, length };
    }
    return best;
  }
}
