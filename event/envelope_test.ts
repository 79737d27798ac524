import { assertEquals } from "@a3s/common/testing";
import { buildEnvelope, MALFORMED_TEXT_KEPT, readStoredEvent } from "./envelope.ts";

Deno.test("readStoredEvent gives a stored event back as it was written", () => {
  const event = buildEnvelope({
    subject: "orders.created",
    data: { n: 1 },
    type: "t",
    source: "s",
    schemaVersion: "1",
    key: "k1",
  });
  assertEquals(readStoredEvent(JSON.stringify(event), "7", "orders.created"), event);
});

Deno.test("readStoredEvent makes a malformed stand-in on our part of the subject, keeping the text's start", () => {
  const cases: [string, string][] = [
    ["{oops", "not JSON"],
    ["null", "not a JSON object"],
    ["[1]", "not a JSON object"],
    ['{"specversion":"0.3"}', "specversion: not 1.0"],
    [
      '{"specversion":"1.0","id":"a","source":"s","type":"t","time":"x"}',
      "subject: not a non-empty string",
    ],
    [
      '{"specversion":"1.0","id":"a","source":"s","type":"t","subject":"x","time":"x","partitionkey":7}',
      "partitionkey: not a string",
    ],
  ];
  for (const [text, why] of cases) {
    const standIn = readStoredEvent(text, "42", "pfx.orders.created", 4);
    assertEquals(standIn.a3smalformed, why, text);
    assertEquals(standIn.subject, "orders.created");
    assertEquals(standIn.id, "malformed-42");
    assertEquals(standIn.data, { text });
  }
  const long = "x".repeat(MALFORMED_TEXT_KEPT + 10);
  assertEquals((readStoredEvent(long, "1", "a").data as { text: string }).text.length, 4096);
});
