import { assert, assertEquals } from "@a3s/common/testing";
import type { CloudEvent } from "./envelope.ts";
import { NackedKeys } from "./nacked_keys.ts";
import type { ProviderDelivery } from "./provider.ts";

/** A delivery that records what the consumer asked of it. */
function delivery(seq: string, key: string, extended: string[]): ProviderDelivery {
  const event = {
    specversion: "1.0",
    id: `id-${seq}`,
    source: "t",
    type: "t",
    subject: "s.e",
    time: "",
    partitionkey: key,
  } as CloudEvent;
  return {
    seq,
    event,
    deliveries: 1,
    ack: () => Promise.resolve(),
    nack: () => Promise.resolve(),
    extend: () => {
      extended.push(seq);
      return Promise.resolve();
    },
  };
}

Deno.test("nacked keys: later deliveries are held, renewed, and released in order after the ack", async () => {
  const extended: string[] = [];
  const released: string[][] = [];
  const keys = new NackedKeys(40, (held) => void released.push(held.map((d) => d.seq)));
  const first = delivery("1", "K", extended);
  keys.nacked(first, 1000);
  assert(keys.hold(delivery("2", "K", extended)));
  assert(keys.hold(delivery("3", "K", extended)));
  assert(!keys.hold(delivery("9", "other", extended)), "another key is not held");
  assert(!keys.hold({ ...first, deliveries: 2 }), "the nacked event's redelivery runs");
  assertEquals(keys.held, 2);
  await new Promise((r) => setTimeout(r, 70));
  assert(extended.includes("2") && extended.includes("3"), `renewed: ${extended}`);
  keys.settled(first);
  assertEquals(released, [], "released on the next microtask, not inside the handler");
  await Promise.resolve();
  assertEquals(released, [["2", "3"]]);
  assertEquals(keys.size, 0);
  keys.close();
});

Deno.test("nacked keys: a key whose redelivery never comes is released after its wait", async () => {
  const released: string[][] = [];
  const keys = new NackedKeys(20, (held) => void released.push(held.map((d) => d.seq)));
  keys.nacked(delivery("1", "K", []), 10);
  keys.hold(delivery("2", "K", []));
  // The nack delay plus two ack waits is 50 ms; the renewal timer notices within 5 more.
  await new Promise((r) => setTimeout(r, 120));
  assertEquals(released, [["2"]]);
  keys.close();
});
