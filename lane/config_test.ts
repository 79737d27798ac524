import { assertEquals, assertThrows } from "@a3s/common/testing";
import { ValidationError } from "@a3s/common";
import { LaneSectionSchema } from "./config.ts";
import { createLane } from "./create.ts";
import { type LaneOptions, MAX_ABORT_GRACE_MS } from "./lane.ts";

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
      { abortGraceMs: MAX_ABORT_GRACE_MS + 1 },
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

Deno.test("options: an abort grace past the longest timer delay is refused, naming the field", async () => {
  for (const grace of [MAX_ABORT_GRACE_MS + 1, 3e9, Infinity, NaN]) {
    const error = assertThrows(() => createLane({ abortGraceMs: grace }), ValidationError);
    assertEquals(error.field, "abortGraceMs", String(grace));
  }
  assertEquals(
    LaneSectionSchema.parse({ abortGraceMs: MAX_ABORT_GRACE_MS }).abortGraceMs,
    MAX_ABORT_GRACE_MS,
  );
  await createLane({ abortGraceMs: MAX_ABORT_GRACE_MS }).close();
});

Deno.test("options: a retention with an unknown key or a value that is no object is refused", () => {
  const cases: [unknown, string][] = [
    [{ completed: { count: 5 } }, "retention.completed.count"],
    [{ dead: { maxAge: 5 } }, "retention.dead.maxAge"],
    [{ failed: { maxCount: 1 } }, "retention.failed"],
    [5, "retention"],
    [[], "retention"],
    [{ completed: null }, "retention.completed"],
    [{ dead: 3 }, "retention.dead"],
  ];
  for (const [retention, field] of cases) {
    const error = assertThrows(
      // deliberately ill-typed, as JavaScript callers and parsed JSON can pass it
      () => createLane({ retention: retention as LaneOptions["retention"] }),
      ValidationError,
    );
    assertEquals(error.field, field, JSON.stringify(retention));
  }
});
