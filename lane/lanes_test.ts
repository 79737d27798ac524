import { assertEquals } from "@a3s/common/testing";
import { isLaneName, LANE_NAMES, laneRank, parseLaneName } from "./lanes.ts";

Deno.test("lanes follow upstream's order, system first and prompt last", () => {
  assertEquals([...LANE_NAMES], ["system", "control", "query", "session", "skill", "prompt"]);
  assertEquals(LANE_NAMES.map(laneRank), [0, 1, 2, 3, 4, 5]);
  assertEquals(isLaneName("control"), true);
  assertEquals(isLaneName("turbo"), false);
  assertEquals(parseLaneName("skill"), "skill");
  try {
    parseLaneName("turbo", "body.lane");
    throw new Error("accepted");
  } catch (error) {
    assertEquals((error as { field?: string }).field, "body.lane");
  }
});
