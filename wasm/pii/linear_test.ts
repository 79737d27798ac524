import process from "node:process";
import { assert, assertEquals } from "@a3s/common/testing";
import { createScanner, type PiiScanner, scan } from "./mod.ts";

/** `unit` repeated to exactly `length` characters. */
function fill(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

// Texts of one repeated shape, each of which once made a candidate read the rest of its run
// (or 64 KB ahead) from every position and so made the scan quadratic, and the shapes a fuzzer
// is likely to try next. Each builds a text of `n` characters.
const PATHOLOGICAL: Record<string, (n: number) => string> = {
  "sk-": (n) => fill("sk-", n),
  "sk-ant-": (n) => fill("sk-ant-", n),
  "xoxb-": (n) => fill("xoxb-", n),
  "xapp-": (n) => fill("xapp-", n),
  "xoxb- ending in a placeholder": (n) => fill("xoxb-", n - 12) + "-a1-xxxxxxxx",
  "AIza-": (n) => fill("AIza-", n),
  "glpat-": (n) => fill("glpat-", n),
  "pypi- prefixes": (n) => fill("pypi-AgEIcHlwaS5vcmc-", n),
  "SG.": (n) => fill("SG.", n),
  "SG. with a long second part": (n) => "SG.aaaaaaaaaaaaaaaaaaaaaa." + fill("a1", n - 26),
  "hf_ npm_ gsk_": (n) => fill("hf_npm_gsk_r8_", n),
  "eyJ-": (n) => fill("eyJ-", n),
  "eyJ- with a long payload": (n) => fill("eyJ-", n / 2) + "." + fill("a", n / 2 - 1),
  "eyJ- with a placeholder signature": (n) =>
    fill("eyJ-", n / 2) + ".aaaaaaaaaa." + fill("ab1-", n / 2 - 16) + "xxxx",
  "key:": (n) => fill("key:", n),
  "PEM headers with no footer": (n) => fill("-----BEGIN PRIVATE KEY-----\n", n),
  "PEM headers, a footer with no close": (n) =>
    fill("-----BEGIN PRIVATE KEY-----\n", n - 10) + "-----END x",
  "-----BEGIN ": (n) => fill("-----BEGIN ", n),
  "a@": (n) => fill("a@", n),
  "1-": (n) => fill("1-", n),
  "1 ": (n) => fill("1 ", n),
  "=": (n) => fill("=", n),
  ":": (n) => fill(":", n),
  "(((1": (n) => fill("(((1", n),
  "base64": (n) => "key= " + fill("QUJD+REVG/R0hJ", n - 5),
};

/**
 * Milliseconds of this process's CPU time per scan of `text`, the mean of `repeat` scans. CPU
 * time rather than wall time: on a busy machine the wall time of a scan is mostly the time it
 * waited for a core, which says nothing of how the scan grows.
 */
function timeScan(scanner: PiiScanner, text: string, repeat: number): number {
  const started = process.cpuUsage();
  for (let k = 0; k < repeat; k++) scanner.scan(text);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000 / repeat;
}

/**
 * How many times longer `large` takes to scan than `small`, each timed at its best over seven
 * rounds taken in turns, so that work of the engine's own (compiling, collecting) that lands in
 * some rounds is left out. Rounds stop early once the large text has taken a second in all,
 * which only a quadratic scan comes near (a linear one takes milliseconds).
 */
function scanTimeRatio(scanner: PiiScanner, small: string, large: string): number {
  let bestSmall = Infinity;
  let bestLarge = Infinity;
  let spent = 0;
  for (let round = 0; round < 7 && spent < 1000; round++) {
    // The small text's time is a mean of ten scans, as long as one scan of the large one.
    bestSmall = Math.min(bestSmall, timeScan(scanner, small, 10));
    const large1 = timeScan(scanner, large, 1);
    bestLarge = Math.min(bestLarge, large1);
    spent += large1;
  }
  return bestLarge / bestSmall;
}

Deno.test("long runs of one repeated shape scan in linear time", async (t) => {
  const scanner = createScanner();
  for (const [name, make] of Object.entries(PATHOLOGICAL)) {
    await t.step(name, () => {
      const small = make(20_000);
      const large = make(200_000);
      assertEquals(large.length, 200_000);
      // Warm, so that both sizes run the engine's optimized code.
      for (let k = 0; k < 10; k++) scanner.scan(small);
      const ratio = scanTimeRatio(scanner, small, large);
      // Ten times the text: about 10 when linear, 100 when quadratic. The bound leaves room for
      // a noisy host without letting a quadratic scan through.
      assert(ratio < 30, `${name}: 200K characters took ${ratio.toFixed(1)} times 20K`);
    });
  }
  scanner.free();
});

Deno.test("what lies inside or after a long run is still found", () => {
  const found = (text: string) =>
    scan(text).map((f) => `${f.type}:${f.start}:${text.slice(f.start, f.end)}`);
  // A provider key after a run too long to be an `sk-` key.
  const key = "AKIAZ3KD7QW2PXF9LM4T";
  assertEquals(found(`sk-${"a".repeat(300)}-${key} and more`), [`secret:304:${key}`]);
  // A Slack token is judged on its own body: the first holds a placeholder, a later one does not.
  const slack = `${"xoxb-".repeat(10)}a1`;
  assertEquals(found(`xoxb-xxxxxx-${slack} x`), [`secret:12:${slack}`]);
  // A JWT whose header is a long run of `eyJ-`, seen from each of them.
  const jwt = "eyJ-".repeat(100) + "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." +
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
  assertEquals(found(jwt), [`secret:0:${jwt}`]);
  // An unquoted value sheds trailing dots, however many follow it.
  const value = "Zx9Kq2Lm4Wp8Rt7Yv3Nb6Hj1";
  assertEquals(found(`key: ${value}${".".repeat(300)}`), [`secret:5:${value}`]);
  assertEquals(found(`key: ${"a1B2".repeat(60)}`), []);
  // Headers with no footer of their own reach the first footer after them.
  const pem = "-----BEGIN PRIVATE KEY-----\n".repeat(3) + "MIIB\n-----END PRIVATE KEY-----";
  assertEquals(found(pem), [`secret:0:${pem}`]);
});
