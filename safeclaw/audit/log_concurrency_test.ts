/** The audit log under concurrent use: verify alongside appends and prunes, several writers. */
import { assertEquals, createTestDatabase } from "@a3s/common/testing";
import { openStore, type Store } from "@a3s/common";
import { AuditLog, NO_ANCHOR_WARNING, type VerifyResult } from "./log.ts";

const KEY = "test-key-0123456789abcdef";

/** Runs `check` on a fresh PostgreSQL database, or does nothing where none can run. */
async function onPostgres(check: (url: string) => Promise<void>): Promise<void> {
  const db = await createTestDatabase("a3s_sc_audit_conc");
  if (!db) return;
  try {
    await check(db.url);
  } finally {
    await db.drop();
  }
}

async function verifyWhileAppending(store: Store): Promise<void> {
  const audit = await AuditLog.open(store, { hmacKey: KEY });
  for (let i = 0; i < 30; i++) await audit.append({ kind: "classification", severity: "info" });
  const alarms: VerifyResult[] = [];
  for (let round = 0; round < 20; round++) {
    const appends = Array.from(
      { length: 5 },
      (_, i) => audit.append({ kind: "redaction", severity: "info", data: { round, i } }),
    );
    const result = await audit.verify();
    await Promise.all(appends);
    if (!result.ok) alarms.push(result);
  }
  assertEquals(alarms, []);
  assertEquals(await audit.verify(), {
    ok: true,
    records: 130,
    checkpointSeq: null,
    warning: NO_ANCHOR_WARNING,
  });
}

/** Registers `check` as a test on SQLite and one on PostgreSQL, each on a store of its own. */
function testOnBothStores(name: string, check: (store: Store) => Promise<void>): void {
  const onStore = async (options: Parameters<typeof openStore>[0]) => {
    const store = await openStore(options);
    try {
      await check(store);
    } finally {
      await store.close();
    }
  };
  Deno.test(`${name} (SQLite)`, () => onStore({ sqlitePath: ":memory:" }));
  Deno.test(`${name} (PostgreSQL)`, () => onPostgres((url) => onStore({ databaseUrl: url })));
}

testOnBothStores(
  "verify reports no tampering while appends run alongside it",
  verifyWhileAppending,
);

/** Verify runs while a prune deletes the records its walk has yet to read. */
async function verifyWhilePruning(store: Store): Promise<void> {
  let clock = 0;
  const audit = await AuditLog.open(store, { hmacKey: KEY, now: () => ++clock });
  for (let i = 0; i < 600; i++) await audit.append({ kind: "classification", severity: "info" });
  const alarms: VerifyResult[] = [];
  for (let cut = 100; cut <= 500; cut += 100) {
    const verifying = audit.verify();
    const pruning = audit.prune(cut);
    const appending = audit.append({ kind: "block", severity: "critical" });
    const [result] = await Promise.all([verifying, pruning, appending]);
    if (!result.ok) alarms.push(result);
  }
  assertEquals(alarms, []);
  const after = await audit.verify();
  assertEquals([after.ok, after.checkpointSeq], [true, 499]);
}

testOnBothStores("verify reports no tampering while a prune runs alongside it", verifyWhilePruning);

Deno.test("two processes appending to one SQLite file lose no record", async () => {
  const home = await Deno.makeTempDir();
  const path = `${home}/a3s.db`;
  const perWriter = 200;
  try {
    const setup = await openStore({ sqlitePath: path });
    await AuditLog.open(setup, { hmacKey: KEY });
    await setup.close();
    const writers = ["A", "B"].map((name) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--config",
          new URL("../../deno.json", import.meta.url).pathname,
          new URL("./testdata/audit_writer.ts", import.meta.url).pathname,
          path,
          name,
          String(perWriter),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn()
    );
    // Both say ready before either is told to go, so their appends overlap.
    const readers = writers.map((child) =>
      child.stdout.pipeThrough(new TextDecoderStream()).getReader()
    );
    const firstLines = await Promise.all(readers.map((reader) => reader.read()));
    assertEquals(firstLines.map((line) => line.value?.trim()), ["ready", "ready"]);
    await Promise.all(writers.map(async (child) => {
      const stdin = child.stdin.getWriter();
      await stdin.write(new TextEncoder().encode("go\n"));
      await stdin.close();
    }));
    const reports = await Promise.all(readers.map(async (reader) => {
      let text = "";
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += chunk.value;
      }
      return JSON.parse(text.trim().split("\n").at(-1)!) as { writer: string; failures: string[] };
    }));
    const statuses = await Promise.all(writers.map((child) => child.status));
    assertEquals(statuses.map((status) => status.code), [0, 0]);
    assertEquals(reports, [{ writer: "A", failures: [] }, { writer: "B", failures: [] }]);
    const store = await openStore({ sqlitePath: path });
    try {
      const audit = await AuditLog.open(store, { hmacKey: KEY });
      assertEquals(await audit.count({ session: "A" }), perWriter);
      assertEquals(await audit.count({ session: "B" }), perWriter);
      assertEquals(await audit.verify(), {
        ok: true,
        records: 2 * perWriter,
        checkpointSeq: null,
        warning: NO_ANCHOR_WARNING,
      });
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("several connections appending to one PostgreSQL database lose no record", async () => {
  await onPostgres(async (url) => {
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => openStore({ databaseUrl: url, poolSize: 2 })),
    );
    try {
      const logs = [];
      for (const store of stores) logs.push(await AuditLog.open(store, { hmacKey: KEY }));
      const failures: string[] = [];
      await Promise.all(logs.map(async (audit, writer) => {
        for (let i = 0; i < 50; i++) {
          await audit.append({ kind: "classification", severity: "info", data: { writer, i } })
            .catch((error) => failures.push(String(error)));
        }
      }));
      assertEquals(failures, []);
      assertEquals(await logs[0].verify(), {
        ok: true,
        records: 200,
        checkpointSeq: null,
        warning: NO_ANCHOR_WARNING,
      });
    } finally {
      for (const store of stores) await store.close();
    }
  });
});
