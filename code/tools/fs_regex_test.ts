import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { globToRegExp } from "../runtime/glob.ts";
import { LinearRegExp, UnsupportedPatternError } from "./fs_regex.ts";
import { PatternMatcher } from "./fs_match.ts";

Deno.test("fs_regex: answers as RegExp.test does, for random patterns and strings", () => {
  let seed = 20240611;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const atoms = [
    "a",
    "b",
    "A",
    ".",
    "\\d",
    "\\w",
    "\\s",
    "\\W",
    "[ab]",
    "[^a]",
    "[a-c]",
    "[\\d-]",
    "\\.",
    "-",
    "\\b",
    "\\B",
    "^",
    "$",
    "[]",
    "[^]",
    "\\x41",
    "\\u0062",
    "\\0",
    "\\1",
    "\\8",
    "{",
    "}",
    "]",
    "\\cA",
    "\\c",
    "ß",
    "K",
    "\\n",
    "[\\b]",
    "(?:)",
    "\\k",
    "x{,2}",
  ];
  const gen = (depth: number): string => {
    const r = random();
    if (depth > 3 || r < 0.35) return pick(atoms);
    if (r < 0.55) return gen(depth + 1) + gen(depth + 1);
    if (r < 0.65) return `${gen(depth + 1)}|${gen(depth + 1)}`;
    if (r < 0.8) return `(${pick(["", "?:", "?<n>"])}${gen(depth + 1)})`;
    const body = gen(depth + 1);
    const quantifier = pick(["*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "{0}"]);
    return (body.length === 1 || body.startsWith("(") ? body : `(?:${body})`) + quantifier;
  };
  const chars = ["a", "b", "A", "1", " ", "-", ".", "\n", "\u212a", "k", "K", "ß", "\\", "{", "x"];
  let compared = 0;
  for (let i = 0; i < 4000; i++) {
    const source = gen(0);
    const flags = pick(["", "i", "s", "is"]);
    let native: RegExp;
    try {
      native = new RegExp(source, flags);
    } catch {
      continue;
    }
    let linear: LinearRegExp;
    try {
      linear = LinearRegExp.compile(source, flags);
    } catch (error) {
      assert(error instanceof UnsupportedPatternError, `${source}: ${error}`);
      continue;
    }
    for (let k = 0; k < 15; k++) {
      let text = "";
      for (let j = Math.floor(random() * 8); j > 0; j--) text += pick(chars);
      assertEquals(linear.test(text), native.test(text), `/${source}/${flags} on ${text}`);
      compared++;
    }
  }
  assert(compared > 40_000, `compared ${compared}`);
});

Deno.test("fs_regex: ordinary grep and glob patterns match as before", () => {
  const cases: [string, string, string[]][] = [
    ["const", "i", ["CONST Y", "x", "a const b"]],
    ["\\bfoo\\b", "", ["foo", "a foo b", "afoo", "foo_"]],
    ["^\\s*export (?:async )?function (\\w+)\\(", "", ["export function a(", "  export x"]],
    ["TODO|FIXME", "", ["// TODO: x", "fixme"]],
    ["[0-9]{3,}-\\d+", "", ["abc 1234-5", "12-3"]],
    ["\\u{3}", "", ["uuu", "u{3}"]],
    ["(a)\\2", "", ["a\u0002", "a2"]],
  ];
  for (const [source, flags, texts] of cases) {
    const native = new RegExp(source, flags);
    const linear = LinearRegExp.compile(source, flags);
    for (const t of texts) assertEquals(linear.test(t), native.test(t), `/${source}/ on ${t}`);
  }
  for (const glob of ["**/*.ts", "src/{a,b}/*.md", "*.[jt]s", "a?c/**", "[!x]*"]) {
    const re = globToRegExp(glob);
    const linear = LinearRegExp.compile(re.source, re.flags);
    for (const path of ["src/a.ts", "src/a/x.md", "b.js", "abc/d/e", "x.ts", "y"]) {
      assertEquals(linear.test(path), re.test(path), `${glob} on ${path}`);
    }
  }
});

Deno.test("fs_regex: catastrophic patterns run in linear time; the rest is refused by name", () => {
  const started = performance.now();
  assertEquals(LinearRegExp.compile("^(a+)+$").test("a".repeat(50_000) + "!"), false);
  assertEquals(LinearRegExp.compile("(x+x+)+y").test("x".repeat(50_000)), false);
  assertEquals(LinearRegExp.compile("(.*a){12}").test("a".repeat(5_000)), true);
  assert(performance.now() - started < 3_000, `took ${performance.now() - started} ms`);
  for (const [source, what] of [["(?=a)", "lookahead"], ["(a)\\1", "backreferences"]]) {
    assertThrows(() => LinearRegExp.compile(source), UnsupportedPatternError, what);
  }
  assertThrows(() => LinearRegExp.compile("a", "m"), UnsupportedPatternError, "flag");
  assertThrows(() => LinearRegExp.compile("(a{1000}){1000}"), UnsupportedPatternError, "large");
  assertThrows(() => LinearRegExp.compile("(a"), SyntaxError);
});

Deno.test("fs_match: the worker answers, and an abort terminates it mid-match", async () => {
  const matcher = PatternMatcher.start(new AbortController().signal);
  try {
    const p = await matcher.compile("^(a+)+$", "");
    assertEquals(await matcher.lines(p, `aaa\n${"a".repeat(40)}!\naa`), [0, 2]);
    assertEquals(await matcher.test(p, ["a", "b"]), [true, false]);
  } finally {
    matcher.close();
  }
  // A pattern whose automaton never settles (2^16 states over random text) costs length x
  // size, seconds here: stopped by the signal.
  let seed = 7;
  const bit = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 1024 ? "a" : "b";
  const text = Array.from({ length: 200 }, () => Array.from({ length: 2000 }, bit).join(""));
  const stop = new AbortController();
  const slow = PatternMatcher.start(stop.signal);
  const p = await slow.compile("(?:a[ab]{15})+c", "");
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const pending = slow.lines(p, text.join("\n"));
  setTimeout(() => stop.abort(new Error("timed out")), 300);
  const started = performance.now();
  const outcome = await pending.then(() => "finished", (e) => (e as Error).message);
  clearInterval(timer);
  assertEquals(outcome, "timed out");
  assert(performance.now() - started < 2_000, "the abort returned at once");
  assert(ticks >= 5, `the event loop kept running (${ticks} ticks)`);
});
