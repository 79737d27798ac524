import { assertEquals } from "@a3s/common/testing";
import { ReviewMemo } from "./review_memo.ts";

Deno.test("ReviewMemo forgets the least recently used first, by total size", () => {
  const memo = new ReviewMemo<number>(10);
  memo.set("a", 1, 4);
  memo.set("b", 2, 4);
  assertEquals(memo.get("a"), 1); // now "b" is the least recently used
  memo.set("c", 3, 4);
  assertEquals([memo.get("a"), memo.get("b"), memo.get("c")], [1, undefined, 3]);
  assertEquals(memo.stats, { entries: 2, size: 8 });
  // Setting a key again replaces its size; one larger than the whole is not kept.
  memo.set("a", 5, 2);
  assertEquals(memo.stats, { entries: 2, size: 6 });
  memo.set("big", 9, 11);
  assertEquals([memo.get("big"), memo.stats.entries], [undefined, 2]);
});

Deno.test("ReviewMemo forgets an entry at its expiry, and purges the expired on demand", () => {
  let now = 0;
  const memo = new ReviewMemo<string>(100, { now: () => now });
  memo.set("short", "a", 5, 1_000);
  memo.set("long", "b", 5, 5_000);
  memo.set("for ever", "c", 5);
  memo.set("already gone", "d", 5, 0);
  assertEquals(memo.stats, { entries: 3, size: 15 });
  now = 1_000;
  assertEquals([memo.get("short"), memo.get("long"), memo.get("for ever")], [undefined, "b", "c"]);
  assertEquals(memo.stats, { entries: 2, size: 10 });
  now = 5_000;
  assertEquals(memo.purgeExpired(), 1);
  assertEquals([memo.get("long"), memo.get("for ever"), memo.stats.size], [undefined, "c", 5]);
});
