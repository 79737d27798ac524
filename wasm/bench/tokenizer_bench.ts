/**
 * Token counting throughput on a mixed corpus of at least 1 MB, ours beside gpt-tokenizer,
 * tiktoken (WASM) and js-tiktoken, for cl100k_base and o200k_base; and our time on 1 MB of one
 * letter and 1 MB of spaces, which must stay linear.
 *
 * Run: deno bench -A wasm/bench/tokenizer_bench.ts
 */
import { get_encoding } from "tiktoken";
import { Tiktoken as JsTiktoken } from "js-tiktoken/lite";
import jsCl100k from "js-tiktoken/ranks/cl100k_base";
import jsO200k from "js-tiktoken/ranks/o200k_base";
import * as gptCl100k from "gpt-tokenizer/encoding/cl100k_base";
import * as gptO200k from "gpt-tokenizer/encoding/o200k_base";
import { getEncoding } from "../tokenizer/mod.ts";
import { mixedCorpus } from "./_corpus.ts";
import { seededRandom } from "../tokenizer/_test_corpus.ts";

const corpus = mixedCorpus();
const megabytes = new TextEncoder().encode(corpus).length / 1e6;
const NO_SPECIAL = { disallowedSpecial: new Set<string>() };

const peers = {
  cl100k_base: {
    ours: await getEncoding("cl100k_base"),
    tiktoken: get_encoding("cl100k_base"),
    jsTiktoken: new JsTiktoken(jsCl100k),
    gptTokenizer: (text: string) => gptCl100k.countTokens(text, NO_SPECIAL),
  },
  o200k_base: {
    ours: await getEncoding("o200k_base"),
    tiktoken: get_encoding("o200k_base"),
    jsTiktoken: new JsTiktoken(jsO200k),
    gptTokenizer: (text: string) => gptO200k.countTokens(text, NO_SPECIAL),
  },
};

type Counter = (text: string) => number;

function countersOf(name: keyof typeof peers): [string, Counter][] {
  const p = peers[name];
  return [
    ["a3s wasm", (t) => p.ours.count(t)],
    ["gpt-tokenizer", p.gptTokenizer],
    ["tiktoken (wasm)", (t) => p.tiktoken.encode_ordinary(t).length],
    ["js-tiktoken", (t) => p.jsTiktoken.encode(t, [], []).length],
  ];
}

function bestSeconds(fn: () => void, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return best;
}

// The MB/s summary, measured in this run (best of three after a warm-up).
console.log(`mixed corpus: ${megabytes.toFixed(2)} MB`);
for (const name of ["cl100k_base", "o200k_base"] as const) {
  const counters = countersOf(name);
  const reference = peers[name].tiktoken.encode_ordinary(corpus).length;
  const rates: Record<string, number> = {};
  const counts: string[] = [];
  for (const [label, count] of counters) {
    const n = count(corpus);
    if (label === "a3s wasm" && n !== reference) {
      throw new Error(`a3s counted ${n} tokens, the tiktoken bindings ${reference}`);
    }
    if (n !== reference) counts.push(`${label} counts ${n}`);
    // js-tiktoken takes seconds a pass; one timed pass is enough to place it.
    rates[label] = megabytes / bestSeconds(() => count(corpus), label === "js-tiktoken" ? 1 : 3);
  }
  const line = Object.entries(rates).map(([label, r]) => `${label} ${r.toFixed(1)} MB/s`);
  const ratio = rates["a3s wasm"] / rates["gpt-tokenizer"];
  const differing = counts.length ? `; ${counts.join(", ")}` : "";
  console.log(
    `${name} (${reference} tokens, as tiktoken${differing}): ${line.join(", ")}; ` +
      `ours/gpt-tokenizer ${ratio.toFixed(2)}x`,
  );
}

const oneLetter = "a".repeat(1_000_000);
const spaces = " ".repeat(1_000_000);
const next = seededRandom(1);
const oneWord = Array.from(
  { length: 1_000_000 },
  () => String.fromCharCode(97 + Math.floor(next() * 26)),
)
  .join("");
for (const name of ["cl100k_base", "o200k_base"] as const) {
  const enc = peers[name].ours;
  const small = bestSeconds(() => enc.count(oneLetter.slice(0, 100_000)), 3);
  const large = bestSeconds(() => enc.count(oneLetter), 3);
  const spaceSmall = bestSeconds(() => enc.count(spaces.slice(0, 100_000)), 3);
  const spaceLarge = bestSeconds(() => enc.count(spaces), 3);
  const wordSmall = bestSeconds(() => enc.count(oneWord.slice(0, 100_000)), 3);
  const wordLarge = bestSeconds(() => enc.count(oneWord), 3);
  console.log(
    `${name} pathological: 1 MB of 'a' ${(large * 1000).toFixed(0)} ms ` +
      `(${(large / small).toFixed(1)}x the time of 100 KB), 1 MB of spaces ` +
      `${(spaceLarge * 1000).toFixed(0)} ms (${
        (spaceLarge / spaceSmall).toFixed(1)
      }x of 100 KB), ` +
      `1 MB of random letters ${(wordLarge * 1000).toFixed(0)} ms ` +
      `(${(wordLarge / wordSmall).toFixed(1)}x of 100 KB)`,
  );
}

for (const name of ["cl100k_base", "o200k_base"] as const) {
  for (const [label, count] of countersOf(name)) {
    Deno.bench({
      name: `${label} count ${name}`,
      group: `count ${name}, ${megabytes.toFixed(1)} MB mixed`,
      baseline: label === "gpt-tokenizer",
      // Bounded so that the slowest peer does not hold the run for minutes.
      n: label === "js-tiktoken" ? 2 : 10,
      warmup: 1,
      fn: () => {
        count(corpus);
      },
    });
  }
  Deno.bench({
    name: `a3s wasm ${name} 1 MB of one letter`,
    group: `pathological ${name}`,
    n: 5,
    warmup: 1,
    fn: () => {
      peers[name].ours.count(oneLetter);
    },
  });
  Deno.bench({
    name: `a3s wasm ${name} 1 MB of random letters (one word)`,
    group: `pathological ${name}`,
    n: 5,
    warmup: 1,
    fn: () => {
      peers[name].ours.count(oneWord);
    },
  });
  Deno.bench({
    name: `a3s wasm ${name} 1 MB of spaces`,
    group: `pathological ${name}`,
    n: 5,
    warmup: 1,
    fn: () => {
      peers[name].ours.count(spaces);
    },
  });
}
