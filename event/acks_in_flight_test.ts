import { assert, assertEquals } from "@a3s/common/testing";
import { AcksInFlight } from "./acks_in_flight.ts";

Deno.test("acks in flight: confirmed acks are forgotten, failed ones remembered for the window", async () => {
  const acks = new AcksInFlight(60_000, 1000);
  const confirmed = Promise.resolve();
  acks.track(confirmed, "a");
  acks.track(confirmed, "b");
  const lost = Promise.reject(new Error("connection closed"));
  acks.track(lost, "c");
  acks.track(lost, "d");
  await acks.settled();
  assertEquals(
    ["a", "b", "c", "d"].map((id) => acks.failedRecently(id)),
    [false, false, true, true],
  );
});

Deno.test("acks in flight: settled waits for acks tracked while it waits", async () => {
  const acks = new AcksInFlight(60_000, 1000);
  const first = Promise.withResolvers<void>();
  const second = Promise.withResolvers<void>();
  acks.track(first.promise, "a");
  let done = false;
  const waiting = acks.settled().then(() => (done = true));
  acks.track(second.promise, "b");
  first.resolve();
  await new Promise((r) => setTimeout(r, 5));
  assert(!done, "settled before the second ack");
  second.resolve();
  await waiting;
  assert(done);
});
