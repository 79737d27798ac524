import { assertEquals, assertThrows } from "@a3s/common/testing";
import { preparedQuery } from "./_prepared.ts";
import type { BoxTables } from "./schema.ts";
import { addBusybox, testHome } from "./_test_support.ts";

Deno.test("a prepared query runs its compiled SQL with each call's values", async () => {
  const home = await testHome();
  try {
    const imageId = await addBusybox(home.images);
    const db = home.store.db<BoxTables>();
    let compiles = 0;
    const imageOfTag = preparedQuery(() => {
      compiles++;
      return db.selectFrom("box_tags").select("image_id").where("ref", "=", "").compile();
    });
    const found = await db.executeQuery(imageOfTag("busybox:latest"));
    assertEquals(found.rows, [{ image_id: imageId }]);
    assertEquals((await db.executeQuery(imageOfTag("missing:latest"))).rows, []);
    assertEquals(compiles, 1);
    // The values must match what the query was compiled with, one for one.
    assertThrows(() => imageOfTag("a", "b"), Error, "takes 1 values, got 2");
  } finally {
    await home.close();
  }
});
