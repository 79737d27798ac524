import { openStore } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import { assertEquals } from "@a3s/common/testing";
import { openLocalIndex } from "./local_index.ts";
import { checkIndexContract } from "./_index_contract.ts";

Deno.test("PostgreSQL full-text index passes the same contract", async () => {
  const database = await createTestDatabase("a3s_search");
  if (!database) return;
  const store = await openStore({ databaseUrl: database.url });
  try {
    const index = await openLocalIndex(store);
    assertEquals(index.backend, "postgres-fts");
    await checkIndexContract(index);
  } finally {
    await store.close();
    await database.drop();
  }
});
