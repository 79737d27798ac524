import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { A3sError, NotFoundError, ValidationError } from "../errors.ts";
import { openStore, type Store } from "../store.ts";
import { createTestDatabase } from "../testing.ts";
import { scopeGrants } from "./scopes.ts";
import { TokenStore } from "./tokens.ts";

/** The token store's whole life, run on each backend. */
async function exercise(store: Store): Promise<void> {
  const tokens = await TokenStore.open(store);
  // Opening twice applies the migration once.
  const again = await TokenStore.open(store);
  const created = await tokens.create({
    name: "ci",
    scopes: ["power:read", "power:read", "box:exec"],
  });
  assertEquals(created.scopes, ["power:read", "box:exec"]);
  assertEquals((await again.verify(created.token))?.id, created.id);
  assertEquals(await tokens.verify(`${created.token}x`), undefined);
  assertEquals(await tokens.verify("a3s_0000000000000000_" + "A".repeat(43)), undefined);
  assertEquals(await tokens.verify("not a token"), undefined);
  const listed = await tokens.list();
  assertEquals(listed.length, 1);
  assert(listed[0].lastUsedAt, "verify records the last use");
  assert(!JSON.stringify(listed).includes(created.token.slice(21)), "list never shows a secret");
  assertEquals(await tokens.activeCount(), 1);
  await tokens.revoke(created.id);
  assertEquals(await tokens.verify(created.token), undefined);
  assertEquals(await tokens.activeCount(), 0);
  const twice = await assertRejects(() => tokens.revoke(created.id), A3sError);
  assertEquals(twice.status, 409);
  await assertRejects(() => tokens.revoke("ffffffffffffffff"), NotFoundError);
  await assertRejects(() => tokens.create({ scopes: ["root"] }), ValidationError);
  await assertRejects(() => tokens.create({ scopes: [] }), ValidationError);
}

Deno.test("tokens: create, verify, list, revoke on SQLite", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await exercise(store);
  } finally {
    await store.close();
  }
});

Deno.test("tokens: create, verify, list, revoke on PostgreSQL", async () => {
  const database = await createTestDatabase("a3s_tokens");
  if (!database) return;
  const store = await openStore({ databaseUrl: database.url });
  try {
    await exercise(store);
  } finally {
    await store.close();
    await database.drop();
  }
});

Deno.test("scopes: admin covers all; write and exec imply read; module wildcards", () => {
  assert(scopeGrants(["admin"], "box:exec"));
  assert(scopeGrants(["admin"], "admin"));
  assert(scopeGrants(["box:*"], "box:exec"));
  assert(scopeGrants(["power:write"], "power:read"));
  assert(scopeGrants(["box:exec"], "box:read"));
  assert(!scopeGrants(["power:read"], "power:write"));
  assert(!scopeGrants(["power:*"], "box:read"));
  assert(!scopeGrants(["power:*"], "admin"));
});
