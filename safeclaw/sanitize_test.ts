import { assertEquals } from "@a3s/common/testing";
import { classify } from "./classify.ts";
import { partialMask, sanitize, Vault } from "./sanitize.ts";
import { createStreamSanitizer } from "./stream_sanitizer.ts";

const TEXT = "Hi, I'm Ada (ada@example.org, +44 20 7946 0958). Card 4111 1111 1111 1111, " +
  "key AKIAZ3KD7QW2PXF9LM4T. Write to ada@example.org again, thanks!";

Deno.test("placeholders are typed, numbered, stable per value and restorable", () => {
  const vault = new Vault();
  const out = sanitize(TEXT, classify(TEXT).findings, "placeholder", vault);
  assertEquals(
    out,
    "Hi, I'm Ada ([EMAIL_1], [PHONE_1]). Card [CREDIT_CARD_1], key [SECRET_1]. " +
      "Write to [EMAIL_1] again, thanks!",
  );
  assertEquals(vault.restore(out), TEXT);
  assertEquals(vault.size, 4);
});

Deno.test("mask, hash and format-preserving partial masks", () => {
  const text = "card 4111-1111-1111-1111 mail ada@example.org";
  const findings = classify(text).findings;
  assertEquals(
    sanitize(text, findings, "partial"),
    "card ****-****-****-1111 mail a**@example.org",
  );
  assertEquals(sanitize(text, findings, "mask"), `card ${"*".repeat(19)} mail ${"*".repeat(15)}`);
  const hashed = sanitize(text, findings, "hash");
  assertEquals(
    /^card \[CREDIT_CARD:[0-9a-f]{12}\] mail \[EMAIL:[0-9a-f]{12}\]$/.test(hashed),
    true,
  );
  assertEquals(partialMask("DE89 3704 0044 0532 0130 00"), "**** **** **** **** **30 00");
});

Deno.test("a streamed reply is sanitized the same however it is split", () => {
  const whole = sanitize(TEXT, classify(TEXT).findings, "placeholder", new Vault());
  for (const size of [1, 2, 3, 5, 7, 11, 64]) {
    const s = createStreamSanitizer({
      detect: (t) => classify(t).findings,
      vault: new Vault(),
    });
    let out = "";
    for (let i = 0; i < TEXT.length; i += size) out += s.push(TEXT.slice(i, i + size));
    out += s.flush();
    assertEquals(out, whole, `chunks of ${size}`);
  }
});

Deno.test("the stream releases text as soon as nothing can be growing across its end", () => {
  const s = createStreamSanitizer({ detect: (t) => classify(t).findings, holdBack: 16 });
  const first = s.push("This sentence has nothing sensitive in it at all, and it goes on. ");
  assertEquals(first.length > 30, true);
  assertEquals(
    first + s.flush(),
    "This sentence has nothing sensitive in it at all, and it goes on. ",
  );
});

Deno.test("a streamed private key, the one value across lines, is redacted whole however it is split", () => {
  const body = Array.from({ length: 40 }, (_, i) => `MIIEowIBAAKCAQEA${"q".repeat(47)}${i % 10}`);
  const pem = ["-----BEGIN RSA PRIVATE KEY-----", ...body, "-----END RSA PRIVATE KEY-----"];
  const text = `Here is the key:\n${pem.join("\n")}\nKeep it safe, ada@example.org.`;
  const whole = sanitize(text, classify(text).findings, "placeholder", new Vault());
  assertEquals(whole, "Here is the key:\n[SECRET_1]\nKeep it safe, [EMAIL_1].");
  for (const size of [1, 4, 13, 64, 500]) {
    let detections = 0;
    const s = createStreamSanitizer({
      detect: (t) => (detections++, classify(t).findings),
      vault: new Vault(),
    });
    let out = "";
    for (let i = 0; i < text.length; i += size) out += s.push(text.slice(i, i + size));
    out += s.flush();
    assertEquals(out, whole, `chunks of ${size}`);
    // The block waits without detection runs: a few before and after it, not one a chunk.
    assertEquals(detections <= 12, true, `${detections} detections in chunks of ${size}`);
  }
});

Deno.test("an opening that never closes is held only as far as a key could reach", () => {
  const s = createStreamSanitizer({ detect: (t) => classify(t).findings });
  let out = s.push("-----BEGIN PRIVATE KEY-----\nnot a key after all\n");
  const line = "just prose, mail ada@example.org\n";
  for (let i = 0; i < 2_100; i++) out += s.push(line);
  assertEquals(
    out.startsWith("-----BEGIN PRIVATE KEY-----\nnot a key after all\njust prose"),
    true,
  );
  assertEquals(out.split("\n").length > 1_900, true, "released once past the detector's reach");
  out += s.flush();
  assertEquals(out.includes("ada@example.org"), false);
  assertEquals(out.split("[EMAIL]").length - 1, 2_100);
});

Deno.test("a context word already sent still lifts a value that streams in after it", () => {
  // A date of birth and a local phone number are found only near such a word; before, a stream
  // that had released the word sent the value in clear (123 of 381 such cases).
  const cases = [["date of birth", "1985-03-12"], ["call me", "555-0134"]];
  for (const [word, value] of cases) {
    for (const gap of [0, 20, 36]) {
      const text = `Note: ${word} ${"x".repeat(gap)} ${value} end of message here.`;
      const whole = sanitize(text, classify(text).findings, "placeholder", new Vault());
      assertEquals(whole.includes(value), false, text);
      for (const size of [1, 3, 8]) {
        const s = createStreamSanitizer({
          detect: (t) => classify(t).findings,
          vault: new Vault(),
        });
        let out = "";
        for (let i = 0; i < text.length; i += size) out += s.push(text.slice(i, i + size));
        assertEquals(out + s.flush(), whole, `${text} in chunks of ${size}`);
      }
    }
  }
});

Deno.test("a value in a run too long to hold whole (minified JSON) is not cut in two", () => {
  // A run without whitespace longer than the hold limit used to be cut a fixed distance from its
  // end, inside any value longer than that distance: an address with a long local part went out
  // in clear, its start released before its '@' came.
  const address = `${"ops.notifications.for.the.quarterly.finance.review.team"}@example.org`;
  const value = JSON.stringify({ pad: "x".repeat(600), to: address, tail: "y".repeat(80) });
  const whole = sanitize(value, classify(value).findings, "placeholder", new Vault());
  assertEquals(whole.includes(address), false);
  for (const size of [1, 4, 9]) {
    const s = createStreamSanitizer({
      detect: (t) => classify(t).findings,
      vault: new Vault(),
      maxHold: 256,
    });
    let out = "";
    for (let i = 0; i < value.length; i += size) out += s.push(value.slice(i, i + size));
    assertEquals(out + s.flush(), whole, `chunks of ${size}`);
  }
});

Deno.test("a vault forgets an original at its expiry: not restored nor held; seen again, it gets a new placeholder", () => {
  let now = 0;
  const added: unknown[] = [];
  const vault = new Vault({ ttlMs: 1_000, now: () => now, onAdd: (e) => added.push(e) });
  const ada = vault.placeholderFor("email", "ada@example.org");
  now = 500;
  const bob = vault.placeholderFor("email", "bob@example.org", "untrusted");
  assertEquals(vault.restore(`${ada} ${bob}`), "ada@example.org bob@example.org");
  assertEquals(vault.expiresAt(ada), 1_000);
  now = 1_000;
  assertEquals(vault.restore(`${ada} ${bob}`), `${ada} bob@example.org`);
  assertEquals([vault.holds("ada@example.org"), vault.holds("bob@example.org")], [false, true]);
  assertEquals([vault.size, vault.entries()], [1, [[bob, "bob@example.org"]]]);
  assertEquals(vault.expiresAt(ada), undefined);
  // The number is not given again: a client may still hold the old placeholder.
  assertEquals(vault.placeholderFor("email", "ada@example.org"), "[EMAIL_3]");
  assertEquals(added, [
    {
      placeholder: ada,
      type: "email",
      value: "ada@example.org",
      origin: "input",
      expiresAt: 1_000,
    },
    {
      placeholder: bob,
      type: "email",
      value: "bob@example.org",
      origin: "untrusted",
      expiresAt: 1_500,
    },
    {
      placeholder: "[EMAIL_3]",
      type: "email",
      value: "ada@example.org",
      origin: "input",
      expiresAt: 2_000,
    },
  ]);
});

Deno.test("only the user's own values are restored as theirs: untrusted content's and replies' are not", () => {
  const vault = new Vault();
  const own = vault.placeholderFor("email", "ada@example.org", "input");
  const tool = vault.placeholderFor("email", "bob@example.org", "untrusted");
  const reply = vault.placeholderFor("email", "eve@example.org", "output");
  const text = `${own} ${tool} ${reply}`;
  assertEquals(vault.restore(text, "input"), `ada@example.org ${tool} ${reply}`);
  assertEquals([...vault.placeholders("input")], [own]);
  assertEquals([...vault.placeholders()], [own, tool, reply]);
  assertEquals(vault.holds("bob@example.org", "input"), false);
  // A vault read back numbers on past the placeholders that are gone.
  const again = new Vault({
    entries: [{ placeholder: own, type: "email", value: "ada@example.org" }],
    retired: [{ placeholder: "[EMAIL_7]", type: "email" }],
  });
  assertEquals(again.placeholderFor("email", "new@example.org"), "[EMAIL_8]");
});

Deno.test("partial masks show no secret with an @, and little of a short value", () => {
  // Everything after the @ came out in clear: an email's domain was kept for any type.
  assertEquals(partialMask("P@ssw0rd-Kx81Qz-9931", "secret"), "*@******-******-9931");
  assertEquals(partialMask("p@ssword-Secret-Key-123"), "*@******-******-**y-123");
  const text = "smtp password: P@ssw0rd-Kx81Qz-9931";
  assertEquals(
    sanitize(text, [{ type: "secret", start: 15, end: text.length }], "partial"),
    "smtp password: *@******-******-9931",
  );
  assertEquals(partialMask("ada@example.org", "email"), "a**@example.org");
  assertEquals(partialMask("ada@example.org"), "a**@example.org");
  // Four of a short value were most or all of it.
  assertEquals(partialMask("4111"), "****");
  assertEquals(partialMask("10.0.0.1"), "**.*.*.*");
  assertEquals(partialMask("1990-01-01"), "****-**-01");
  assertEquals(partialMask("4111 1111 1111 1111"), "**** **** **** 1111");
});

Deno.test("hash mode is an HMAC under the deployment's key, not a SHA-256 anyone can recompute", async () => {
  const { createHash } = await import("node:crypto");
  const { openStore } = await import("@a3s/common");
  const { VaultStore } = await import("./vault_store.ts");
  const text = "born 1990-01-01";
  const findings = [{ type: "date_of_birth" as const, start: 5, end: 15 }];
  const hashOf = (vault?: Vault) => sanitize(text, findings, "hash", vault).slice(5);
  const unkeyed = createHash("sha256").update("1990-01-01").digest("hex").slice(0, 12);
  assertEquals(hashOf().includes(unkeyed), false);
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const open = (secret: string) => VaultStore.open(store, { secret, ttlMs: 60_000 });
    const a = await open("deployment key number one");
    const b = await open("deployment key number two");
    // Stable across a deployment's sessions, different in another deployment.
    assertEquals(hashOf(await a.load("s1")), hashOf(await a.load("s2")));
    assertEquals(hashOf(await a.load("s1")) === hashOf(await b.load("s1")), false);
    assertEquals(hashOf(await a.load("s1")).includes(unkeyed), false);
  } finally {
    await store.close();
  }
});

Deno.test("a vault says whether it holds a value without reading every original", () => {
  const vault = new Vault();
  for (let i = 0; i < 40_000; i++) vault.placeholderFor("email", `u${i}@x.example`, "output");
  vault.placeholderFor("email", "ada@example.org", "input");
  const started = performance.now();
  let held = 0;
  for (let i = 0; i < 40_000; i++) if (vault.holds(`u${i}@x.example`, "output")) held++;
  assertEquals(held, 40_000);
  assertEquals(vault.holds("ada@example.org", "input"), true);
  assertEquals(vault.holds("ada@example.org", "output"), false);
  // A scan of every original per call took seconds here.
  assertEquals(performance.now() - started < 1000, true);
});
