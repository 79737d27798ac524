import { assertEquals, assertThrows } from "@a3s/common/testing";
import { columnsOf, preparedInsert, preparedQuery } from "./_prepared.ts";
import type { BoxTables, EventRow } from "./schema.ts";
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

Deno.test("a prepared insert writes each row's every column, compiled once", async () => {
  const home = await testHome();
  try {
    const db = home.store.db<BoxTables>();
    const insertEvent = preparedInsert(
      db,
      "box_events",
      columnsOf<EventRow>({ id: true, at: true, action: true, box_id: true, detail: true }),
    );
    const events: EventRow[] = [
      { id: "e1", at: 1, action: "create", box_id: "b1", detail: "{}" },
      { id: "e2", at: 2, action: "exec", box_id: "b1", detail: '{"command":["true"]}' },
    ];
    const first = insertEvent(events[0]);
    for (const event of events) await db.executeQuery(insertEvent(event));
    const stored = await db.selectFrom("box_events").selectAll().orderBy("at").execute();
    assertEquals(stored, events);
    // The same compiled SQL for every row; only the values differ, in the columns' order.
    assertEquals(insertEvent(events[1]).sql, first.sql);
    assertEquals(insertEvent(events[1]).parameters, [
      "e2",
      2,
      "exec",
      "b1",
      '{"command":["true"]}',
    ]);
  } finally {
    await home.close();
  }
});
