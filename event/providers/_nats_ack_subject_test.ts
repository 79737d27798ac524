import { assertEquals, assertThrows } from "@a3s/common/testing";
import { parseAckSubject } from "./_nats_ack_subject.ts";

Deno.test("ack subjects in the old nine-token layout", () => {
  assertEquals(
    parseAckSubject("$JS.ACK.A3S_EVENTS.worker.3.1042.17.1764135000123456789.5"),
    { deliveries: 3, streamSeq: "1042", storedAtMs: 1764135000123.4568 },
  );
});

Deno.test("ack subjects with a domain, an account hash and a trailing random token", () => {
  const parsed = parseAckSubject(
    "$JS.ACK._.ACCHASH.A3S_EVENTS.worker.1.7.7.1764135000000000000.0.Xy7Zq",
  );
  assertEquals(parsed, { deliveries: 1, streamSeq: "7", storedAtMs: 1764135000000 });
  assertEquals(
    parseAckSubject("$JS.ACK.hub.ACC.S.c.2.9.4.1764135000000000000.3").streamSeq,
    "9",
  );
});

Deno.test("a subject that is not an ack subject is refused", () => {
  assertThrows(() => parseAckSubject("_INBOX.abc.def"), Error, "not a JetStream ack subject");
  assertThrows(() => parseAckSubject("$JS.ACK.S.c.1.2"), Error, "not a JetStream ack subject");
});

Deno.test("parsing into a reused object overwrites every field", () => {
  const into = { deliveries: 0, streamSeq: "", storedAtMs: 0 };
  parseAckSubject("$JS.ACK.S.c.4.100.90.1764135000000500000.1", into);
  const second = parseAckSubject("$JS.ACK.S.c.1.7.7.1764135000123000000.0", into);
  assertEquals(second === into, true);
  assertEquals(into, { deliveries: 1, streamSeq: "7", storedAtMs: 1764135000123 });
});
