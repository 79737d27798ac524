/**
 * Per-key order on Redis Streams, kept in Redis so that it survives a crash. A consumer group
 * hands entries to whichever consumer asks; on its own it would let a later event of a key run
 * while an earlier one waits for its nack delay, or sits with a worker that died. So every
 * keyed entry a group has read is indexed by key (`<prefix>:bykey:<group>:<key>`, a sorted set
 * ordered by stream id; the provider's read script adds it in the same call that reads the
 * entry for the group), and before an entry is handed to the bus the earlier entries of its
 * key are checked: one nacked and waiting, held back, or owned by another consumer blocks it.
 * A blocked entry is held back in `<prefix>:held:<group>` (it stays in the group's pending
 * list, owned, unhandled, its delivery count untouched) and is tried again, in order, on the
 * next turns of any worker of the group.
 */
import type { Redis } from "ioredis";

/** A Redis stream id as a sorted-set member whose lexical order is the ids' order. */
export function orderMember(id: string): string {
  const dash = id.indexOf("-");
  return `${id.slice(0, dash).padStart(16, "0")}-${id.slice(dash + 1).padStart(20, "0")}`;
}

/** The stream id of an {@linkcode orderMember}. */
export function idOfMember(member: string): string {
  const dash = member.indexOf("-");
  const ms = member.slice(0, dash).replace(/^0+(?=\d)/, "");
  const seq = member.slice(dash + 1).replace(/^0+(?=\d)/, "");
  return `${ms}-${seq}`;
}

/** Compares two stream ids numerically. */
export function compareIds(a: string, b: string): number {
  const ma = orderMember(a);
  const mb = orderMember(b);
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

/** An entry about to be handed to the bus. */
export interface Candidate {
  /** Stream id. */
  id: string;
  /** The event's partition key, if any. */
  key?: string;
  /** True when it comes from the held-back set (it is removed from there when it runs). */
  held: boolean;
}

/** Where the group's ordering state lives. */
export interface KeyOrderKeys {
  /** The stream. */
  log: string;
  /** The consumer group. */
  group: string;
  /** This worker's consumer name in the group. */
  me: string;
  /** Sorted set of nacked entries by due time. */
  delayed: string;
  /** Sorted set of held-back entries (members as {@linkcode orderMember}, score 0). */
  held: string;
  /** The by-key index of one key. */
  byKey(key: string): string;
}

/** Records newly read keyed entries in the by-key index; one round trip. */
export async function indexEntries(
  redis: Redis,
  keys: KeyOrderKeys,
  entries: { id: string; key?: string }[],
): Promise<void> {
  const pipeline = redis.pipeline();
  let any = false;
  for (const { id, key } of entries) {
    if (key === undefined) continue;
    pipeline.zadd(keys.byKey(key), 0, orderMember(id));
    any = true;
  }
  if (any) await pipeline.exec();
}

/**
 * Splits `candidates` into those that may run now, in stream order per key, and those that
 * must wait behind an earlier entry of their key (which are then recorded as held back).
 * Unkeyed candidates always run.
 */
export async function gate(
  redis: Redis,
  keys: KeyOrderKeys,
  candidates: Candidate[],
): Promise<{ run: Candidate[]; waiting: Candidate[] }> {
  const byKey = new Map<string, Candidate[]>();
  const run: Candidate[] = [];
  for (const candidate of candidates) {
    if (candidate.key === undefined) run.push(candidate);
    else byKey.set(candidate.key, [...(byKey.get(candidate.key) ?? []), candidate]);
  }
  if (byKey.size === 0) return { run, waiting: [] };

  // Earlier entries of each key, up to its last candidate.
  const ranges = redis.pipeline();
  for (const [key, list] of byKey) {
    const last = list.reduce((max, c) => (compareIds(c.id, max) > 0 ? c.id : max), list[0].id);
    ranges.zrangebylex(keys.byKey(key), "-", `[${orderMember(last)}`);
  }
  const ranged = (await ranges.exec()) ?? [];
  const candidateIds = new Set(candidates.map((c) => c.id));
  const earlier = new Map<string, string[]>();
  const others: string[] = [];
  [...byKey.keys()].forEach((key, i) => {
    const ids = ((ranged[i]?.[1] as string[] | undefined) ?? []).map(idOfMember);
    earlier.set(key, ids);
    for (const id of ids) if (!candidateIds.has(id)) others.push(id);
  });

  // What each earlier, non-candidate entry is doing now.
  const state = new Map<string, "gone" | "mine" | "blocking">();
  if (others.length) {
    const lookups = redis.pipeline();
    for (const id of others) lookups.xpending(keys.log, keys.group, id, id, 1);
    lookups.zmscore(keys.delayed, ...others);
    lookups.zmscore(keys.held, ...others.map(orderMember));
    const results = (await lookups.exec()) ?? [];
    const delayed = (results[others.length]?.[1] as (string | null)[] | undefined) ?? [];
    const held = (results[others.length + 1]?.[1] as (string | null)[] | undefined) ?? [];
    others.forEach((id, i) => {
      const row = (results[i]?.[1] as [string, string, number, number][] | undefined)?.[0];
      if (!row) state.set(id, "gone");
      else if (delayed[i] !== null && delayed[i] !== undefined) state.set(id, "blocking");
      else if (held[i] !== null && held[i] !== undefined) state.set(id, "blocking");
      else state.set(id, row[1] === keys.me ? "mine" : "blocking");
    });
  }

  const waiting: Candidate[] = [];
  const stale: string[] = [];
  for (const [key, list] of byKey) {
    const mine = new Map(list.map((c) => [c.id, c]));
    const order = [...new Set([...earlier.get(key)!, ...mine.keys()])].sort(compareIds);
    let blocked = false;
    for (const id of order) {
      const candidate = mine.get(id);
      if (candidate) {
        (blocked ? waiting : run).push(candidate);
        continue;
      }
      const now = state.get(id);
      if (now === "gone") stale.push(id);
      else if (now === "blocking") blocked = true;
    }
    // Acknowledged entries whose index entry outlived them (an ack raced the index).
    if (stale.length) {
      await redis.zrem(keys.byKey(key), ...stale.map(orderMember));
      stale.length = 0;
    }
  }
  run.sort((a, b) => compareIds(a.id, b.id));
  const newlyHeld = waiting.filter((c) => !c.held);
  if (newlyHeld.length) {
    await redis.zadd(keys.held, ...newlyHeld.flatMap((c) => [0, orderMember(c.id)]));
  }
  return { run, waiting };
}
