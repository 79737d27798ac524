import { assertEquals, assertThrows } from "@a3s/common/testing";
import { ValidationError } from "@a3s/common";
import { LaneSectionSchema } from "./config.ts";
import { createLane } from "./create.ts";

Deno.test("config: retention and the abort grace period are part of the lane section", () => {
  const section = {
    retention: { completed: { maxAgeMs: 3_600_000, maxCount: 50 }, dead: { maxCount: 10 } },
    abortGraceMs: 2_000,
  };
  assertEquals(LaneSectionSchema.parse(section), section);
  assertEquals(LaneSectionSchema.parse({ retention: { completed: {} } }), {
    retention: { completed: {} },
  });
  for (
    const bad of [
      { retention: { completed: { maxCount: -1 } } },
      { retention: { completed: { maxAgeMs: 1.5 } } },
      { retention: { failed: { maxCount: 1 } } },
      { retention: { dead: { count: 1 } } },
      { abortGraceMs: -1 },
    ]
  ) {
    assertEquals(LaneSectionSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

Deno.test("options: a bad retention or grace period is a 400 naming the field", () => {
  const error = assertThrows(
    () => createLane({ retention: { completed: { maxCount: -1 } } }),
    ValidationError,
  );
  assertEquals(error.field, "retention.completed.maxCount");
  const grace = assertThrows(() => createLane({ abortGraceMs: -5 }), ValidationError);
  assertEquals(grace.field, "abortGraceMs");
});
