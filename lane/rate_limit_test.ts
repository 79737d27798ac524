import { assertEquals } from "@a3s/common/testing";
import { TokenBucket } from "./rate_limit.ts";

Deno.test("a token bucket allows its burst, then one token per 1/rate", () => {
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3 }, 0);
  assertEquals([0, 0, 0, 0].map(() => bucket.tryTake(0)), [true, true, true, false]);
  assertEquals(bucket.waitMs(0), 100);
  assertEquals(bucket.tryTake(50), false);
  assertEquals(bucket.tryTake(100), true);
  assertEquals(bucket.tryTake(10_000), true, "refills up to the burst");
  assertEquals(bucket.tryTake(10_000), true);
  assertEquals(bucket.tryTake(10_000), true);
  assertEquals(bucket.tryTake(10_000), false);
});
