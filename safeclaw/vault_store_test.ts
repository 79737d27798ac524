import { assert, assertEquals, createTestDatabase } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { VaultStore } from "./vault_store.ts";
import { Guard } from "./guard.ts";
import { parsePolicy } from "./policy.ts";

const SECRET = "a vault secret of 32 bytes......";

Deno.test("a vault survives a restart: same placeholders, originals restored, numbering goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "safeclaw_vault_" });
  const path = `${dir}/a3s.db`;
  try {
    let store = await openStore({ sqlitePath: path });
    let vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
    const vault = await vaults.load("u:c:1");
    const email = vault.placeholderFor("email", "ada@example.org");
    const phone = vault.placeholderFor("phone", "+44 20 7946 0958");
    await vaults.flush();
    await store.close();

    store = await openStore({ sqlitePath: path });
    vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
    const again = await vaults.load("u:c:1");
    assertEquals(
      again.restore(`mail ${email}, call ${phone}`),
      "mail ada@example.org, call +44 20 7946 0958",
    );
    assertEquals(again.placeholderFor("email", "ada@example.org"), email);
    assertEquals(again.placeholderFor("email", "bob@example.org"), "[EMAIL_2]");
    // Another session sees nothing of this one.
    assertEquals((await vaults.load("u:c:2")).size, 0);
    await vaults.flush();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a value's origin survives a restart: a reply's value is not given back as the user's own", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
  const vault = await vaults.load("u:c:1");
  const own = vault.placeholderFor("email", "ada@example.org");
  const theirs = vault.placeholderFor("email", "bob@example.com", "output");
  await vaults.flush();
  const again = await vaults.load("u:c:1");
  assertEquals(again.restore(`${own} ${theirs}`, "input"), `ada@example.org ${theirs}`);
  assertEquals(again.restore(`${own} ${theirs}`), "ada@example.org bob@example.com");
  assertEquals(
    [again.holds("bob@example.com", "input"), again.holds("bob@example.com", "output")],
    [false, true],
  );
  // Each row keeps its origin (rows from before the column default to the user's own).
  const db = store.db<{ safeclaw_vault: { origin: string } }>();
  const rows = await db.selectFrom("safeclaw_vault").select("origin").execute();
  assertEquals(rows.map((r) => r.origin).sort(), ["input", "output"]);
  await store.close();
});

Deno.test("originals are encrypted at rest and bound to their session", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
  (await vaults.load("u:c:1")).placeholderFor("email", "ada@example.org");
  await vaults.flush();
  const db = store.db<{ safeclaw_vault: { session: string; sealed: string } }>();
  const rows = await db.selectFrom("safeclaw_vault").selectAll().execute();
  assertEquals(rows.length, 1);
  assertEquals(JSON.stringify(rows).includes("ada@example.org"), false);
  assertEquals(JSON.stringify(rows).includes(btoa("ada@example.org")), false);
  // A row moved to another session does not decrypt there: the session is in the GCM tag.
  await db.updateTable("safeclaw_vault").set({ session: "u:c:evil" }).execute();
  assertEquals((await vaults.load("u:c:evil")).size, 0);
  // Another key reads nothing either.
  await db.updateTable("safeclaw_vault").set({ session: "u:c:1" }).execute();
  const other = await VaultStore.open(store, {
    secret: "another secret of 32 bytes......",
    ttlMs: 1,
  });
  assertEquals((await other.load("u:c:1")).size, 0);
  assertEquals((await vaults.load("u:c:1")).size, 1);
  await store.close();
});

Deno.test("originals expire: not restored after their time, and purged", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  let now = 1_000_000;
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 60_000, now: () => now });
  const p = (await vaults.load("u:c:1")).placeholderFor("email", "ada@example.org");
  await vaults.flush();
  now += 59_000;
  assertEquals((await vaults.load("u:c:1")).restore(p), "ada@example.org");
  now += 2_000;
  assertEquals((await vaults.load("u:c:1")).restore(p), p);
  assertEquals(await vaults.purgeExpired(), 1);
  assertEquals(await vaults.purgeExpired(), 0);
  await store.close();
});

Deno.test("a vault read back expires each original in memory when its row does", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  let now = 1_000_000;
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 60_000, now: () => now });
  const made = await vaults.load("u:c:1");
  const p = made.placeholderFor("email", "ada@example.org");
  await vaults.flush();
  now += 30_000;
  const loaded = await vaults.load("u:c:1");
  const q = loaded.placeholderFor("email", "bob@example.org", "untrusted");
  assertEquals(loaded.restore(`${p} ${q}`), "ada@example.org bob@example.org");
  now += 31_000;
  // Before, a vault once in memory gave its originals back for as long as it was kept.
  for (const vault of [made, loaded]) {
    assertEquals(vault.restore(p), p);
    assertEquals(vault.holds("ada@example.org"), false);
  }
  assertEquals(loaded.restore(q), "bob@example.org");
  // Its row expires when it does in memory, and keeps its origin.
  await vaults.flush();
  assertEquals((await vaults.load("u:c:1")).restore(`${p} ${q}`, "input"), `${p} ${q}`);
  assertEquals((await vaults.load("u:c:1")).restore(q, "untrusted"), "bob@example.org");
  now += 30_000;
  assertEquals((await vaults.load("u:c:1")).size, 0);
  await store.close();
});

Deno.test("numbering goes on past expired rows not yet purged; the new original is kept", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  let now = 1_000_000;
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 60_000, now: () => now });
  assertEquals(
    (await vaults.load("u:c:1")).placeholderFor("email", "ada@example.org"),
    "[EMAIL_1]",
  );
  await vaults.flush();
  now += 61_000;
  // Before, [EMAIL_1] was given again, its row's insert met the expired row and was dropped,
  // and the new original was gone on the next read.
  const again = await vaults.load("u:c:1");
  assertEquals(again.placeholderFor("email", "bob@example.org"), "[EMAIL_2]");
  await vaults.flush();
  assertEquals(
    (await vaults.load("u:c:1")).restore("[EMAIL_1] [EMAIL_2]"),
    "[EMAIL_1] bob@example.org",
  );
  await store.close();
});

Deno.test("a vault read while its placeholders are still being written sees them", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 60_000 });
  (await vaults.load("u:c:1")).placeholderFor("email", "ada@example.org");
  // No flush: the guard lets an idle vault go and reads it again, maybe before the write ends.
  const again = await vaults.load("u:c:1");
  assertEquals(again.restore("[EMAIL_1]"), "ada@example.org");
  assertEquals(again.placeholderFor("email", "bob@example.org"), "[EMAIL_2]");
  await vaults.flush();
  await store.close();
});

Deno.test("a stored origin this code does not know is not taken for the user's own", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 60_000 });
  const p = (await vaults.load("u:c:1")).placeholderFor("email", "ada@example.org");
  await vaults.flush();
  const db = store.db<{ safeclaw_vault: { origin: string } }>();
  await db.updateTable("safeclaw_vault").set({ origin: "from a later version" }).execute();
  const vault = await vaults.load("u:c:1");
  assertEquals([vault.restore(p, "input"), vault.restore(p, "untrusted")], [p, "ada@example.org"]);
  await store.close();
});

Deno.test("Guard: a redacted input's original comes back in the reply after a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "safeclaw_guard_vault_" });
  const path = `${dir}/a3s.db`;
  const open = async () => {
    const store = await openStore({ sqlitePath: path });
    const guard = await Guard.open({
      store,
      policy: parsePolicy({ actions: { Sensitive: "redact" }, restoreOriginals: true }),
      hmacKey: SECRET,
      tee: { kind: null, device: null },
    });
    return { store, guard };
  };
  try {
    let { store, guard } = await open();
    const decision = await guard.inspectInput({
      session: "u:c:9",
      text: "write to ada@example.org",
    });
    assertEquals(decision.text, "write to [EMAIL_1]");
    await guard.vaults.flush();
    await guard.close();
    await store.close();

    ({ store, guard } = await open());
    const reply = await guard.sanitizeOutput("u:c:9", "Sent it to [EMAIL_1].");
    assertEquals(reply.text, "Sent it to ada@example.org.");
    assert(reply.findings.length === 0, JSON.stringify(reply.findings));
    await guard.close();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the vault store on PostgreSQL: stored sealed, read back after reopening", async () => {
  const db = await createTestDatabase("a3s_sc_vault");
  // No PostgreSQL configured for tests on this machine: the SQLite tests above cover the logic.
  if (!db) return;
  try {
    let store = await openStore({ databaseUrl: db.url });
    let vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
    const p = (await vaults.load("u:c:pg")).placeholderFor("iban", "DE89 3704 0044 0532 0130 00");
    await vaults.flush();
    const raw = await store.db<{ safeclaw_vault: { sealed: string } }>()
      .selectFrom("safeclaw_vault").selectAll().execute();
    assertEquals(JSON.stringify(raw).includes("DE89"), false);
    await store.close();
    store = await openStore({ databaseUrl: db.url });
    vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
    assertEquals((await vaults.load("u:c:pg")).restore(p), "DE89 3704 0044 0532 0130 00");
    await store.close();
  } finally {
    await db.drop();
  }
});

Deno.test("a text's many placeholders are written together, with those made while a write runs", async () => {
  // One insert, each its own transaction, per placeholder held a server 13 s for 20,000.
  const dir = await Deno.makeTempDir({ prefix: "safeclaw_vault_" });
  const path = `${dir}/a3s.db`;
  try {
    let store = await openStore({ sqlitePath: path });
    let vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
    const vault = await vaults.load("many");
    for (let i = 0; i < 5_000; i++) vault.placeholderFor("email", `u${i}@example.org`);
    await new Promise((r) => setTimeout(r, 0));
    // Made while the first batch is being written: its own batch, also kept.
    vault.placeholderFor("email", "late@example.org");
    await vaults.flush();
    await store.close();
    store = await openStore({ sqlitePath: path });
    vaults = await VaultStore.open(store, { secret: SECRET, ttlMs: 3_600_000 });
    const again = await vaults.load("many");
    assertEquals(again.size, 5_001);
    assertEquals(again.restore("[EMAIL_5000] [EMAIL_5001]"), "u4999@example.org late@example.org");
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
