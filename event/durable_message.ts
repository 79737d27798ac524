/**
 * What a durable consumer's handler receives: the opened event, which settles its delivery
 * once (the first of ack and nack wins). One object per delivery carries both the message and
 * its settlement, as the consume path makes one per event.
 */
import type { AcksInFlight } from "./acks_in_flight.ts";
import type { CloudEvent } from "./envelope.ts";
import { type DurableMessage, ReceivedMessage, type Responder } from "./message.ts";
import type { NackedKeys } from "./nacked_keys.ts";
import type { ProviderDelivery } from "./provider.ts";

/** Exponential backoff: the first retry after `firstMs`, doubling per delivery up to `maxMs`. */
export class RetryPolicy {
  /** Retries start after `firstMs` and wait at most `maxMs`. */
  constructor(private readonly firstMs: number, private readonly maxMs: number) {}

  /** The delay before the retry of a delivery that was the `deliveries`-th. */
  delayMs(deliveries: number): number {
    return Math.min(this.firstMs * 2 ** Math.max(0, deliveries - 1), this.maxMs);
  }
}

/** A consumer's bookkeeping that settling a delivery updates; one per consumer. */
export interface SettlementBooks {
  /** Keys waiting on a nacked event. */
  keys: NackedKeys;
  /** Acks on their way to the broker. */
  acks: AcksInFlight;
  /** The delay of a nack that names none. */
  retry: RetryPolicy;
}

const SETTLED = Promise.resolve();

/**
 * A delivery as its handler sees it. `ack`/`nack` are not `async`, so a handler that returns
 * synchronously costs no extra promise turn. A nack makes the event's key wait for its
 * redelivery; an ack lets a waiting key run again.
 */
export class DurableDelivery<T = unknown> extends ReceivedMessage<T> implements DurableMessage<T> {
  /** Settled (acknowledged or nacked) already. */
  settled = false;
  readonly #delivery: ProviderDelivery;
  readonly #books: SettlementBooks;

  /** `opened` is the delivery's event, decrypted. */
  constructor(
    opened: CloudEvent,
    delivery: ProviderDelivery,
    responder: Responder,
    books: SettlementBooks,
  ) {
    super(opened, delivery.seq, delivery.deliveries, responder);
    this.#delivery = delivery;
    this.#books = books;
  }

  ack(): Promise<void> {
    return this.#ack(false);
  }

  /**
   * The consumer's ack when the handler returned: nobody awaits the broker's confirmation, so
   * the provider may batch it (see `ProviderDelivery.ackInBackground`).
   */
  ackInBackground(): void {
    this.#ack(true);
  }

  #ack(background: boolean): Promise<void> {
    if (this.settled) return SETTLED;
    this.settled = true;
    const delivery = this.#delivery;
    if (this.#books.keys.size > 0) this.#books.keys.settled(delivery);
    const acked = background && delivery.ackInBackground
      ? delivery.ackInBackground()
      : delivery.ack();
    this.#books.acks.track(acked, delivery.event.id);
    return acked;
  }

  nack(delayMs?: number): Promise<void> {
    if (this.settled) return SETTLED;
    this.settled = true;
    const delivery = this.#delivery;
    const delay = delayMs ?? this.#books.retry.delayMs(delivery.deliveries);
    const nacked = delivery.nack(delay);
    const recorded = this.#books.keys.nacked(delivery, delay, nacked);
    return recorded ? Promise.all([recorded, nacked]).then(() => {}) : nacked;
  }
}
