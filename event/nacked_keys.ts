/**
 * Per-key order across a nack. While a key's nacked event waits for its redelivery, later
 * deliveries of that key are held here, unacknowledged, in log order; their leases are renewed
 * so the broker neither redelivers them nor counts a delivery for the wait, so a held event is
 * never dead-lettered just for waiting. Once the nacked event is settled for good (acknowledged
 * or dead-lettered) the held ones are released, in order, to the consumer.
 */
import type { Logger } from "@a3s/common";
import type { ProviderDelivery } from "./provider.ts";

/** One key waiting on its nacked event. */
interface Blocked {
  /** Seq of the nacked event: only its redelivery may run. */
  seq: string;
  /** Deliveries of the key that arrived meanwhile, in arrival (log) order. */
  held: ProviderDelivery[];
  /**
   * Release anyway after this: the redelivery went to another worker of the same consumer, or
   * the consumer changed, and holding longer would only stall the key.
   */
  giveUpAt: number;
  /** Settled for good; the release runs on the next microtask. */
  releasing: boolean;
}

/** The keys of one consumer that wait on a nacked event. */
export class NackedKeys {
  readonly #blocked = new Map<string, Blocked>();
  readonly #ackWaitMs: number;
  readonly #release: (held: ProviderDelivery[]) => void;
  readonly #logger?: Logger;
  #timer?: ReturnType<typeof setInterval>;

  /**
   * `release` gets a key's held deliveries, in order, once they may run; `ackWaitMs` is the
   * consumer's lease, renewed four times per lease while anything is held.
   */
  constructor(
    ackWaitMs: number,
    release: (held: ProviderDelivery[]) => void,
    logger?: Logger,
  ) {
    this.#ackWaitMs = ackWaitMs;
    this.#release = release;
    this.#logger = logger;
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

  /** Holds `delivery` when its key waits on an earlier nacked event; true when held. */
  hold(delivery: ProviderDelivery): boolean {
    const key = delivery.event.partitionkey;
    if (key === undefined) return false;
    const blocked = this.#blocked.get(key);
    if (!blocked) return false;
    if (blocked.seq === delivery.seq && !blocked.releasing) {
      // The awaited redelivery: it runs, and the key waits for its outcome however long.
      blocked.giveUpAt = Infinity;
      return false;
    }
    blocked.held.push(delivery);
    this.#renewing();
    return true;
  }

  /** `delivery` was nacked with `delayMs`: its key waits for its redelivery. */
  nacked(delivery: ProviderDelivery, delayMs: number): void {
    const key = delivery.event.partitionkey;
    if (key === undefined) return;
    const giveUpAt = Date.now() + delayMs + 2 * this.#ackWaitMs;
    const blocked = this.#blocked.get(key);
    if (blocked && !blocked.releasing) {
      blocked.seq = delivery.seq;
      blocked.giveUpAt = giveUpAt;
    } else {
      // A key being released is blocked again: what it still holds stays behind this event.
      this.#blocked.set(key, {
        seq: delivery.seq,
        held: blocked?.held ?? [],
        giveUpAt,
        releasing: false,
      });
    }
    this.#renewing();
  }

  /** `delivery` was acknowledged or dead-lettered: its key runs again if it was waiting on it. */
  settled(delivery: ProviderDelivery): void {
    const key = delivery.event.partitionkey;
    if (key === undefined) return;
    const blocked = this.#blocked.get(key);
    if (blocked?.seq === delivery.seq && !blocked.releasing) this.#releaseSoon(key, blocked);
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
      if (blocked.held.length) this.#release(blocked.held);
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
      if (now >= blocked.giveUpAt) {
        this.#logger?.warn("nacked event was not redelivered here; releasing its key", {
          key,
          seq: blocked.seq,
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
