import { assertEquals } from "@a3s/common/testing";
import { LaneEvents } from "./events.ts";
import type { LaneEvent } from "./types.ts";

Deno.test("events reach every listener; a throwing listener does not stop the others", () => {
  const events = new LaneEvents();
  assertEquals(events.active, false);
  const seen: string[] = [];
  events.subscribe(() => {
    throw new Error("faulty listener");
  });
  const stop = events.subscribe((event) => seen.push(event.type));
  assertEquals(events.active, true);
  const event: LaneEvent = {
    type: "started",
    jobId: "j",
    session: "s",
    lane: "skill",
    kind: "k",
    attempt: 1,
    at: 0,
  };
  events.emit(event);
  stop();
  events.emit({ ...event, type: "completed" });
  assertEquals(seen, ["started"]);
});
