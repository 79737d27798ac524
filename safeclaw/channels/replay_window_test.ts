import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { DELIVERY_MEMORY_MS } from "./deliveries.ts";
import { clientNetwork, knownClient, UNKNOWN_CLIENT } from "./client_address.ts";
import {
  ClientFailureBudget,
  freshness,
  MAX_REPLY_HANDLES,
  REPLAY_WINDOW_MS,
  replayWindow,
  ReplyHandles,
  timestampMs,
} from "./replay_window.ts";

const NOW = 1_700_000_000_000;

Deno.test("timestampMs reads seconds or milliseconds of plain digits only", () => {
  assertEquals(timestampMs("1700000000", "s"), NOW);
  assertEquals(timestampMs("1700000000000", "ms"), NOW);
  for (const text of [null, undefined, "", "-1", "1.5", "1e9", " 1", "0x10", "1".repeat(17)]) {
    assertEquals(timestampMs(text, "s"), undefined, String(text));
  }
});

Deno.test("freshness: five minutes either way; stale, future and malformed timestamps refused", () => {
  const check = (text: string | null, unit: "s" | "ms" = "s") =>
    freshness({ text, unit, now: NOW, windowMs: REPLAY_WINDOW_MS });
  assertEquals(REPLAY_WINDOW_MS, 300_000);
  assertEquals(check("1700000000"), undefined);
  assertEquals(check(String(1_700_000_000 - 300)), undefined);
  assertEquals(check(String(1_700_000_000 + 300)), undefined);
  const stale = "request timestamp outside the 5-minute window (replay)";
  assertEquals(check(String(1_700_000_000 - 301)), stale);
  assertEquals(check(String(1_700_000_000 + 301)), stale);
  // A captured request of 2023 replayed years later.
  assertEquals(check("1690000000"), stale);
  assertEquals(check(String(NOW - 300_001), "ms"), stale);
  assertEquals(check(null), "missing or malformed request timestamp");
  assertEquals(check("soon"), "missing or malformed request timestamp");
  // A longer window for the past than for the future, named in the reason.
  const event = (text: string) =>
    freshness({
      text,
      unit: "ms",
      now: NOW,
      windowMs: 12 * 3_600_000,
      aheadMs: REPLAY_WINDOW_MS,
      what: "event create_time",
    });
  assertEquals(event(String(NOW - 7 * 3_600_000)), undefined);
  assertEquals(
    event(String(NOW - 13 * 3_600_000)),
    "event create_time outside the 12-hour window (replay)",
  );
  assert(event(String(NOW + 600_000)) !== undefined);
});

Deno.test("replayWindow: five minutes by default, never as long as half the delivery memory", () => {
  assertEquals(replayWindow({}).windowMs, REPLAY_WINDOW_MS);
  assertEquals(replayWindow({}, 3_600_000).windowMs, 3_600_000);
  assertEquals(replayWindow({ replayWindowMs: 1000 }).windowMs, 1000);
  // A request fresh at both ends of a longer window outlives the hub's memory of it.
  assertEquals(
    replayWindow({ replayWindowMs: DELIVERY_MEMORY_MS }).windowMs,
    DELIVERY_MEMORY_MS / 2,
  );
  assertEquals(replayWindow({ now: () => 42 }).now(), 42);
});

Deno.test("ReplyHandles: one entry per key, the first kept, gone once expired", () => {
  let now = NOW;
  const handles = new ReplyHandles<string>({ now: () => now });
  assert(handles.add("m1", "first", NOW + 1000));
  for (let i = 0; i < 10_000; i++) assert(!handles.add("m1", `replay ${i}`, NOW + 5000));
  assertEquals(handles.size, 1);
  assertEquals(handles.get("m1"), "first");
  // Already expired: never kept.
  assert(!handles.add("m2", "late", NOW));
  assertEquals(handles.size, 1);
  now += 1000;
  assertEquals(handles.get("m1"), undefined);
  assertEquals(handles.size, 0);
  // A key whose entry expired takes a new one.
  assert(handles.add("m1", "again", now + 1000));
  assertEquals(handles.get("m1"), "again");
  handles.delete("m1");
  assertEquals(handles.size, 0);
});

Deno.test("ReplyHandles: expired entries are dropped as new ones come, and the count is capped", () => {
  let now = NOW;
  const handles = new ReplyHandles<number>({ now: () => now, maxEntries: 3 });
  for (let i = 0; i < 3; i++) handles.add(`old${i}`, i, now + 1000);
  now += 1000;
  // Never looked up again (their replies failed), the old ones go when the next comes.
  handles.add("new", 9, now + 1000);
  assertEquals(handles.size, 1);
  for (let i = 0; i < 100; i++) handles.add(`m${i}`, i, now + 1000);
  assertEquals(handles.size, 3);
  assertEquals([handles.get("m97"), handles.get("m98"), handles.get("m99")], [97, 98, 99]);
  assertEquals(handles.get("new"), undefined);
  assertEquals(MAX_REPLY_HANDLES, 10_000);
});

Deno.test("ClientFailureBudget: only failures count, each network against itself, an IPv6 /64 is one network", () => {
  let now = 0;
  const budget = new ClientFailureBudget({
    perClient: 2,
    overall: 1_000,
    maxNetworks: 3,
    now: () => now,
  });
  const fails = (client: string, n: number) => {
    for (let i = 0; i < n; i++) budget.fail(client);
  };
  // Nothing failed: every network is allowed, and none is remembered.
  assert(budget.allows("198.51.100.7"));
  assertEquals(budget.size, 0);
  fails("192.0.2.1", 2);
  assertEquals([budget.allows("192.0.2.1"), budget.allows("192.0.2.2")], [false, true]);
  fails("2001:db8:1:2::1", 1);
  fails("2001:db8:1:2:ffff::9", 1);
  assert(!budget.allows("2001:db8:1:2:aaaa::3"));
  // However many networks have failed, one that has not is still allowed.
  for (let i = 0; i < 11; i++) fails(`203.0.113.${i}`, 2);
  for (let i = 0; i < 10; i++) fails(`2001:db8:0:${i}::1`, 2);
  assert(budget.allows("198.51.100.7"));
  // Memory stays bounded: the networks counted longest ago are let go for new ones.
  assertEquals(budget.size, 3);
  now = 60_000;
  assertEquals(budget.size, 0);
  assert(budget.allows("2001:db8:0:9::1"));
});

Deno.test("ClientFailureBudget: the overall budget caps all networks together, a /48's 65,536 /64s included; memory stays bounded and the next minute restores it", () => {
  let now = 0;
  const budget = new ClientFailureBudget({ perClient: 30, overall: 100, now: () => now });
  let worked = 0;
  let refused = 0;
  // As Feishu asks it: the overall budget first, then the network's; each network fails once.
  for (let i = 0; i < 65_536; i++) {
    const client = `2001:db8:1:${i.toString(16)}::1`;
    if (budget.overallSpent || !budget.allows(client)) {
      refused++;
      continue;
    }
    worked++;
    budget.fail(client);
  }
  // Before, each /64 had its own 30: the /48 got all 65,536 worked on, and 30 times that.
  assertEquals([worked, refused], [100, 65_436]);
  assertEquals(budget.size, 100);
  // Spent, it refuses a network that never failed, and a failure counted anyway adds no network.
  assert(!budget.allows("198.51.100.7"));
  budget.fail("198.51.100.7");
  assertEquals(budget.size, 100);
  now = 59_999;
  assert(budget.overallSpent);
  now = 60_000;
  assert(!budget.overallSpent);
  assert(budget.allows("198.51.100.7"));
  assertEquals(budget.size, 0);
  // Under the overall budget, the network's own still refuses it first.
  for (let i = 0; i < 30; i++) budget.fail("192.0.2.1");
  assertEquals([budget.allows("192.0.2.1"), budget.overallSpent], [false, false]);
});

Deno.test("ClientFailureBudget: a budget that is not a positive whole number is refused", () => {
  for (const bad of [0, -1, 2.5, NaN, Infinity]) {
    assertThrows(
      () => new ClientFailureBudget({ perClient: bad, overall: 10 }),
      RangeError,
      `perClient must be a positive whole number, got ${bad}`,
    );
    assertThrows(
      () => new ClientFailureBudget({ perClient: 1, overall: bad }),
      RangeError,
      `overall must be a positive whole number, got ${bad}`,
    );
  }
});

Deno.test("knownClient takes only an IP address; clientNetwork groups IPv6 by /64", () => {
  assertEquals(knownClient("203.0.113.9"), "203.0.113.9");
  assertEquals(knownClient("2001:db8::1"), "2001:db8::1");
  assertEquals(knownClient("not-an-ip"), UNKNOWN_CLIENT);
  assertEquals(knownClient("evil, 10.0.0.1"), UNKNOWN_CLIENT);
  assertEquals(knownClient(undefined), UNKNOWN_CLIENT);
  assertEquals(clientNetwork("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assertEquals(clientNetwork("::ffff:192.0.2.1"), "192.0.2.1");
});
