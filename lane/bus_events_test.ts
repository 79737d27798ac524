import { assertEquals } from "@a3s/common/testing";
import { EventBus, type EventMessage, MemoryProvider } from "@a3s/event";
import type { LaneJobEvent } from "./bus_events.ts";
import { createLane } from "./create.ts";
import { publishLaneEvents } from "./bus_events.ts";

Deno.test("job events are published in order, after the job ran, with no payload or error text", async () => {
  const bus = new EventBus({ provider: new MemoryProvider(), source: "lane" });
  const seen: EventMessage<LaneJobEvent>[] = [];
  const sub = await bus.subscribe("lane.>", (m) => void seen.push(m as EventMessage<LaneJobEvent>));
  const lane = createLane();
  const stop = publishLaneEvents(lane, bus);
  const ok = await lane.submit("s1", "query", () => "secret result");
  await ok.result;
  const bad = await lane.submit("s1", "skill", () => {
    throw new Error("secret failure");
  }, { retry: { maxAttempts: 2, delayMs: 1 } });
  await bad.result.catch(() => {});
  await lane.close();
  await stop();
  for (let i = 0; i < 50 && seen.length < 9; i++) await new Promise((r) => setTimeout(r, 10));
  await sub.close();
  await bus.close();
  const subjects = (id: string) => seen.filter((m) => m.data.jobId === id).map((m) => m.subject);
  assertEquals(subjects(ok.id), [
    "lane.query.job.submitted",
    "lane.query.job.started",
    "lane.query.job.completed",
  ]);
  assertEquals(subjects(bad.id), [
    "lane.skill.job.submitted",
    "lane.skill.job.started",
    "lane.skill.job.failed",
    "lane.skill.job.retried",
    "lane.skill.job.started",
    "lane.skill.job.failed",
    "lane.skill.job.dead_lettered",
  ]);
  const text = JSON.stringify(seen.map((m) => m.event));
  assertEquals([text.includes("secret result"), text.includes("secret failure")], [false, false]);
  assertEquals(seen[0].event.type, "a3s.lane.job.submitted");
});
