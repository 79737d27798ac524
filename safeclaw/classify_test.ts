import { assertEquals } from "@a3s/common/testing";
import { classify, createClassifier, redact, sanitize, Vault } from "./mod.ts";

Deno.test("classify summarizes types in order of appearance", () => {
  const result = classify("ip 10.0.0.1, mail ada@example.org, ip 10.0.0.2");
  assertEquals(result.types, ["ip_address", "email"]);
  assertEquals(result.sensitive, true);
  assertEquals(classify("nothing to see").sensitive, false);
});

Deno.test("redact replaces each finding with its type", () => {
  const text = "card 4111 1111 1111 1111, mail ada@example.org.";
  assertEquals(redact(text, classify(text).findings), "card [CREDIT_CARD], mail [EMAIL].");
});

Deno.test("a classifier restricted to secrets ignores other PII", () => {
  const classifier = createClassifier({ types: ["secret"] });
  const [a, b] = classifier.classifyMany(["ada@example.org", "key AKIAZ3KD7QW2PXF9LM4T"]);
  assertEquals([a.sensitive, b.types], [false, ["secret"]]);
  classifier.free();
});

Deno.test("look-alike characters do not hide a value: found, typed and spanned in the original", () => {
  const cases: [string, string][] = [
    ["４１１１ １１１１ １１１１ １１１１", "credit_card"],
    ["𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏", "credit_card"],
    ["4111\u200b1111\u200b1111\u200b1111", "credit_card"],
    ["AKIA\u200bZ3KD7QW2PXF9LM4T", "secret"],
    ["alice＠example.com", "email"],
    ["alice@example\u2024com", "email"],
  ];
  for (const [value, type] of cases) {
    for (const text of [value, `see ${value} now`, `\u200b${value}\u200b.`]) {
      const { findings } = classify(text);
      assertEquals(
        findings.map((f) => [f.type, text.slice(f.start, f.end)]),
        [[type, value]],
        JSON.stringify(text),
      );
    }
  }
});

Deno.test("a plain finding after a folded one keeps its own offsets", () => {
  const text =
    "card 𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 then\u200b mail ada@example.org and key AKIAZ3KD7QW2PXF9LM4T";
  const found = classify(text).findings.map((f) => [f.type, f.start, f.end]);
  const at = (s: string) => [text.indexOf(s), text.indexOf(s) + s.length];
  assertEquals(found, [
    ["credit_card", ...at("𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏")],
    ["email", ...at("ada@example.org")],
    ["secret", ...at("AKIAZ3KD7QW2PXF9LM4T")],
  ]);
  assertEquals(
    redact(text, classify(text).findings),
    "card [CREDIT_CARD] then\u200b mail [EMAIL] and key [SECRET]",
  );
});

Deno.test("a value found in plain text is reported once, with its plain span", () => {
  const text = "mail ada@example.org。key ＡＫＩＡ and 4111 1111 1111 1111。";
  const plain = classify(text.replaceAll("。", "!").replace("ＡＫＩＡ", "AKIA")).findings;
  assertEquals(classify(text).findings, plain);
});

Deno.test("benign non-ASCII text gets no findings", () => {
  for (
    const text of [
      "我们下周一在会议室讨论预算。请准时参加（谢谢）！",
      "会議は３月１５日（金）午後２時からです。よろしくお願いします。",
      "東京都：天気は晴れ、気温２５度。",
      "Größe: ２ Stück — Grüße aus München, Straße 5.",
      "Party tonight 🎉😀👍🏽 bring snacks\u200d and drinks ❤️",
      "ｈｅｌｌｏ ｗｏｒｌｄ，ｓｅｅ ｙｏｕ ｓｏｏｎ．",
      "soft\u00adhyphen and zero\u200bwidth words\ufeff",
    ]
  ) {
    assertEquals(classify(text).findings, [], text);
  }
});

Deno.test("sanitize replaces the whole look-alike value and nothing around it", () => {
  const text = "pay with ４１１１\u200b１１１１ 1111 1111, reply to alice＠example.com。谢谢";
  const vault = new Vault();
  const out = sanitize(text, classify(text).findings, "placeholder", vault);
  assertEquals(out, "pay with [CREDIT_CARD_1], reply to [EMAIL_1]。谢谢");
});

Deno.test("classify: a look-alike value in a long text is read folded around it, and found whole", () => {
  // The whole text was read a second time for one stray zero-width space (half the speed).
  const card = "４１１１ １１１１ １１１１ １１１１";
  const head = "a ".repeat(100_000) + "card ";
  const text = head + card + " b".repeat(100_000) + " mail ada@example.org and a\u200bb";
  const found = classify(text).findings.map((f) => [f.type, text.slice(f.start, f.end)]);
  assertEquals(found, [["credit_card", card], ["email", "ada@example.org"]]);
});
