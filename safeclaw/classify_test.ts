import { assertEquals } from "@a3s/common/testing";
import { classify, createClassifier, redact } from "./mod.ts";

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
