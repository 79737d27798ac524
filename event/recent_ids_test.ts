import { assert, assertEquals } from "@a3s/common/testing";
import { RecentIds } from "./recent_ids.ts";

Deno.test("recent ids: an id is known within its window and forgotten after it", () => {
  const ids = new RecentIds(1000);
  ids.add("a", 0);
  ids.add("b", 500);
  assert(ids.has("a", 999));
  assert(!ids.has("a", 1000));
  assert(ids.has("b", 1000));
  assert(!ids.has("c", 1000));
  assertEquals(ids.size, 1);
});

Deno.test("recent ids: ids added after a lookup are found by the next one", () => {
  const ids = new RecentIds(1000);
  ids.add("a", 0);
  assert(ids.has("a", 1));
  ids.add("b", 2);
  assert(ids.has("b", 3));
  assert(ids.has("a", 3));
});

Deno.test("recent ids: an id acknowledged again keeps its later window when the first expires", () => {
  const ids = new RecentIds(1000);
  ids.add("a", 0);
  assert(ids.has("a", 1));
  ids.add("a", 800);
  assert(ids.has("a", 1500), "the second ack's window runs to 1800");
  assert(!ids.has("a", 1800));
});

Deno.test("recent ids: past the limit the oldest are forgotten, and compaction keeps lookups right", () => {
  const ids = new RecentIds(60_000, 5000);
  for (let i = 0; i < 12_000; i++) {
    ids.add(`id-${i}`, i);
    if (i % 1000 === 0) assert(ids.has(`id-${i}`, i));
  }
  assert(!ids.has("id-0", 12_000));
  assert(!ids.has("id-6999", 12_000));
  assert(ids.has("id-7000", 12_000));
  assert(ids.has("id-11999", 12_000));
  assertEquals(ids.size, 5000);
});

Deno.test("recent ids: ids that expired before any lookup are never indexed", () => {
  const ids = new RecentIds(10);
  for (let i = 0; i < 200; i++) ids.add(`old-${i}`, 0);
  ids.add("new", 100);
  assert(!ids.has("old-5", 100));
  assert(ids.has("new", 100));
  assertEquals(ids.size, 1);
});
