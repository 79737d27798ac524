/**
 * safeclaw beside its peers, measured in the same run: classification and sanitization
 * throughput (MB/s) against `redact-pii` and `@openredaction/openredaction`, the latency a
 * streamed chunk gains from the stream sanitizer, and injection verdicts per second against
 * `@andersmyrmel/vard` together with each detector's quality on the same evaluation set.
 */
import { OpenRedaction } from "@openredaction/openredaction";
import { SyncRedactor } from "redact-pii";
import { vard } from "@andersmyrmel/vard";
import { createClassifier } from "../classify.ts";
import { sanitize, Vault } from "../sanitize.ts";
import { createStreamSanitizer } from "../stream_sanitizer.ts";
import { detectInjection } from "../injection/detector.ts";
import { judgeInjection } from "../injection/judge.ts";
import { evaluate, type InjectionReport, parseEvalSet } from "../injection/evaluate.ts";
import { describePublicEvalSet, findPublicEvalSet } from "../injection/public_eval.ts";
import { fakerCorpus } from "../quality/faker_corpus.ts";
import { faker } from "@faker-js/faker";

const classifier = createClassifier();
const openRedaction = new OpenRedaction({ enableContextAnalysis: false });
const redactPii = new SyncRedactor();

// Two 64 KiB inputs: Faker records from 22 locales, an entity every few words (dense), and a
// support log where one line in twenty carries a record (sparse, closer to real traffic).
const RECORDS = fakerCorpus(2000, 99).map((r) => r.text);
const DENSE = RECORDS.join("\n").slice(0, 64 * 1024);
faker.seed(7);
const logLines: string[] = [];
for (let i = 0; logLines.join("\n").length < 64 * 1024; i++) {
  const at = `2026-01-05T12:${String(i % 60).padStart(2, "0")}:00Z INFO ticket-${1000 + i}`;
  logLines.push(`${at} ${i % 20 === 0 ? RECORDS[i % RECORDS.length] : faker.hacker.phrase()}`);
}
const SPARSE = logLines.join("\n").slice(0, 64 * 1024);
const INPUTS: [string, string][] = [["dense", DENSE], ["support log", SPARSE]];
const TEXT = DENSE;

/** Best MB/s of `run` on `text` over `rounds`, after one warm-up. */
function mbPerSecond(text: string, run: (t: string) => unknown, rounds: number): number {
  run(text);
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    run(text);
    best = Math.min(best, performance.now() - t0);
  }
  return new TextEncoder().encode(text).length / best / 1e3;
}

const RUNNERS: [string, (t: string) => unknown, number][] = [
  ["safeclaw classify (scanner + recognizers + context)", (t) => classifier.classify(t), 10],
  [
    "safeclaw sanitize (classify + numbered placeholders)",
    (t) => sanitize(t, classifier.classify(t).findings, "placeholder", new Vault()),
    10,
  ],
  ["@openredaction/openredaction detect", (t) => openRedaction.detect(t), 3],
  ["redact-pii redact", (t) => redactPii.redact(t), 3],
];
const throughput: [string, number][] = INPUTS.flatMap(([kind, text]) =>
  RUNNERS.map(([name, run, rounds]) =>
    [`${kind}: ${name}`, mbPerSecond(text, run, rounds)] as [string, number]
  )
);

// A reply streamed in 4-character chunks, as token streams arrive.
const REPLY = TEXT.slice(0, 8 * 1024);
function streamMicrosPerChunk(): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const s = createStreamSanitizer({
      detect: (t) => classifier.classify(t).findings,
      vault: new Vault(),
    });
    const t0 = performance.now();
    let chunks = 0;
    for (let i = 0; i < REPLY.length; i += 4, chunks++) s.push(REPLY.slice(i, i + 4));
    s.flush();
    best = Math.min(best, ((performance.now() - t0) * 1000) / chunks);
  }
  return best;
}
const perChunk = streamMicrosPerChunk();

const evalSet = parseEvalSet(
  await Deno.readTextFile(new URL("../testdata/injection_heldout.jsonl", import.meta.url)),
);
function verdictsPerSecond(judge: (text: string) => unknown): number {
  for (const r of evalSet) judge(r.text);
  const t0 = performance.now();
  for (let round = 0; round < 3; round++) for (const r of evalSet) judge(r.text);
  return (evalSet.length * 3) / ((performance.now() - t0) / 1000);
}
async function verdictsPerSecondAsync(
  texts: readonly { text: string }[],
  judge: (text: string) => Promise<unknown>,
): Promise<number> {
  for (const r of texts.slice(0, 20)) await judge(r.text);
  const t0 = performance.now();
  for (const r of texts) await judge(r.text);
  return texts.length / ((performance.now() - t0) / 1000);
}
const vardJudge = (text: string) =>
  vard.safe(text) as { safe: boolean; threats?: { severity: number }[] };
// The public evaluation set (kept outside the repository, see public_eval.ts): rules + classifiers,
// the rules alone and vard, quality per category and verdicts per second, all in one run.
const publicFound = await findPublicEvalSet();
async function publicFigures(): Promise<string[]> {
  if (!publicFound.found) {
    return [`injection on the public evaluation set: SKIPPED: ${publicFound.reason}`];
  }
  const publicSet = publicFound.records;
  const publicVerdicts = new Map<string, { injection: boolean; score: number }>();
  for (const r of publicSet) {
    publicVerdicts.set(r.id, await judgeInjection(r.text, { source: r.source }));
  }
  const publicOurs = evaluate(publicSet, (r) => publicVerdicts.get(r.id)!);
  const publicRules = evaluate(publicSet, (r) => detectInjection(r.text, { source: r.source }));
  const publicVard = evaluate(publicSet, (r) => {
    const v = vardJudge(r.text);
    return { injection: !v.safe, score: Math.max(0, ...(v.threats ?? []).map((t) => t.severity)) };
  });
  const publicOursRate = await verdictsPerSecondAsync(publicSet, (t) => judgeInjection(t));
  const publicRulesRate = await verdictsPerSecondAsync(
    publicSet,
    (t) => Promise.resolve(detectInjection(t)),
  );
  const publicVardRate = await verdictsPerSecondAsync(
    publicSet,
    (t) => Promise.resolve(vardJudge(t)),
  );
  const line = (name: string, rate: number, q: InjectionReport) =>
    `  ${name.padEnd(27)} ${rate.toFixed(0).padStart(7)} verdicts/s, balanced accuracy ${
      q.overallBalancedAccuracy.toFixed(4)
    }, hard-benign FPR ${q.hardBenignFalsePositiveRate.toFixed(3)}\n${" ".repeat(30)}${
      q.rows.filter((row) => row.balancedAccuracy !== null)
        .map((row) => `${row.category} ${row.balancedAccuracy!.toFixed(3)}`).join(", ")
    }`;
  return [
    `injection on the public evaluation set (${describePublicEvalSet(publicFound)}):`,
    line("safeclaw rules + classifiers", publicOursRate, publicOurs),
    line("safeclaw rules alone", publicRulesRate, publicRules),
    line("@andersmyrmel/vard", publicVardRate, publicVard),
  ];
}
const publicLines = await publicFigures();
const oursQuality = evaluate(evalSet, (r) => detectInjection(r.text, { source: r.source }));
const vardQuality = evaluate(evalSet, (r) => {
  const v = vardJudge(r.text);
  return { injection: !v.safe, score: Math.max(0, ...(v.threats ?? []).map((t) => t.severity)) };
});

console.log(
  [
    "PII throughput on 64 KiB inputs, single-threaded:",
    ...throughput.map(([name, rate]) => `  ${name.padEnd(67)} ${rate.toFixed(2).padStart(8)} MB/s`),
    `stream sanitizer: ${perChunk.toFixed(1)} µs added per 4-character chunk`,
    `injection on the second evaluation set (${evalSet.length} texts):`,
    `  safeclaw            ${
      verdictsPerSecond((t) => detectInjection(t)).toFixed(0).padStart(7)
    } verdicts/s, balanced accuracy ${
      oursQuality.overallBalancedAccuracy.toFixed(4)
    }, hard-benign FPR ${oursQuality.hardBenignFalsePositiveRate.toFixed(3)}`,
    `  @andersmyrmel/vard  ${
      verdictsPerSecond((t) => vardJudge(t)).toFixed(0).padStart(7)
    } verdicts/s, balanced accuracy ${
      vardQuality.overallBalancedAccuracy.toFixed(4)
    }, hard-benign FPR ${vardQuality.hardBenignFalsePositiveRate.toFixed(3)}`,
    ...publicLines,
  ].join("\n"),
);

const SAMPLE = TEXT.slice(0, 8 * 1024);
Deno.bench({ name: "safeclaw classify", group: "classify 8 KiB", baseline: true }, () => {
  classifier.classify(SAMPLE);
});
Deno.bench({ name: "@openredaction/openredaction", group: "classify 8 KiB", n: 20 }, () => {
  openRedaction.detect(SAMPLE);
});
Deno.bench({ name: "redact-pii", group: "classify 8 KiB", n: 20 }, () => {
  redactPii.redact(SAMPLE);
});
Deno.bench({ name: "safeclaw injection", group: "injection verdict", baseline: true }, () => {
  for (const r of evalSet.slice(0, 20)) detectInjection(r.text);
});
Deno.bench({ name: "safeclaw rules + classifier", group: "injection verdict" }, async () => {
  for (const r of evalSet.slice(0, 20)) await judgeInjection(r.text);
});
Deno.bench({ name: "@andersmyrmel/vard", group: "injection verdict" }, () => {
  for (const r of evalSet.slice(0, 20)) vardJudge(r.text);
});
