/**
 * The replay a channel's freshness window exists for: a signed request, answered once and then
 * acknowledged as a redelivery, sent again after the hub's delivery memory has been pruned. It
 * must be a 401 with `reason`, audited, and run nothing.
 *
 * @module
 */
import { openChannelGuard } from "./_test_guard.ts";
import { assert, assertEquals } from "@a3s/common/testing";
import { ChannelHub } from "./hub.ts";
import { DeliveryLog } from "./deliveries.ts";
import type { ChannelAdapter } from "./types.ts";
import { startFakePlatforms } from "../testdata/fake_platforms.ts";

/** What {@linkcode assertReplayRefusedAfterPrune} drives. */
export interface ReplayCase {
  /** The channel's name in the hub. */
  channel: string;
  /** The clock at the capture, in epoch milliseconds. */
  start: number;
  /** The adapter on `now`, replying to the fake platforms at `apiBase`. */
  adapter: (now: () => number, apiBase: string) => ChannelAdapter;
  /** The captured request, signed at `start` (cloned for each sending). */
  captured: Request;
  /** The platform API path each reply is sent to. */
  replyPath: string;
  /** The 401's reason. */
  reason: string;
}

/** Sends `captured` twice, prunes the delivery memory three days on, and sends it again. */
export async function assertReplayRefusedAfterPrune(c: ReplayCase): Promise<void> {
  let clock = c.start;
  const { store, guard } = await openChannelGuard();
  const platforms = startFakePlatforms();
  const deliveries = await DeliveryLog.open(store, () => clock);
  let runs = 0;
  const hub = new ChannelHub(guard, [c.adapter(() => clock, platforms.url)], () => {
    runs++;
    return Promise.resolve("done");
  }, { deliveries });
  // A 401 says nothing of why; the audit record does, written once the answer is out.
  const lastFailure = async () => {
    await hub.settle();
    return (await guard.audit.list({ kind: "channel_auth_failure" })).at(-1)?.data.reason;
  };
  const send = async () => {
    const response = await hub.handle(c.channel, c.captured.clone());
    const reason = response.status === 401 ? await lastFailure() : undefined;
    await response.body?.cancel().catch(() => {});
    await hub.settle();
    return [response.status, reason];
  };
  const replies = () => platforms.calls.filter((call) => call.path === c.replyPath).length;
  try {
    assertEquals(await send(), [200, undefined]);
    assertEquals(await send(), [200, undefined]);
    assertEquals([runs, replies()], [1, 1]);
    // Three days later (serve prunes the log hourly) the same request is still signed.
    clock += 3 * 86_400_000;
    // The delivery id, and for a signed request its signature and signed body.
    assert(await deliveries.prune() >= 1);
    assertEquals(await send(), [401, c.reason]);
    assertEquals([runs, replies()], [1, 1]);
    const failures = await guard.audit.list({ kind: "channel_auth_failure" });
    assertEquals(failures.map((f) => [f.data.channel, f.data.reason]), [[c.channel, c.reason]]);
  } finally {
    await hub.close();
    await guard.close();
    await platforms.close();
    await store.close();
  }
}
