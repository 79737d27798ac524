/**
 * The in-memory tag lookup against a second process's writes: two image stores on one SQLite
 * file and one image dir, as `serve` and the CLI beside it, each with its own connection.
 */
import { assertEquals, assertRejects } from "@a3s/common/testing";
import { NotFoundError, openStore, type Store } from "@a3s/common";
import { join } from "node:path";
import { ImageStore } from "./store.ts";
import { formatReference, parseReference } from "./reference.ts";
import { addBusybox } from "../_test_support.ts";

async function twoStores(dir: string): Promise<{ stores: Store[]; a: ImageStore; b: ImageStore }> {
  const stores = [
    await openStore({ sqlitePath: join(dir, "a3s.db") }),
    await openStore({ sqlitePath: join(dir, "a3s.db") }),
  ];
  return {
    stores,
    a: await ImageStore.open(stores[0], join(dir, "images")),
    b: await ImageStore.open(stores[1], join(dir, "images")),
  };
}

Deno.test("tag cache: another process's tag, pull and removal are seen on the next lookup", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-tagcache" });
  const { stores, a, b } = await twoStores(dir);
  try {
    const first = await addBusybox(b, "app:1");
    assertEquals((await a.resolve("app:1")).id, first);
    // The second lookup is served from memory: a row deleted behind the image store's back
    // (no writer's mark) is still answered.
    await stores[1].db<{ box_tags: { ref: string } }>().deleteFrom("box_tags")
      .where("ref", "=", formatReference(parseReference("app:1"))).execute();
    assertEquals((await a.resolve("app:1")).id, first);
    // A writer through the image store marks its change; the other process sees it at once.
    const second = await addBusybox(b, "other:1");
    await assertRejects(() => a.resolve("app:1"), NotFoundError);
    await b.tag("other:1", "app:1");
    assertEquals((await a.resolve("app:1")).id, second);
    assertEquals((await a.resolve("app:1")).id, second);
    await b.tag(first, "app:1");
    assertEquals((await a.resolve("app:1")).id, first);
    await b.remove("app:1", () => Promise.resolve(false));
    await assertRejects(() => a.resolve("app:1"), NotFoundError);
    // A pull (an image recorded with its tag) is found by the process that missed it before.
    await assertRejects(() => a.resolve("late:1"), NotFoundError);
    const late = await addBusybox(b, "late:1");
    assertEquals((await a.resolve("late:1")).id, late);
    // And the writer's own cache follows its own writes.
    await b.remove("late:1", () => Promise.resolve(false));
    await assertRejects(() => b.resolve("late:1"), NotFoundError);
  } finally {
    for (const store of stores) await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tag cache: a marker grown past its limit is replaced, and readers notice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-tagcache" });
  const { stores, a, b } = await twoStores(dir);
  try {
    const id = await addBusybox(b, "app:1");
    const marker = join(dir, "a3s.db-box-images-changed");
    Deno.writeFileSync(marker, new Uint8Array(5000));
    assertEquals((await a.resolve("app:1")).id, id);
    await b.remove("app:1", () => Promise.resolve(false));
    assertEquals(Deno.statSync(marker).size, 1);
    await assertRejects(() => a.resolve("app:1"), NotFoundError);
  } finally {
    for (const store of stores) await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tag cache: the canonical tag of each spelling is remembered, what it names still follows other processes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a3s-tagcache" });
  const { stores, a, b } = await twoStores(dir);
  try {
    const first = await addBusybox(b, "app:1");
    const spellings = ["app:1", "docker.io/app:1"];
    for (const ref of spellings) assertEquals((await a.resolve(ref)).id, first);
    // Looked up again, each spelling's canonical tag is remembered; the image it names is not:
    // a retag, a removal and a new pull in the other store are seen through every spelling.
    const second = await addBusybox(b, "other:1");
    await b.tag("other:1", "app:1");
    for (const ref of spellings) assertEquals((await a.resolve(ref)).id, second);
    await b.remove("app:1", () => Promise.resolve(false));
    for (const ref of spellings) await assertRejects(() => a.resolve(ref), NotFoundError);
    const third = await addBusybox(b, "app:1");
    for (const ref of spellings) assertEquals((await a.resolve(ref)).id, third);
    // An id prefix is still looked up as an id first, whatever was resolved before.
    assertEquals((await a.resolve(second.slice(7, 19))).id, second);
    await assertRejects(() => a.resolve("app:2"), NotFoundError);
  } finally {
    for (const store of stores) await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
