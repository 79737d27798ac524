/** The guard the channel tests run their hubs with: the default policy on a store of their own. */
import { openStore, type Store } from "@a3s/common";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";

/** A guard with the default policy on `store`. */
export function channelGuard(store: Store): Promise<Guard> {
  return Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "channel-test-key-0123456789",
    tee: { kind: null, device: null },
  });
}

/** A new in-memory store and a guard with the default policy on it. */
export async function openChannelGuard(): Promise<{ store: Store; guard: Guard }> {
  const store = await openStore({ sqlitePath: ":memory:" });
  return { store, guard: await channelGuard(store) };
}
