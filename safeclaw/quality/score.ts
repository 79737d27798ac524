/** Precision, recall and F1 per type, by exact span match (type, start and end). */
import { ENTITY_TYPES, type EntityType } from "../privacy/entities.ts";

type PiiType = EntityType;
interface Finding {
  type: EntityType;
  start: number;
  end: number;
  confidence?: number;
}
import type { LabeledRecord } from "./generator.ts";

/** Counts and scores for one type. */
export interface TypeScore {
  type: PiiType;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
}

/** A found or missed span, for reading what went wrong. */
export interface ScoreMiss {
  kind: "false_positive" | "false_negative";
  type: PiiType;
  recordId: string;
  value: string;
  context: string;
}

/** The quality report. */
export interface QualityReport {
  records: number;
  scores: TypeScore[];
  misses: ScoreMiss[];
}

function key(type: string, start: number, end: number): string {
  return `${type}:${start}:${end}`;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 1 : a / b;
}

/**
 * Scores `findings[i]` against `records[i].spans`.
 *
 * @example
 * ```ts
 * import { scoreFindings } from "./score.ts";
 * const report = scoreFindings([{ id: "1", language: "en", text: "x", spans: [] }], [[]]);
 * console.log(report.scores[0].f1); // 1
 * ```
 */
export function scoreFindings(
  records: readonly LabeledRecord[],
  findings: readonly Finding[][],
): QualityReport {
  const counts = new Map<PiiType, { tp: number; fp: number; fn: number }>(
    ENTITY_TYPES.map((type) => [type, { tp: 0, fp: 0, fn: 0 }]),
  );
  const misses: ScoreMiss[] = [];
  records.forEach((record, i) => {
    const expected = new Set(record.spans.map((s) => key(s.type, s.start, s.end)));
    const found = new Set(findings[i].map((f) => key(f.type, f.start, f.end)));
    const note = (kind: ScoreMiss["kind"], type: PiiType, start: number, end: number) =>
      misses.push({
        kind,
        type,
        recordId: record.id,
        value: record.text.slice(start, end),
        context: record.text.slice(Math.max(0, start - 30), end + 30),
      });
    for (const span of record.spans) {
      const c = counts.get(span.type)!;
      if (found.has(key(span.type, span.start, span.end))) c.tp++;
      else {
        c.fn++;
        note("false_negative", span.type, span.start, span.end);
      }
    }
    for (const f of findings[i]) {
      if (!expected.has(key(f.type, f.start, f.end))) {
        counts.get(f.type)!.fp++;
        note("false_positive", f.type, f.start, f.end);
      }
    }
  });
  // A type appears when it was labeled or reported: the recognizers' false positives on
  // look-alikes count against precision even where the corpus labels none of that type.
  const seen = ENTITY_TYPES.filter((type) => {
    const c = counts.get(type)!;
    return c.tp + c.fp + c.fn > 0;
  });
  const scores = seen.map((type) => {
    const { tp, fp, fn } = counts.get(type)!;
    const precision = ratio(tp, tp + fp);
    const recall = ratio(tp, tp + fn);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return {
      type,
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      precision,
      recall,
      f1,
    };
  });
  return { records: records.length, scores, misses };
}

/**
 * Renders the report as a fixed-width table.
 *
 * @example
 * ```ts
 * import { formatReport, scoreFindings } from "./score.ts";
 * console.log(formatReport(scoreFindings([], [])));
 * ```
 */
export function formatReport(report: QualityReport): string {
  const rows = report.scores.map((s) =>
    [
      s.type.padEnd(14),
      String(s.truePositives + s.falseNegatives).padStart(6),
      String(s.truePositives).padStart(6),
      String(s.falsePositives).padStart(4),
      String(s.falseNegatives).padStart(4),
      s.precision.toFixed(4).padStart(9),
      s.recall.toFixed(4).padStart(7),
      s.f1.toFixed(4).padStart(7),
    ].join(" ")
  );
  return [
    `records: ${report.records}`,
    "type           labels     tp   fp   fn precision  recall      f1",
    ...rows,
  ].join("\n");
}
