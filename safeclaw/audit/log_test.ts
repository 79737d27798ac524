import { assert, assertEquals, assertRejects, createTestDatabase } from "@a3s/common/testing";
import { A3sError, openStore, type Store } from "@a3s/common";
import { sql } from "kysely";
import { AuditLog, NO_ANCHOR_WARNING } from "./log.ts";
import { auditKey, auditKeyPath, readAuditKey } from "./key.ts";

const KEY = "test-key-0123456789abcdef";

async function seeded(store: Store, n = 6): Promise<AuditLog> {
  let t = 1_000;
  const audit = await AuditLog.open(store, { hmacKey: KEY, now: () => (t += 1000) });
  for (let i = 0; i < n; i++) {
    await audit.append({
      kind: i % 2 ? "block" : "classification",
      severity: i % 3 === 0 ? "critical" : "info",
      session: i < 3 ? "u1:c:t" : "u2:c:t",
      data: { index: i, types: ["email"] },
    });
  }
  return audit;
}

async function tamperCases(open: () => Promise<{ store: Store; done: () => Promise<void> }>) {
  const cases: [string, string, (db: Store) => Promise<unknown>, number][] = [
    [
      "an edited record",
      "edited",
      (s) => sql`update safeclaw_audit set data = '{"index":99}' where seq = 3`.execute(s.db()),
      3,
    ],
    [
      "a deleted record",
      "missing",
      (s) => sql`delete from safeclaw_audit where seq = 2`.execute(s.db()),
      2,
    ],
    [
      "reordered records",
      "",
      async (s) => {
        await sql`update safeclaw_audit set seq = -4 where seq = 4`.execute(s.db());
        await sql`update safeclaw_audit set seq = 4 where seq = 5`.execute(s.db());
        await sql`update safeclaw_audit set seq = 5 where seq = -4`.execute(s.db());
      },
      4,
    ],
    [
      "a cut-off tail",
      "cut off",
      (s) => sql`delete from safeclaw_audit where seq = 6`.execute(s.db()),
      6,
    ],
  ];
  for (const [name, reason, tamper, firstBad] of cases) {
    const { store, done } = await open();
    try {
      const audit = await seeded(store);
      assertEquals((await audit.verify()).ok, true);
      await tamper(store);
      const result = await audit.verify();
      assertEquals(result.ok, false, name);
      assertEquals(result.firstBad?.seq, firstBad, `${name}: ${JSON.stringify(result)}`);
      assert(result.firstBad!.reason.includes(reason), `${name}: ${result.firstBad!.reason}`);
    } finally {
      await done();
    }
  }
}

Deno.test("the chain verifies and names the first edited, deleted, reordered or cut record (SQLite)", async () => {
  await tamperCases(async () => {
    const store = await openStore({ sqlitePath: ":memory:" });
    return { store, done: () => store.close() };
  });
});

Deno.test("an inserted record breaks the chain at the insertion", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store);
    // Shift the tail up one and forge a record into the gap with a guessed hash.
    await sql`update safeclaw_audit set seq = seq + 100 where seq >= 4`.execute(store.db());
    await sql`update safeclaw_audit set seq = seq - 99 where seq >= 104`.execute(store.db());
    const prev = (await audit.list({ limit: 3 }))[2].hash;
    await sql`insert into safeclaw_audit values (4, 0, 'approval', 'info', null, '{}', ${prev}, ${
      "f".repeat(64)
    })`.execute(store.db());
    const result = await audit.verify();
    assertEquals([result.ok, result.firstBad?.seq], [false, 4]);
  } finally {
    await store.close();
  }
});

Deno.test("list filters by severity, session and time; pruning leaves a verifiable chain", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store, 10);
    assertEquals((await audit.list({ severity: "critical" })).map((r) => r.seq), [1, 4, 7, 10]);
    assertEquals((await audit.list({ session: "u1:c:t" })).length, 3);
    assertEquals((await audit.list({ since: 4000, until: 6000 })).map((r) => r.seq), [3, 4]);
    const exported = [];
    for await (const r of audit.iterate({ minSeverity: "critical" })) exported.push(r.seq);
    assertEquals(exported, [1, 4, 7, 10]);
    assertEquals(await audit.prune(5500), 4);
    const verified = await audit.verify();
    assertEquals([verified.ok, verified.records, verified.checkpointSeq], [true, 6, 4]);
    await audit.append({ kind: "classification", severity: "info" });
    assertEquals((await audit.verify()).records, 7);
    await sql`update safeclaw_audit_checkpoints set hash = ${"0".repeat(64)}`.execute(store.db());
    assertEquals((await audit.verify()).firstBad?.reason, "checkpoint signature is invalid");
  } finally {
    await store.close();
  }
});

Deno.test("concurrent appends never fork the chain", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await AuditLog.open(store, { hmacKey: KEY });
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => audit.append({ kind: "k", severity: "info", data: { i } }),
      ),
    );
    assertEquals(await audit.verify(), {
      ok: true,
      records: 50,
      checkpointSeq: null,
      warning: NO_ANCHOR_WARNING,
    });
  } finally {
    await store.close();
  }
});

Deno.test("a session name with a NUL or an unpaired surrogate is stored as hashed: the chain verifies", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await AuditLog.open(store, { hmacKey: KEY });
    for (const session of ["s\0x", "\ud800", "plain"]) {
      await audit.append({ kind: "classification", severity: "info", session, data: {} });
    }
    assertEquals(await audit.verify(), {
      ok: true,
      records: 3,
      checkpointSeq: null,
      warning: NO_ANCHOR_WARNING,
    });
    const sessions = (await audit.list({})).map((r) => r.session);
    assertEquals(sessions.toSorted(), ["plain", "s\uFFFDx", "\uFFFD"].toSorted());
  } finally {
    await store.close();
  }
});

/**
 * Deleting the tail together with the signed head: after a prune the checkpoint proves records
 * existed, so the missing head is reported, and an append refuses to chain over the gap.
 */
async function deletedHeadCases(open: () => Promise<{ store: Store; done: () => Promise<void> }>) {
  {
    const { store, done } = await open();
    try {
      const audit = await seeded(store, 10);
      assertEquals(await audit.prune(8_500), 7);
      await sql`delete from safeclaw_audit`.execute(store.db());
      await sql`delete from safeclaw_audit_head`.execute(store.db());
      const result = await audit.verify();
      assertEquals([result.ok, result.checkpointSeq, result.firstBad?.seq], [false, 7, 8]);
      assert(result.firstBad!.reason.includes("head"), result.firstBad!.reason);
      await assertRejects(
        () => audit.append({ kind: "classification", severity: "info" }),
        A3sError,
        "signed head is missing",
      );
      assertEquals((await audit.verify()).firstBad, result.firstBad);
    } finally {
      await done();
    }
  }
  {
    const { store, done } = await open();
    try {
      const audit = await seeded(store, 4);
      await sql`delete from safeclaw_audit_head`.execute(store.db());
      assertEquals((await audit.verify()).firstBad?.reason, "the signed head is missing");
      await assertRejects(
        () => audit.append({ kind: "classification", severity: "info" }),
        A3sError,
        "signed head is missing",
      );
    } finally {
      await done();
    }
  }
}

Deno.test("deleting the records after a checkpoint with the signed head is reported (SQLite)", async () => {
  await deletedHeadCases(async () => {
    const store = await openStore({ sqlitePath: ":memory:" });
    return { store, done: () => store.close() };
  });
});

Deno.test("the same chain checks on PostgreSQL", async () => {
  if (!(await createTestDatabase("a3s_sc_probe").then((db) => db?.drop().then(() => true)))) {
    return;
  }
  const openPostgres = async () => {
    const db = (await createTestDatabase("a3s_sc_audit"))!;
    const store = await openStore({ databaseUrl: db.url });
    return {
      store,
      done: async () => {
        await store.close();
        await db.drop();
      },
    };
  };
  await tamperCases(openPostgres);
  await deletedHeadCases(openPostgres);
});

Deno.test("auditKey: a lost key file is not silently replaced while the log holds records", async () => {
  const home = await Deno.makeTempDir();
  const store = await openStore({ home });
  try {
    const hasHistory = () => AuditLog.hasHistory(store);
    const first = await auditKey(undefined, home, hasHistory);
    assertEquals(await auditKey(undefined, home, hasHistory), first);
    const audit = await AuditLog.open(store, { hmacKey: first });
    await audit.append({ kind: "classification", severity: "info" });
    await Deno.remove(auditKeyPath(home));
    // A new key would chain every later record to one the old ones cannot verify against.
    await assertRejects(
      () => auditKey(undefined, home, hasHistory),
      A3sError,
      "is missing, but the audit log holds records",
    );
    assertEquals(await readAuditKey(undefined, home), undefined);
    assertEquals(await readAuditKey("a configured key of 16+", home), "a configured key of 16+");
  } finally {
    await store.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("AuditLog: count, the newest records, and a dry-run prune that deletes nothing", async () => {
  const store = await openStore({ home: await Deno.makeTempDir() });
  try {
    let now = 1_000;
    const audit = await AuditLog.open(store, { hmacKey: "0123456789abcdef", now: () => now++ });
    for (let i = 0; i < 5; i++) {
      await audit.append({ kind: i % 2 ? "block" : "redaction", severity: "info" });
    }
    assertEquals(await audit.count(), 5);
    assertEquals(await audit.count({ kind: "block" }), 2);
    assertEquals((await audit.list({ limit: 2, newest: true })).map((r) => r.seq), [4, 5]);
    assertEquals(await audit.prune(1_003, { dryRun: true }), 3);
    assertEquals(await audit.count(), 5);
    assertEquals(await audit.prune(1_003), 3);
    assertEquals(await audit.count(), 2);
    assertEquals((await audit.verify()).ok, true);
  } finally {
    await store.close();
  }
});

Deno.test("an anchor kept outside the store catches a log cut back to an older head, or wiped", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store, 4);
    const oldHead = await sql<Record<string, unknown>>`select * from safeclaw_audit_head`
      .execute(store.db());
    for (let i = 0; i < 2; i++) await audit.append({ kind: "block", severity: "warning" });
    const anchor = await audit.anchor();
    assertEquals(anchor?.seq, 6);
    assertEquals((await audit.verify({ anchor: anchor! })).ok, true);
    // Records 5 and 6 deleted and the head signed at 4 put back: the store alone cannot tell.
    await sql`delete from safeclaw_audit where seq > 4`.execute(store.db());
    const { id, seq, hash, signature } = oldHead.rows[0];
    await sql`update safeclaw_audit_head set seq = ${seq}, hash = ${hash}, signature = ${signature}
      where id = ${id}`.execute(store.db());
    assertEquals((await audit.verify()).ok, true);
    const cut = await audit.verify({ anchor: anchor! });
    assertEquals([cut.ok, cut.firstBad?.seq], [false, 5]);
    assert(cut.firstBad!.reason.includes("cut off or the log wiped"), cut.firstBad!.reason);
    // Everything deleted looks like a new log, but not against the anchor.
    await sql`delete from safeclaw_audit`.execute(store.db());
    await sql`delete from safeclaw_audit_head`.execute(store.db());
    assertEquals((await audit.verify()).ok, true);
    assertEquals((await audit.verify({ anchor: anchor! })).firstBad?.seq, 1);
  } finally {
    await store.close();
  }
});

Deno.test("an anchor is refused for a tampered log, checked for its key, and survives pruning", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store, 10);
    const early = await audit.anchor();
    assertEquals(early?.seq, 10);
    const other = await AuditLog.open(store, { hmacKey: "another key of sixteen bytes" });
    const forged = await other.verify({ anchor: early! });
    // The other key fails on the chain itself first; a forged signature on a good chain:
    assertEquals(forged.ok, false);
    const wrong = await audit.verify({ anchor: { ...early!, signature: "0".repeat(64) } });
    assert(wrong.firstBad!.reason.includes("signature is invalid"), wrong.firstBad!.reason);
    // A log pruned past the anchor still verifies against it: the log only grew.
    for (let i = 0; i < 3; i++) await audit.append({ kind: "block", severity: "info" });
    assertEquals(await audit.prune(12_500), 11);
    assertEquals((await audit.verify({ anchor: early! })).ok, true);
    const late = await audit.anchor();
    assertEquals((await audit.verify({ anchor: late! })).ok, true);
    // The anchored record edited: the chain breaks first; an anchor for a tampered log is refused.
    await sql`update safeclaw_audit set data = '{"x":1}' where seq = 13`.execute(store.db());
    assertEquals((await audit.verify({ anchor: late! })).firstBad?.seq, 13);
    await assertRejects(() => audit.anchor(), A3sError, "no anchor is issued");
  } finally {
    await store.close();
  }
});

Deno.test("verify without an anchor warns that a cut tail or a wipe cannot be ruled out", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store, 2);
    const result = await audit.verify();
    assertEquals([result.ok, result.warning], [true, NO_ANCHOR_WARNING]);
    const anchor = await audit.anchor();
    assertEquals((await audit.verify({ anchor: anchor! })).warning, undefined);
  } finally {
    await store.close();
  }
});

Deno.test("an anchor file is appended to every N records and at close; verify checks it by default", async () => {
  const dir = await Deno.makeTempDir();
  const anchorFile = `${dir}/anchors`;
  const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
  try {
    const audit = await AuditLog.open(store, { hmacKey: KEY, anchorFile, anchorEveryRecords: 3 });
    for (let i = 0; i < 7; i++) await audit.append({ kind: "block", severity: "info" });
    const lines = () => Deno.readTextFile(anchorFile).then((t) => t.trim().split("\n"));
    assertEquals((await lines()).map((l) => l.split(":")[2]), ["3", "6"]);
    await audit.close();
    assertEquals((await lines()).map((l) => l.split(":")[2]), ["3", "6", "7"]);
    assertEquals((await Deno.stat(anchorFile)).mode! & 0o777, 0o600);
    const ok = await audit.verify();
    assertEquals([ok.ok, ok.records, ok.warning], [true, 7, undefined]);
    // The tail cut back to record 5 with record 5's head put back, as a WAL copy allows.
    const head5 = await sql<Record<string, unknown>>`select seq, hash from safeclaw_audit
      where seq = 5`.execute(store.db());
    const other = await AuditLog.open(store, { hmacKey: KEY });
    await sql`delete from safeclaw_audit where seq > 5`.execute(store.db());
    const { seq, hash } = head5.rows[0];
    const { createHmac } = await import("node:crypto");
    const signature = createHmac("sha256", KEY).update(`head:${seq}:${hash}`).digest("hex");
    await sql`update safeclaw_audit_head set seq = ${seq}, hash = ${hash},
      signature = ${signature}`.execute(store.db());
    assertEquals((await other.verify()).ok, true, "the store alone cannot tell");
    const cut = await audit.verify();
    assertEquals([cut.ok, cut.firstBad?.seq], [false, 6]);
    // Every record, the head and the checkpoints wiped: still not a fresh log.
    await sql`delete from safeclaw_audit`.execute(store.db());
    await sql`delete from safeclaw_audit_head`.execute(store.db());
    const wiped = await audit.verify();
    assertEquals([wiped.ok, wiped.firstBad?.seq], [false, 1]);
    assert(wiped.firstBad!.reason.includes("cut off or the log wiped"), wiped.firstBad!.reason);
    // A line signed with another key is named.
    await Deno.writeTextFile(
      anchorFile,
      `a3s-audit-anchor:v1:1:${"a".repeat(64)}:${"b".repeat(64)}\n`,
      {
        append: true,
      },
    );
    const forged = await audit.verify();
    assert(
      forged.firstBad!.reason.includes("line 4: the signature is invalid"),
      forged.firstBad!.reason,
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an anchor file not written yet is a warning naming it, not a failure", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await AuditLog.open(store, { hmacKey: KEY, anchorFile: `${dir}/a` });
    await audit.append({ kind: "block", severity: "info" });
    const result = await audit.verify();
    assertEquals(result.ok, true);
    assert(result.warning!.includes(`${dir}/a does not exist`), result.warning);
    await audit.close();
    assertEquals((await audit.verify()).warning, undefined);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a seq no JavaScript number holds, or no integer at all, is named as the row at fault", async () => {
  const cases: [string, string, string][] = [
    [
      "past 2^53",
      "update safeclaw_audit set seq = 9007199254740993 where seq = 6",
      "9007199254740993",
    ],
    [
      "text",
      "insert into safeclaw_audit select 'x', ts, kind, severity, session, data, prev_hash, hash from safeclaw_audit where seq = 2",
      "x",
    ],
    [
      "a blob",
      "insert into safeclaw_audit select x'05', ts, kind, severity, session, data, prev_hash, hash from safeclaw_audit where seq = 2",
      "\u0005",
    ],
    [
      "a fraction",
      "insert into safeclaw_audit select 5.5, ts, kind, severity, session, data, prev_hash, hash from safeclaw_audit where seq = 2",
      "5.5",
    ],
  ];
  for (const [name, tamper, row] of cases) {
    const store = await openStore({ sqlitePath: ":memory:" });
    try {
      const audit = await seeded(store);
      await sql`${sql.raw(tamper)}`.execute(store.db());
      const result = await audit.verify();
      assertEquals([result.ok, result.firstBad?.seq, result.firstBad?.row], [false, 0, row], name);
      assert(result.firstBad!.reason.includes("written outside the log"), name);
    } finally {
      await store.close();
    }
  }
});

Deno.test("a dropped audit table fails verify with a reason, not an error", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store);
    await sql`drop table safeclaw_audit_checkpoints`.execute(store.db());
    const result = await audit.verify();
    assertEquals([result.ok, result.firstBad?.seq], [false, 0]);
    assert(result.firstBad!.reason.includes("no such table"), result.firstBad!.reason);
  } finally {
    await store.close();
  }
});

Deno.test("a wrong key is reported as a key mismatch, an edit of record 1 as an edit", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store);
    const wrong = await AuditLog.open(store, { hmacKey: "abcdefghijklmnopqrstu" });
    const mismatch = await wrong.verify();
    assertEquals([mismatch.ok, mismatch.firstBad?.seq], [false, 1]);
    assert(mismatch.firstBad!.reason.includes("key does not match"), mismatch.firstBad!.reason);
    await sql`update safeclaw_audit set kind = 'x' where seq = 1`.execute(store.db());
    assert((await audit.verify()).firstBad!.reason.includes("edited"));
  } finally {
    await store.close();
  }
});

Deno.test("bytes hidden after a NUL in a stored field fail verify", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await seeded(store);
    await sql`update safeclaw_audit set data = data || char(0) || '{"forged":true}' where seq = 2`
      .execute(store.db());
    const result = await audit.verify();
    assertEquals([result.ok, result.firstBad?.seq], [false, 2]);
    assert(result.firstBad!.reason.includes("after a NUL"), result.firstBad!.reason);
  } finally {
    await store.close();
  }
});

Deno.test("a short or empty key file is an A3sError naming the file", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${home}/safeclaw`);
    for (const text of ["short", ""]) {
      await Deno.writeTextFile(auditKeyPath(home), text);
      await assertRejects(() => readAuditKey(undefined, home), A3sError, auditKeyPath(home));
    }
    const store = await openStore({ sqlitePath: ":memory:" });
    await assertRejects(() => AuditLog.open(store, { hmacKey: "short" }), A3sError, "16 bytes");
    await store.close();
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a quiet log anchors its newest record after anchorEveryMs without another append", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const audit = await AuditLog.open(store, {
      hmacKey: KEY,
      anchorFile: `${dir}/a`,
      anchorEveryMs: 30,
    });
    await audit.append({ kind: "block", severity: "info" });
    await new Promise((wake) => setTimeout(wake, 120));
    assertEquals((await Deno.readTextFile(`${dir}/a`)).split(":")[2], "1");
    await audit.close();
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an anchor file that cannot be written is told to the server and warned of by verify", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    // In a directory that is not there: every write fails, as on a full or read-only volume.
    const anchorFile = `${dir}/gone/anchors`;
    const told: [string, number][] = [];
    const audit = await AuditLog.open(store, {
      hmacKey: KEY,
      anchorFile,
      anchorEveryRecords: 2,
      onAnchorError: (error, from) => told.push([error.message, from]),
    });
    for (let i = 0; i < 6; i++) await audit.append({ kind: "block", severity: "info" });
    // Told once, at the first failure, with the first record left unanchored.
    assertEquals(told.length, 1, JSON.stringify(told));
    assertEquals(told[0][1], 1);
    assert(audit.anchorError, "anchorError is set");
    // Before, verify said only that the file held no anchor: nothing named the failed writes.
    const result = await audit.verify();
    assertEquals(result.ok, true);
    assert(result.warning!.includes("could not write its anchor file"), result.warning);
    assert(result.warning!.includes("since record 1"), result.warning);
    // Once a write succeeds, the warning goes with the error.
    await Deno.mkdir(`${dir}/gone`);
    await audit.close();
    assertEquals(audit.anchorError, undefined);
    assertEquals((await audit.verify()).warning, undefined);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an anchor file lagging the log past the anchoring interval is a warning naming the records", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: ":memory:" });
  let clock = 1_000_000;
  const now = () => clock;
  try {
    const anchorFile = `${dir}/anchors`;
    const options = { hmacKey: KEY, anchorFile, anchorEveryMs: 60_000, now };
    const audit = await AuditLog.open(store, options);
    for (let i = 0; i < 3; i++) await audit.append({ kind: "block", severity: "info" });
    await audit.close();
    // Another writer whose anchoring is broken (here: configured without the file).
    const other = await AuditLog.open(store, { hmacKey: KEY, now });
    for (let i = 0; i < 4; i++) await other.append({ kind: "block", severity: "info" });
    // Within the interval a writer may still be about to anchor: no warning.
    clock += 60_000;
    assertEquals((await audit.verify()).warning, undefined);
    // Past twice the interval, records 4 to 7 are covered by no anchor: said, not failed, since
    // a crashed writer leaves such a tail too.
    clock += 61_000;
    const late = await audit.verify();
    assertEquals(late.ok, true);
    assert(late.warning!.includes("lags the log"), late.warning);
    assert(late.warning!.includes("records 4 to 7"), late.warning);
    // An anchor written past them settles it.
    await audit.append({ kind: "block", severity: "info" });
    await audit.close();
    assertEquals((await audit.verify()).warning, undefined);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the anchor file is never written through a symlink planted at its path", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const target = `${dir}/elsewhere`;
    const anchorFile = `${dir}/anchors`;
    await Deno.symlink(target, anchorFile);
    const audit = await AuditLog.open(store, { hmacKey: KEY, anchorFile, anchorEveryRecords: 1 });
    await audit.append({ kind: "block", severity: "info" });
    // Before, the dangling link's target was created (mode 0600) and appended to.
    assertEquals(await Deno.lstat(target).then(() => true, () => false), false);
    assert(audit.anchorError!.message.includes("is a symlink"), audit.anchorError!.message);
    // A link to an existing file is refused as well, and the file left as it was.
    await Deno.writeTextFile(target, "note\n");
    await audit.close();
    assertEquals(await Deno.readTextFile(target), "note\n");
    assert(audit.anchorError!.message.includes("is a symlink"), audit.anchorError!.message);
    // A plain file at the path is appended to.
    await Deno.remove(anchorFile);
    await audit.close();
    assertEquals(audit.anchorError, undefined);
    assertEquals((await Deno.readTextFile(anchorFile)).split(":")[2], "1");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
