/**
 * Per-key order across a nack, held in the consumer. While a key waits on an earlier event
 * (one it nacked, or, after a restart, ones a dead process may not have acknowledged), later
 * deliveries of that key are held here, unacknowledged, in arrival order; their leases are
 * renewed so the broker neither redelivers them nor counts a delivery for the wait, so a held
 * event is never dead-lettered just for waiting. Once every awaited event is settled for good
 * (acknowledged or dead-lettered) or its deadline passed, the held ones are released, in
 * order, to the consumer.
 *
 * Providers that gate keys at the broker hold a nacked key's later events back themselves,
 * so this only ever holds what was fetched before the nack. For the others, a journal (when
 * the provider keeps one) records each nack durably, so a restarted consumer can wait again.
 */
import type { Logger } from "@a3s/common";
import type { OrderJournal, ProviderDelivery } from "./provider.ts";

/** One key waiting on earlier events. */
interface Blocked {
  /** Seqs that may still run, each with when to stop waiting for it. */
  awaited: Map<string, number>;
  /** Deliveries of the key that arrived meanwhile, in arrival (log) order. */
  held: ProviderDelivery[];
  /** Settled for good; the release runs on the next microtask. */
  releasing: boolean;
}

/** The keys of one consumer that wait on earlier events. */
export class NackedKeys {
  readonly #blocked = new Map<string, Blocked>();
  readonly #ackWaitMs: number;
  readonly #release: (held: ProviderDelivery[]) => void;
  readonly #logger?: Logger;
  readonly #journal?: OrderJournal;
  #timer?: ReturnType<typeof setInterval>;
  /** Nacks of keyed events the broker has not confirmed yet. */
  readonly #nacksOnTheWay = new Set<Promise<void>>();

  /**
   * `release` gets a key's held deliveries, in order, once they may run; `ackWaitMs` is the
   * consumer's lease, renewed four times per lease while anything is held.
   */
  constructor(
    ackWaitMs: number,
    release: (held: ProviderDelivery[]) => void,
    logger?: Logger,
    journal?: OrderJournal,
  ) {
    this.#ackWaitMs = ackWaitMs;
    this.#release = release;
    this.#logger = logger;
    this.#journal = journal;
  }

  /** Keys now waiting; zero on the fast path, so callers skip the lookup. */
  get size(): number {
    return this.#blocked.size;
  }

  /** Deliveries held now, across keys. */
  get held(): number {
    let n = 0;
    for (const blocked of this.#blocked.values()) n += blocked.held.length;
    return n;
  }

  /** Holds `delivery` when its key waits on an earlier event; true when held. */
  hold(delivery: ProviderDelivery): boolean {
    const key = delivery.event.partitionkey;
    if (key === undefined) return false;
    const blocked = this.#blocked.get(key);
    if (!blocked) return false;
    if (
      !blocked.releasing && blocked.awaited.has(delivery.seq) &&
      !awaitsBefore(blocked, delivery.seq)
    ) {
      // The earliest awaited event: it runs, and the key waits for its outcome however long.
      blocked.awaited.set(delivery.seq, Infinity);
      return false;
    }
    // A held delivery whose renewal came late is redelivered while still held here: the copy is
    // the same event at the same seq, settled by settling the one already held, so it is not held
    // twice (that would count it twice against the bound, and run it twice on release).
    if (blocked.held.some((earlier) => earlier.seq === delivery.seq)) return true;
    blocked.held.push(delivery);
    // The last awaited event arrived behind earlier ones already held: all can go, in order.
    if (!blocked.releasing && onlyHeldAwaited(blocked)) this.#releaseSoon(key, blocked);
    else this.#renewing();
    return true;
  }

  /**
   * After a restart: `key` waits for `seq` (which a dead process may not have acknowledged)
   * until `untilMs`; later deliveries of the key are held meanwhile.
   */
  await(key: string, seq: string, untilMs: number): void {
    const blocked = this.#blocked.get(key) ??
      { awaited: new Map<string, number>(), held: [], releasing: false };
    blocked.awaited.set(seq, Math.max(blocked.awaited.get(seq) ?? 0, untilMs));
    this.#blocked.set(key, blocked);
    this.#renewing();
  }

  /**
   * `delivery` was nacked with `delayMs`, `sent` being the broker's promise for the nack: its
   * key waits for its redelivery. Resolves once the journal (if any) holds the record, so a nack
   * that resolved survives a crash.
   */
  nacked(
    delivery: ProviderDelivery,
    delayMs: number,
    sent: Promise<void>,
  ): Promise<void> | undefined {
    const key = delivery.event.partitionkey;
    if (key === undefined) return undefined;
    this.#followNack(sent);
    const until = Date.now() + delayMs + 2 * this.#ackWaitMs;
    const blocked = this.#blocked.get(key);
    if (blocked && !blocked.releasing) {
      blocked.awaited.set(delivery.seq, until);
    } else {
      // A key being released is blocked again: what it still holds stays behind this event.
      this.#blocked.set(key, {
        awaited: new Map([[delivery.seq, until]]),
        held: blocked?.held ?? [],
        releasing: false,
      });
    }
    this.#renewing();
    return this.#journal?.block(key, delivery.seq, until).catch((error) =>
      this.#logger?.warn("could not record a nacked key; order after a crash may break", {
        key,
        error: String(error),
      })
    );
  }

  /**
   * A provider that gates keys can hold back only a key it knows was nacked: a fetch that
   * overtakes the nack hands over a further batch of the key, to be held here. A nack the broker
   * refused leaves the lease to run out, so the fetch need not wait for it either.
   */
  #followNack(sent: Promise<void>): void {
    const forget = () => void this.#nacksOnTheWay.delete(followed);
    const followed: Promise<void> = sent.then(forget, forget);
    this.#nacksOnTheWay.add(followed);
  }

  /** Resolves once the nacks sent so far reached the broker; undefined when none is on its way. */
  nacksArrived(): Promise<void> | undefined {
    if (this.#nacksOnTheWay.size === 0) return undefined;
    return Promise.all(this.#nacksOnTheWay).then(() => {});
  }

  /** `delivery` was acknowledged or dead-lettered: its key runs again if it was waiting on it. */
  settled(delivery: ProviderDelivery): void {
    const key = delivery.event.partitionkey;
    if (key === undefined) return;
    const blocked = this.#blocked.get(key);
    if (!blocked || blocked.releasing || !blocked.awaited.delete(delivery.seq)) return;
    this.#journal?.unblock(key, delivery.seq).catch(() => {
      // A stale record only makes a restarted consumer wait for its deadline.
    });
    if (onlyHeldAwaited(blocked)) this.#releaseSoon(key, blocked);
  }

  /**
   * Releases on the next microtask, not inside the settling handler: by then the consumer has
   * recorded that handler as the key's tail, so the released events queue behind it. Events of
   * the key arriving in between are still held, behind the earlier ones.
   */
  #releaseSoon(key: string, blocked: Blocked): void {
    blocked.releasing = true;
    queueMicrotask(() => {
      if (this.#blocked.get(key) !== blocked || !blocked.releasing) return;
      this.#blocked.delete(key);
      if (this.#blocked.size === 0) this.#stopRenewing();
      // Log order: after a restart, a new event may have arrived before the redelivery of an
      // earlier one.
      if (blocked.held.length) {
        this.#release(blocked.held.sort((a, b) => compareSeqs(a.seq, b.seq)));
      }
    });
  }

  #renewing(): void {
    if (this.#timer !== undefined) return;
    const timer = setInterval(() => this.#renew(), Math.max(5, this.#ackWaitMs / 4));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #stopRenewing(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #renew(): void {
    const now = Date.now();
    for (const [key, blocked] of this.#blocked) {
      if (blocked.releasing) continue;
      for (const [seq, until] of blocked.awaited) {
        // Not redelivered here in time: it went to another worker, or was acknowledged before
        // a crash; holding longer would only stall the key.
        if (now >= until) blocked.awaited.delete(seq);
      }
      if (onlyHeldAwaited(blocked)) {
        this.#logger?.warn("awaited event was not redelivered here; releasing its key", {
          key,
          held: blocked.held.length,
        });
        this.#releaseSoon(key, blocked);
        continue;
      }
      for (const delivery of blocked.held) {
        delivery.extend().catch((error) => {
          // The lease runs out and the broker redelivers it; de-duplication absorbs the copy.
          this.#logger?.warn("could not renew a held delivery", {
            id: delivery.event.id,
            error: String(error),
          });
        });
      }
    }
  }

  /** Stops renewing; held deliveries are left to the broker, which redelivers them. */
  close(): void {
    this.#stopRenewing();
    this.#blocked.clear();
  }
}

/** Orders seqs: numerically when both are decimal (NATS, the store), else as strings. */
export function compareSeqs(a: string, b: string): number {
  if (a.length !== b.length && /^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when an event earlier than `seq` is still awaited for its key. */
function awaitsBefore(blocked: Blocked, seq: string): boolean {
  for (const awaited of blocked.awaited.keys()) if (compareSeqs(awaited, seq) < 0) return true;
  return false;
}

/** True when every event still awaited is among those held (they can all go, in order). */
function onlyHeldAwaited(blocked: Blocked): boolean {
  if (blocked.awaited.size === 0) return true;
  if (blocked.held.length < blocked.awaited.size) return false;
  const held = new Set(blocked.held.map((d) => d.seq));
  for (const seq of blocked.awaited.keys()) if (!held.has(seq)) return false;
  return true;
}
