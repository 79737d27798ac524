/** `a3s safeclaw injection`: verdicts for texts, JSONL records, and the quality report. */
import { parseCommand, UsageError, ValidationError } from "@a3s/common";
import {
  detectInjection,
  type InjectionVerdict,
  type Source,
  SOURCES,
} from "./injection/detector.ts";
import { judgeInjection, judgeMany } from "./injection/judge.ts";
import {
  type EvalRecord,
  evaluate,
  formatInjectionReport,
  parseEvalSet,
} from "./injection/evaluate.ts";
import { describePublicEvalSet, findPublicEvalSet } from "./injection/public_eval.ts";
import { readInput } from "./_input.ts";
import { INJECTION_HELP } from "./cli_help.ts";

const PUBLIC_SET_NAME =
  "public evaluation set (deepset test split, BIPIA test attacks in test e-mails/tables/code, JailbreakBench held-out behaviors, XSTest safe prompts, GSM8K test, self-instruct user-oriented, Debian docs; disjoint from training; see safeclaw/injection/model/MODEL_CARD.md)";

/** The hand-written sets, kept in the repository. */
const EVAL_SETS = [
  ["development set (the rules were tuned on it)", "testdata/injection_eval.jsonl"],
  [
    "second set (written after the rules; the concept layer came after seeing its misses once)",
    "testdata/injection_heldout.jsonl",
  ],
  [
    "third set (written last; no change was made to fit it, but later changes were checked against it)",
    "testdata/injection_blind.jsonl",
  ],
] as const;

async function peerJudge(): Promise<
  ((r: EvalRecord) => { injection: boolean; score: number }) | undefined
> {
  try {
    const { vard } = await import("@andersmyrmel/vard");
    return (r) => {
      const result = vard.safe(r.text) as { safe: boolean; threats?: { severity: number }[] };
      const score = Math.max(0, ...(result.threats ?? []).map((t) => t.severity));
      return { injection: !result.safe, score };
    };
  } catch {
    return undefined;
  }
}

async function report(): Promise<void> {
  const peer = await peerJudge();
  const out: string[] = [];
  // The public set is other projects' data, kept outside the repository; without it the
  // hand-written sets are still scored.
  const publicSet = await findPublicEvalSet();
  const sets: { name: string; records: EvalRecord[] }[] = [];
  if (publicSet.found) {
    sets.push({
      name: `${PUBLIC_SET_NAME}\n   ${describePublicEvalSet(publicSet)}`,
      records: publicSet.records,
    });
  } else {
    out.push(`== public evaluation set: not available, not scored: ${publicSet.reason}`, "");
  }
  for (const [name, path] of EVAL_SETS) {
    sets.push({
      name,
      records: parseEvalSet(await Deno.readTextFile(new URL(path, import.meta.url))),
    });
  }
  for (const { name, records } of sets) {
    // Verdicts per second: one text at a time, as a message arrives, rules and model together.
    await judgeInjection("warm the model up");
    const started = performance.now();
    const verdicts: InjectionVerdict[] = [];
    for (const r of records) verdicts.push(await judgeInjection(r.text, { source: r.source }));
    const perSecond = records.length / ((performance.now() - started) / 1000);
    const byRecord = new Map(records.map((r, i) => [r, verdicts[i]]));
    const ours = evaluate(records, (r) => byRecord.get(r)!);
    const rules = evaluate(records, (r) => detectInjection(r.text, { source: r.source }));
    out.push(
      `== ${name}`,
      formatInjectionReport(ours, "safeclaw (rules + classifier)"),
      `safeclaw verdicts per second (rules + classifier, one text at a time): ${
        perSecond.toFixed(0)
      }`,
      `rules alone: balanced accuracy ${
        rules.overallBalancedAccuracy.toFixed(4)
      }, hard-benign FPR ${rules.hardBenignFalsePositiveRate.toFixed(3)}`,
    );
    if (peer) {
      const p = evaluate(records, peer);
      out.push(
        `@andersmyrmel/vard balanced accuracy, all attacks: ${
          p.overallBalancedAccuracy.toFixed(4)
        }`,
        `@andersmyrmel/vard false-positive rate on hard benign text: ${
          p.hardBenignFalsePositiveRate.toFixed(3)
        }`,
      );
    }
    out.push("");
  }
  console.log(out.join("\n").trimEnd());
}

/** JSON.parse's reviver with the source text of a primitive (V8's JSON.parse source access). */
type SourceReviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;

/**
 * `line` parsed, with the JSON text of its top-level `id` when that is a number, a string, a
 * boolean or null, exactly as written (undefined for an object or array id, or none).
 */
function parseWithIdText(
  line: string,
): { record: { id?: unknown; text?: unknown; source?: unknown }; idText?: string } {
  const sources = new Map<unknown, string>();
  const reviver: SourceReviver = function (key, value, context) {
    if (key === "id" && context?.source !== undefined) sources.set(this, context.source);
    return value;
  };
  const record = JSON.parse(line, reviver as Parameters<typeof JSON.parse>[1]);
  const idText = record && typeof record === "object" && Object.hasOwn(record, "id")
    ? sources.get(record)
    : undefined;
  return { record, idText };
}

/** Runs `a3s safeclaw injection`. */
export async function injectionCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    file: { type: "string", short: "f" },
    jsonl: { type: "boolean" },
    report: { type: "boolean" },
    source: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(INJECTION_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`injection takes no arguments; use --file`);
  if (values.report) {
    await report();
    return 0;
  }
  const source = (values.source as string | undefined) ?? "user";
  if (!SOURCES.includes(source as Source)) {
    throw new UsageError(`--source must be one of ${SOURCES.join(", ")}, got '${source}'`);
  }
  const input = await readInput(values.file as string | undefined);
  if (!values.jsonl) {
    console.log(JSON.stringify(await judgeInjection(input, { source: source as Source })));
    return 0;
  }
  // Each id as the JSON text it came as: parsed and written again, a 64-bit number would come
  // back rounded (12345678901234567890 as ...7000) and 1e400 as null, and no longer join back.
  const records: { id: string; text: string; source: Source }[] = [];
  const lines = input.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let record: { id?: unknown; text?: unknown; source?: unknown };
    let idText: string | undefined;
    try {
      ({ record, idText } = parseWithIdText(line));
    } catch {
      throw new ValidationError(`line ${i + 1}: not valid JSON`);
    }
    if (typeof record?.text !== "string") {
      throw new ValidationError(`line ${i + 1}: needs a string "text" field`);
    }
    if (record.source !== undefined && !SOURCES.includes(record.source as Source)) {
      throw new ValidationError(
        `line ${i + 1}: "source" must be one of ${SOURCES.join(", ")}, got ${
          JSON.stringify(record.source)
        }`,
      );
    }
    const recordSource = (record.source as Source | undefined) ?? source as Source;
    records.push({
      id: idText ?? JSON.stringify(record.id ?? null),
      text: record.text,
      source: recordSource,
    });
  }
  const verdicts = await judgeMany(
    records.map((r) => ({ text: r.text, options: { source: r.source } })),
  );
  const out = records.map((r, i) =>
    `{"id":${r.id},${
      JSON.stringify({
        injection: verdicts[i].injection,
        score: verdicts[i].score,
        categories: verdicts[i].categories,
      }).slice(1)
    }`
  );
  if (out.length) console.log(out.join("\n"));
  return 0;
}
