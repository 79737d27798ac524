import { assert, assertEquals } from "@a3s/common/testing";
import type { CloudEvent } from "./envelope.ts";
import { compareSeqs, NackedKeys } from "./nacked_keys.ts";
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
  keys.nacked(first, 1000, Promise.resolve());
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

Deno.test("nacked keys: a held delivery redelivered after a late renewal is held once", async () => {
  const released: { seq: string; deliveries: number }[][] = [];
  const keys = new NackedKeys(
    1000,
    (held) => void released.push(held.map((d) => ({ seq: d.seq, deliveries: d.deliveries }))),
  );
  const first = delivery("1", "K", []);
  keys.nacked(first, 1000, Promise.resolve());
  assert(keys.hold(delivery("2", "K", [])));
  assert(keys.hold({ ...delivery("2", "K", []), deliveries: 2 }), "the copy is held back");
  assert(keys.hold(delivery("3", "K", [])));
  assertEquals(keys.held, 2);
  keys.settled(first);
  await Promise.resolve();
  assertEquals(released, [[{ seq: "2", deliveries: 1 }, { seq: "3", deliveries: 1 }]]);
  keys.close();
});

Deno.test("nacked keys: a key whose redelivery never comes is released after its wait", async () => {
  const released: string[][] = [];
  const keys = new NackedKeys(20, (held) => void released.push(held.map((d) => d.seq)));
  keys.nacked(delivery("1", "K", []), 10, Promise.resolve());
  keys.hold(delivery("2", "K", []));
  // The nack delay plus two ack waits is 50 ms; the renewal timer notices within 5 more.
  await new Promise((r) => setTimeout(r, 120));
  assertEquals(released, [["2"]]);
  keys.close();
});

Deno.test("nacked keys: after a restart, awaited events run first, in log order, then the rest", async () => {
  const released: string[][] = [];
  const keys = new NackedKeys(1000, (held) => void released.push(held.map((d) => d.seq)));
  // A dead process may have left 5 and 6 of key K unacknowledged.
  keys.await("K", "5", Date.now() + 5000);
  keys.await("K", "6", Date.now() + 5000);
  assert(keys.hold(delivery("8", "K", [])), "a newer event waits for the awaited ones");
  assert(keys.hold(delivery("6", "K", [])), "6 waits while 5 is awaited");
  const five = delivery("5", "K", []);
  assert(!keys.hold(five), "the earliest awaited event runs");
  keys.settled(five);
  await Promise.resolve();
  assertEquals(released, [["6", "8"]]);
  assertEquals(keys.size, 0);
  keys.close();
});

Deno.test("nacked keys: an awaited event that never comes back stops blocking at its deadline", async () => {
  const released: string[][] = [];
  const keys = new NackedKeys(20, (held) => void released.push(held.map((d) => d.seq)));
  keys.await("K", "5", Date.now() + 30);
  keys.hold(delivery("7", "K", []));
  await new Promise((r) => setTimeout(r, 100));
  assertEquals(released, [["7"]]);
  keys.close();
});

Deno.test("seqs compare as numbers when decimal", () => {
  assert(compareSeqs("9", "10") < 0);
  assert(compareSeqs("10", "9") > 0);
  assertEquals(compareSeqs("12", "12"), 0);
});

Deno.test("nacked keys: nacks on their way to the broker are awaited, refused ones too", async () => {
  const keys = new NackedKeys(1000, () => {});
  assertEquals(keys.nacksArrived(), undefined, "nothing on its way: no wait");
  let confirm!: () => void;
  let refuse!: (error: Error) => void;
  keys.nacked(delivery("1", "K", []), 1000, new Promise<void>((resolve) => (confirm = resolve)));
  keys.nacked(delivery("2", "K", []), 1000, new Promise<void>((_, reject) => (refuse = reject)));
  let arrived = false;
  const waiting = keys.nacksArrived()!.then(() => (arrived = true));
  confirm();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert(!arrived, "one nack is still on its way");
  refuse(new Error("broker down"));
  await waiting;
  assertEquals(keys.nacksArrived(), undefined, "both are forgotten once settled");
  keys.close();
});
