import { loadavg } from "node:os";
import { assertEquals } from "@a3s/common/testing";
import { spareCore } from "./_spare_core.ts";

Deno.test("spareCore: the load average against the core count, read again after a second", () => {
  const now = performance.now() + 10_000; // past any earlier check in this process
  const expected = loadavg()[0] < navigator.hardwareConcurrency;
  assertEquals(spareCore(now), expected);
  // Within the second the answer is the cached one, whatever the load does meanwhile.
  assertEquals(spareCore(now + 500), expected);
});
