/**
 * The injection quality report: balanced accuracy per attack category (its detection rate
 * against the specificity on all benign text) and the false-positive rate on hard benign text,
 * on the labeled set in `safeclaw/testdata/injection_eval.jsonl`.
 */
import { type InjectionVerdict, type Source, SOURCES } from "./detector.ts";

/** One labeled example. */
export interface EvalRecord {
  id: string;
  /** `direct`, `indirect`, `jailbreak`, `obfuscated`, `benign` or `hard_benign`. */
  category: string;
  /** 1: an injection; 0: benign. */
  label: 0 | 1;
  source: Source;
  text: string;
  /** Where a public record came from (`owner/name@commit`, or a Debian documentation folder). */
  origin?: string;
}

/** One category's row. */
export interface CategoryScore {
  category: string;
  examples: number;
  /** Detection rate (attacks) or pass rate (benign). */
  rate: number;
  /** For attack categories: (detection rate + specificity on all benign) / 2. */
  balancedAccuracy: number | null;
}

/** The report. */
export interface InjectionReport {
  records: number;
  rows: CategoryScore[];
  overallBalancedAccuracy: number;
  hardBenignFalsePositiveRate: number;
  misses: { id: string; label: 0 | 1; score: number; text: string }[];
}

/** Published PINT benchmark figures, quoted beside ours (they are not measured here). */
export const PUBLISHED_PINT = [
  ["Lakera Guard", 0.952],
  ["ProtectAI deberta-v3-base-prompt-injection-v2", 0.791],
] as const;

/** Parses the JSONL evaluation set. */
export function parseEvalSet(jsonl: string): EvalRecord[] {
  return jsonl.split("\n").filter((l) => l.trim()).map((line, i) => {
    const r = JSON.parse(line) as EvalRecord;
    if (typeof r.text !== "string" || (r.label !== 0 && r.label !== 1)) {
      throw new Error(`injection eval line ${i + 1}: needs text and label 0 or 1`);
    }
    if (!SOURCES.includes(r.source)) r.source = "user";
    return r;
  });
}

/**
 * Scores `judge` on `records`.
 *
 * @example
 * ```ts
 * import { evaluate } from "./evaluate.ts";
 * import { detectInjection } from "./detector.ts";
 * const report = evaluate([{ id: "1", category: "benign", label: 0, source: "user", text: "hi" }],
 *   (r) => detectInjection(r.text, { source: r.source }));
 * console.log(report.hardBenignFalsePositiveRate); // 0
 * ```
 */
export function evaluate(
  records: readonly EvalRecord[],
  judge: (record: EvalRecord) => Pick<InjectionVerdict, "injection" | "score">,
): InjectionReport {
  const verdicts = records.map((r) => ({ r, v: judge(r) }));
  const benign = verdicts.filter(({ r }) => r.label === 0);
  const specificity = benign.length
    ? benign.filter(({ v }) => !v.injection).length / benign.length
    : 1;
  const categories = [...new Set(records.map((r) => r.category))];
  const rows: CategoryScore[] = categories.map((category) => {
    const inCat = verdicts.filter(({ r }) => r.category === category);
    const attack = inCat[0].r.label === 1;
    const right = inCat.filter(({ r, v }) => v.injection === (r.label === 1)).length;
    const rate = right / inCat.length;
    return {
      category,
      examples: inCat.length,
      rate,
      balancedAccuracy: attack ? (rate + specificity) / 2 : null,
    };
  });
  const attacks = verdicts.filter(({ r }) => r.label === 1);
  const recall = attacks.length
    ? attacks.filter(({ v }) => v.injection).length / attacks.length
    : 1;
  const hard = verdicts.filter(({ r }) => r.category === "hard_benign");
  return {
    records: records.length,
    rows,
    overallBalancedAccuracy: (recall + specificity) / 2,
    hardBenignFalsePositiveRate: hard.length
      ? hard.filter(({ v }) => v.injection).length / hard.length
      : 0,
    misses: verdicts.filter(({ r, v }) => v.injection !== (r.label === 1)).map(({ r, v }) => ({
      id: r.id,
      label: r.label,
      score: v.score,
      text: r.text.slice(0, 120),
    })),
  };
}

/** Renders the report as text, with the published PINT figures beside ours. */
export function formatInjectionReport(report: InjectionReport, name = "safeclaw"): string {
  const lines = [
    `records: ${report.records}`,
    "category       examples   rate   balanced accuracy",
    ...report.rows.map((row) =>
      [
        row.category.padEnd(14),
        String(row.examples).padStart(8),
        row.rate.toFixed(3).padStart(6),
        (row.balancedAccuracy === null ? "-" : row.balancedAccuracy.toFixed(3)).padStart(19),
      ].join(" ")
    ),
    // Four decimals overall: the target (0.92) was once met at three and missed at four.
    `${name} balanced accuracy, all attacks: ${report.overallBalancedAccuracy.toFixed(4)}`,
    `${name} false-positive rate on hard benign text: ${
      report.hardBenignFalsePositiveRate.toFixed(3)
    }`,
    "published PINT scores (their benchmark, not this set):",
    ...PUBLISHED_PINT.map(([peer, score]) => `  ${peer}: ${score.toFixed(3)}`),
  ];
  return lines.join("\n");
}
