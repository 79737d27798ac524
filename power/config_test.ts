import { assert, assertEquals } from "@a3s/common/testing";
import { PowerSectionSchema } from "./config.ts";

Deno.test("the power section defaults every key and names a bad one", () => {
  const section = PowerSectionSchema.parse({});
  assertEquals(section.concurrency, 8);
  assertEquals(section.keepAliveMs, 300_000);
  assertEquals(section.models, {});
  assertEquals(section.noDefaultModel, false);
  for (
    const [bad, key] of [
      [{ concurrency: 0 }, "concurrency"],
      [{ keepAliveMs: 1e12 }, "keepAliveMs"],
      [{ models: { tiny: 3 } }, "models"],
    ] as const
  ) {
    const result = PowerSectionSchema.safeParse(bad);
    assert(!result.success, JSON.stringify(bad));
    assertEquals(String(result.error.issues[0].path[0]), key);
  }
});
