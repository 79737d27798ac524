import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { ValidationError } from "@a3s/common";
import { KeyRing } from "./crypto.ts";
import { buildEnvelope, type CloudEvent } from "./envelope.ts";
import { EventKeyMissingError, EventTamperedError } from "./errors.ts";
import { EventBus } from "./bus.ts";
import { MemoryProvider } from "./providers/memory.ts";
import { waitFor } from "./_contract.ts";

const event = (subject: string, data: unknown): CloudEvent =>
  buildEnvelope({ subject, data, type: "t", source: "test", schemaVersion: "1", key: "k" });

Deno.test("crypto: AES-256-GCM round trip; the envelope names the key, not the payload", async () => {
  const ring = await KeyRing.create([{
    id: "k1",
    subjects: "vault.>",
    secret: KeyRing.generateSecret(),
  }]);
  const sealed = await ring.seal(event("vault.a", { pin: "1234" }));
  assertEquals(sealed.a3skid, "k1");
  assertEquals(sealed.a3senc, "A256GCM");
  assertEquals(sealed.data, undefined);
  assert(!JSON.stringify(sealed).includes("1234"));
  assertEquals((await ring.open(sealed)).data, { pin: "1234" });
  const plain = await ring.seal(event("public.a", 1));
  assertEquals(plain.a3skid, undefined, "a subject no key covers stays plain");
});

Deno.test("crypto: tampering with payload or attributes is detected", async () => {
  const ring = await KeyRing.create([{ id: "k1", secret: KeyRing.generateSecret() }]);
  const sealed = await ring.seal(event("vault.a", { amount: 10 }));
  const bytes = atob(sealed.data_base64!);
  const flipped = btoa(
    bytes.slice(0, -1) + String.fromCharCode(bytes.charCodeAt(bytes.length - 1) ^ 1),
  );
  await assertRejects(() => ring.open({ ...sealed, data_base64: flipped }), EventTamperedError);
  await assertRejects(() => ring.open({ ...sealed, subject: "vault.b" }), EventTamperedError);
  await assertRejects(() => ring.open({ ...sealed, partitionkey: "other" }), EventTamperedError);
  const stripped: CloudEvent = { ...sealed, data: { amount: 1_000_000 } };
  delete stripped.a3skid;
  delete stripped.a3senc;
  delete stripped.data_base64;
  await assertRejects(() => ring.open(stripped), EventTamperedError, "unsealed");
});

Deno.test("crypto: HMAC mode keeps the payload readable and rejects edits", async () => {
  const ring = await KeyRing.create([{ id: "s1", mode: "sign", secret: KeyRing.generateSecret() }]);
  const signed = await ring.seal(event("audit.x", { decision: "allow" }));
  assertEquals(signed.data, { decision: "allow" });
  assert(typeof signed.a3ssig === "string");
  assertEquals((await ring.open(signed)).data, { decision: "allow" });
  // Key order of the payload does not matter: the signature covers canonical JSON.
  assertEquals((await ring.open(JSON.parse(JSON.stringify(signed)))).data, { decision: "allow" });
  await assertRejects(
    () => ring.open({ ...signed, data: { decision: "deny" } }),
    EventTamperedError,
    "signature",
  );
});

Deno.test("crypto: rotation seals with the newest key and still opens old events", async () => {
  const old = { id: "2025", subjects: "vault.>", secret: KeyRing.generateSecret() };
  const before = await KeyRing.create([old]);
  const oldEvent = await before.seal(event("vault.a", "old"));
  const rotated = await KeyRing.create([old, {
    id: "2026",
    subjects: "vault.>",
    secret: KeyRing.generateSecret(),
  }]);
  const newEvent = await rotated.seal(event("vault.a", "new"));
  assertEquals(newEvent.a3skid, "2026");
  assertEquals((await rotated.open(oldEvent)).data, "old");
  assertEquals((await rotated.open(newEvent)).data, "new");
  const error = await assertRejects(() => before.open(newEvent), EventKeyMissingError);
  assertEquals(error.keyId, "2026");
});

Deno.test("crypto: bad keys are named in the error", async () => {
  const short = await assertRejects(
    () => KeyRing.create([{ id: "k", secret: btoa("too short") }]),
    ValidationError,
  );
  assertEquals(short.field, "keys.0.secret");
  const badId = await assertRejects(
    () => KeyRing.create([{ id: "has space", secret: KeyRing.generateSecret() }]),
    ValidationError,
  );
  assertEquals(badId.field, "keys.0.id");
});

Deno.test("crypto: a tampered event is audited and dead-lettered, never handed over", async () => {
  const provider = new MemoryProvider();
  const ring = await KeyRing.create([{
    id: "k1",
    subjects: "pay.>",
    secret: KeyRing.generateSecret(),
  }]);
  const audits: string[] = [];
  const bus = new EventBus({ provider, keyRing: ring, onAudit: (r) => void audits.push(r.reason) });
  try {
    const handled: unknown[] = [];
    const dead: unknown[] = [];
    await bus.subscribe(
      "dlq.payments",
      (m) => void dead.push((m.data as { reason: string }).reason),
    );
    await bus.consume("payments", "pay.>", (m) => void handled.push(m.data));
    const sealed = await bus.prepare("pay.out", { amount: 5 });
    // Someone with broker access rewrites the subject of a sealed event.
    await provider.publish({ ...sealed, subject: "pay.refund" });
    await bus.publish("pay.out", { amount: 7 });
    await waitFor(() => handled.length === 1 && dead.length === 1);
    assertEquals(handled, [{ amount: 7 }]);
    assertEquals(dead, ["event_tampered"]);
    assertEquals(audits, ["tampered"]);
  } finally {
    await bus.close();
  }
});
