import { assert, assertEquals } from "@a3s/common/testing";
import { createScanner, PII_TYPES } from "@a3s/wasm/pii";
import { generateCorpus } from "./generator.ts";
import { formatReport, scoreFindings } from "./score.ts";

Deno.test("the synthetic corpus is reproducible and its labels are well-formed", () => {
  const a = generateCorpus(300, 11);
  assertEquals(a, generateCorpus(300, 11));
  const languages = new Set(a.map((r) => r.language));
  assertEquals([...languages].sort(), ["code", "de", "en", "es", "fr", "zh"]);
  for (const record of a) {
    for (const span of record.spans) {
      assert(span.start >= 0 && span.end <= record.text.length && span.start < span.end);
    }
  }
  const labeled = new Set(a.flatMap((r) => r.spans.map((s) => s.type)));
  assertEquals([...labeled].sort(), [...PII_TYPES].sort());
});

Deno.test("F1 is at least 0.97 for every type on 3000 labeled records", () => {
  const records = generateCorpus(3000, 20240601);
  const scanner = createScanner();
  const report = scoreFindings(records, scanner.scanMany(records.map((r) => r.text)));
  scanner.free();
  console.log(formatReport(report));
  for (const score of report.scores) {
    assert(score.truePositives + score.falseNegatives > 200, `too few ${score.type} labels`);
    assert(
      score.f1 >= 0.97,
      `${score.type} F1 ${score.f1.toFixed(4)}: ${
        JSON.stringify(
          report.misses.filter((m) => m.type === score.type).slice(0, 3),
        )
      }`,
    );
  }
});

Deno.test("scoring counts exact span matches only", () => {
  const records = [{
    id: "r",
    language: "en",
    text: "ada@example.org",
    spans: [{ type: "email" as const, start: 0, end: 15 }],
  }];
  const shifted = scoreFindings(records, [[{ type: "email", start: 1, end: 15, confidence: 1 }]]);
  const email = shifted.scores.find((s) => s.type === "email")!;
  assertEquals([email.truePositives, email.falsePositives, email.falseNegatives], [0, 1, 1]);
  assertEquals(email.f1, 0);
});
