/**
 * Durable consumers: at-least-once delivery with ack, nack with delay, a delivery limit and a
 * dead-letter subject; events with the same key are handled one at a time, in log order, also
 * across a nack (see `nacked_keys.ts`).
 */
import { type Logger, ValidationError } from "@a3s/common";
import type { EventBus } from "./bus.ts";
import type { CloudEvent } from "./envelope.ts";
import { isRejection } from "./errors.ts";
import type { DurableMessage } from "./message.ts";
import { DurableDelivery, RetryPolicy, type SettlementBooks } from "./durable_message.ts";
import * as metrics from "./metrics.ts";
import { NackedKeys } from "./nacked_keys.ts";
import { AcksInFlight } from "./acks_in_flight.ts";
import { type ConsumerSpec, type ProviderDelivery, sleep } from "./provider.ts";
import { assertPattern, assertSubject } from "./subject.ts";

/** A durable handler: returning acknowledges, throwing asks for a retry. */
export type DurableHandler<T = unknown> = (message: DurableMessage<T>) => void | Promise<void>;

/** Options of {@linkcode EventBus.consume}. */
export interface ConsumeOptions {
  /** Redeliver an unacknowledged delivery after this long (default 30 s). */
  ackWaitMs?: number;
  /** Deliveries before an event is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** Where dead events go (default `dlq.<consumer>`). */
  deadLetter?: string;
  /** First retry delay after a throw; doubles per delivery up to `maxRetryDelayMs` (default 1 s). */
  retryDelayMs?: number;
  /** Longest retry delay (default 60 s). */
  maxRetryDelayMs?: number;
  /** Handlers running at once across keys (default 16). */
  concurrency?: number;
  /** Where a new consumer starts (default `new`). */
  deliver?: "new" | "all";
  /**
   * Bounds the deliveries a consumer holds in memory while their key waits on a nacked event
   * (default 1,000). Providers that gate keys (memory, store, Redis) hold a nacked key's later
   * events back at the broker, durably, so the consumer holds at most what one fetch had
   * brought before the nack (`max(concurrency, 8)`): it fetches again only once the nack
   * reached the broker. JetStream cannot; there the server's max-ack-pending is set to
   * `maxHeld + concurrency`, which stops delivery to the whole consumer when reached, until
   * the nacked event comes back.
   */
  maxHeld?: number;
  /**
   * A redelivery of an event whose ack failed on the way to the broker within this window is
   * acknowledged again without the handler (default 2 min).
   */
  dedupeWindowMs?: number;
}

/** A running durable consumer. */
export interface Consumer {
  /** The consumer's name, its position's key at the broker. */
  readonly name: string;
  /** Stops fetching, waits for running handlers, and resolves. */
  stop(): Promise<void>;
  /** Resolves once the consumer has stopped and its handlers finished. */
  readonly stopped: Promise<void>;
  /** Deliveries held in memory now, waiting on a nacked event of their key. */
  readonly held: number;
}

const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Ids of failed acks a consumer remembers at most; the oldest are forgotten first. */
const MAX_REMEMBERED = 100_000;

/** One consumer loop. */
export class DurableConsumer implements Consumer {
  readonly name: string;
  readonly stopped: Promise<void>;
  readonly #bus: EventBus;
  readonly #pattern: string;
  readonly #handler: DurableHandler;
  readonly #logger?: Logger;
  readonly #ackWaitMs: number;
  readonly #maxDeliveries: number;
  readonly #deadLetter: string;
  readonly #retry: RetryPolicy;
  /** What settling a delivery updates, handed to each message. */
  readonly #books: SettlementBooks;
  readonly #concurrency: number;
  readonly #maxHeld: number;
  /** This run of the consumer, as the holder of its leases at the broker. */
  readonly #instance = crypto.randomUUID();
  readonly #deliver: "new" | "all";
  readonly #abort = new AbortController();
  readonly #keyTails = new Map<string, Promise<void>>();
  readonly #nackedKeys: NackedKeys;
  readonly #acks: AcksInFlight;
  readonly #running = new Set<Promise<void>>();
  readonly #slotWaiters: (() => void)[] = [];
  /** Pushed deliveries waiting for a handler slot, in arrival order. */
  #queued: ProviderDelivery[] = [];
  readonly #deliveredBySubject = new Map<string, { inc(): void }>();
  #lastSubject?: string;
  #lastDelivered?: { inc(): void };
  readonly #handleSeconds: { observe(value: number): void };
  #markStopped!: () => void;
  #loop?: Promise<void>;

  constructor(
    bus: EventBus,
    name: string,
    pattern: string,
    handler: DurableHandler,
    options: ConsumeOptions,
    logger?: Logger,
  ) {
    if (!CONSUMER_NAME.test(name)) {
      throw new ValidationError("name: 1 to 64 letters, digits, '_' or '-'", "name");
    }
    assertPattern(pattern);
    this.name = name;
    this.#bus = bus;
    this.#pattern = pattern;
    this.#handler = handler;
    this.#logger = logger?.child({ consumer: name });
    this.#ackWaitMs = positive(options.ackWaitMs ?? 30_000, "ackWaitMs");
    this.#maxDeliveries = positive(options.maxDeliveries ?? 5, "maxDeliveries");
    this.#deadLetter = options.deadLetter ?? `dlq.${name}`;
    assertSubject(this.#deadLetter, "deadLetter");
    this.#retry = new RetryPolicy(options.retryDelayMs ?? 1000, options.maxRetryDelayMs ?? 60_000);
    this.#concurrency = positive(options.concurrency ?? 16, "concurrency");
    this.#maxHeld = positive(options.maxHeld ?? 1000, "maxHeld");
    this.#deliver = options.deliver ?? "new";
    this.#acks = new AcksInFlight(
      options.dedupeWindowMs ?? 120_000,
      MAX_REMEMBERED,
      this.#logger,
    );
    this.stopped = new Promise((resolve) => (this.#markStopped = resolve));
    this.#handleSeconds = metrics.handleSeconds.cell(name);
    this.#nackedKeys = new NackedKeys(
      this.#ackWaitMs,
      (held) => {
        // A stopping consumer starts no handler: the broker redelivers what it held.
        if (this.#abort.signal.aborted) return;
        for (const delivery of held) this.#dispatch(delivery);
      },
      this.#logger,
      bus.provider.gatesKeys ? undefined : bus.provider.orderJournal?.(name),
    );
    this.#books = { keys: this.#nackedKeys, acks: this.#acks, retry: this.#retry };
  }

  /** Creates the consumer's position at the broker, then starts the loop. */
  async start(): Promise<void> {
    const provider = this.#bus.provider;
    await provider.ensureConsumer(this.#spec());
    if (!provider.gatesKeys && provider.awaitedAtStart) {
      // A process of this consumer may have died holding keys: wait on what it left.
      for (const { key, seq, untilMs } of await provider.awaitedAtStart(this.#spec())) {
        this.#nackedKeys.await(key, seq, untilMs);
      }
    }
    this.#loop = this.#run();
  }

  #spec(): ConsumerSpec {
    return {
      name: this.name,
      pattern: this.#pattern,
      ackWaitMs: this.#ackWaitMs,
      deliver: this.#deliver,
      instance: this.#instance,
      maxUnacked: this.#maxHeld + this.#concurrency,
    };
  }

  get held(): number {
    return this.#nackedKeys.held;
  }

  /** Pulls deliveries; a broker error restarts the pull after a growing pause. */
  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const batch = Math.max(this.#concurrency, 8);
    let backoffMs = 100;
    try {
      const provider = this.#bus.provider;
      while (!signal.aborted) {
        try {
          if (provider.consumeEach) {
            await provider.consumeEach(this.#spec(), signal, batch, (delivery) => {
              backoffMs = 100;
              this.#arrived(delivery);
            });
            continue;
          }
          if (provider.consumeBatches) {
            for await (const deliveries of provider.consumeBatches(this.#spec(), signal, batch)) {
              backoffMs = 100;
              for (const delivery of deliveries) {
                const slot = this.#slot();
                if (slot) await slot;
                this.#dispatch(delivery);
                if (signal.aborted) break;
              }
              if (signal.aborted) break;
              // The next batch is a new fetch, which must not overtake a nack.
              const nacks = this.#nackedKeys.nacksArrived();
              if (nacks) await nacks;
            }
            continue;
          }
          for await (const delivery of provider.consume(this.#spec(), signal, batch)) {
            backoffMs = 100;
            const slot = this.#slot();
            if (slot) await slot;
            this.#dispatch(delivery);
            if (signal.aborted) break;
            // The next delivery may come from a new fetch, which must not overtake a nack.
            const nacks = this.#nackedKeys.nacksArrived();
            if (nacks) await nacks;
          }
        } catch (error) {
          if (signal.aborted) break;
          this.#logger?.warn("broker error; consumer retries", { error: String(error), backoffMs });
          await sleep(backoffMs, signal);
          backoffMs = Math.min(backoffMs * 2, 5000);
        }
      }
    } finally {
      // Queued deliveries stay unacknowledged: the broker redelivers them after the ack wait.
      this.#queued = [];
      await Promise.all(this.#running);
      await this.#acks.settled();
      this.#nackedKeys.close();
      this.#markStopped();
    }
  }

  /** A pushed delivery runs now when a slot is free and none queued before it, else queues. */
  #arrived(delivery: ProviderDelivery): void {
    if (this.#abort.signal.aborted) return;
    if (this.#queued.length > 0 || this.#running.size >= this.#concurrency) {
      this.#queued.push(delivery);
    } else {
      this.#dispatch(delivery);
    }
  }

  /** Runs queued deliveries while slots are free. */
  #drainQueued(): void {
    while (
      this.#queued.length > 0 && this.#running.size < this.#concurrency &&
      !this.#abort.signal.aborted
    ) {
      this.#dispatch(this.#queued.shift()!);
    }
  }

  /** Waits for a free handler slot; a queue of waiters, so a full consumer costs O(1) per event. */
  #slot(): Promise<void> | undefined {
    if (this.#running.size < this.#concurrency) return undefined;
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  /**
   * Runs the handler. Most deliveries take the synchronous path (first delivery, nothing to
   * open, no earlier event of the same key still running or waiting, a handler that returns
   * without a promise): they finish before the next delivery is read, with no promise to track.
   */
  #dispatch(delivery: ProviderDelivery): void {
    // A key that waits on a nacked event holds this delivery now, behind those it holds
    // already: chained behind the awaited event's redelivery instead, it would run before
    // them once that redelivery's ack releases them (they queue behind the key's tail).
    if (this.#nackedKeys.size > 0 && this.#nackedKeys.hold(delivery)) return;
    const key = delivery.event.partitionkey;
    const previous = key === undefined ? undefined : this.#keyTails.get(key);
    const pending = previous
      ? previous.then(() => this.#inOrder(delivery))
      : this.#inOrder(delivery);
    if (pending === undefined) return;
    const tracked = pending.finally(() => {
      this.#running.delete(tracked);
      this.#slotWaiters.shift()?.();
      if (this.#queued.length > 0) this.#drainQueued();
      if (key !== undefined && this.#keyTails.get(key) === tracked) this.#keyTails.delete(key);
    });
    this.#running.add(tracked);
    if (key !== undefined) this.#keyTails.set(key, tracked);
  }

  /**
   * Runs a delivery whose turn in its key has come, unless the key waits on a nacked event:
   * then it is held, unacknowledged, until that event is settled.
   */
  #inOrder(delivery: ProviderDelivery): Promise<void> | undefined {
    if (this.#nackedKeys.size > 0 && this.#nackedKeys.hold(delivery)) return undefined;
    return delivery.deliveries === 1 && !this.#bus.needsOpening(delivery.event)
      ? this.#invoke(delivery, delivery.event)
      : this.#handle(delivery);
  }

  /** Acknowledges without the handler (dead-lettered, or a duplicate). */
  #ackUnhandled(delivery: ProviderDelivery): Promise<void> {
    if (this.#nackedKeys.size > 0) this.#nackedKeys.settled(delivery);
    const acked = delivery.ack();
    this.#acks.track(acked, delivery.event.id);
    return acked;
  }

  /** The general path: redeliveries, the delivery limit and sealed events. */
  async #handle(delivery: ProviderDelivery): Promise<void> {
    const subject = delivery.event.subject;
    try {
      if (delivery.deliveries > 1) metrics.redelivered.inc({ consumer: this.name, subject });
      if (delivery.deliveries > this.#maxDeliveries) {
        await this.#deadLetterEvent(delivery, "max_deliveries", "delivery limit reached");
        await this.#ackUnhandled(delivery);
        return;
      }
      let opened: CloudEvent;
      try {
        opened = this.#bus.needsOpening(delivery.event)
          ? await this.#bus.open(delivery.event, this.name)
          : delivery.event;
      } catch (error) {
        if (isRejection(error)) {
          await this.#deadLetterEvent(delivery, error.code, error.message);
          await this.#ackUnhandled(delivery);
          return;
        }
        throw error;
      }
      await this.#invoke(delivery, opened);
    } catch (error) {
      // The broker failed to take an ack or nack: the lease runs out and it is redelivered.
      this.#logger?.error("could not settle delivery", {
        id: delivery.event.id,
        error: String(error),
      });
    }
  }

  /** Calls the handler on an opened event; returns a promise only when it went asynchronous. */
  #invoke(delivery: ProviderDelivery, opened: CloudEvent): Promise<void> | undefined {
    // Only a redelivery can be an event this consumer handled already, and only when its ack
    // was lost (see acks_in_flight.ts).
    if (delivery.deliveries > 1 && this.#acks.failedRecently(delivery.event.id)) {
      this.#ackUnhandled(delivery);
      return undefined;
    }
    this.#delivered(opened.subject).inc();
    const settle = new DurableDelivery(opened, delivery, this.#bus, this.#books);
    let done: void | Promise<void>;
    try {
      done = this.#handler(settle);
    } catch (error) {
      return this.#failed(delivery, settle, error);
    }
    if (done instanceof Promise) {
      return done.then(
        () => this.#succeeded(delivery, settle, opened),
        (error) => this.#failed(delivery, settle, error),
      );
    }
    this.#succeeded(delivery, settle, opened);
    return undefined;
  }

  /**
   * The slot (and the key) is free once the handler is done; the ack's round trip to the
   * broker finishes in the background, and stop() waits for it.
   */
  #succeeded(delivery: ProviderDelivery, settle: DurableDelivery, opened: CloudEvent): void {
    if (!settle.settled) settle.ackInBackground();
    const age = (Date.now() - (delivery.storedAtMs ?? Date.parse(opened.time))) / 1000;
    if (Number.isFinite(age) && age >= 0) this.#handleSeconds.observe(age);
  }

  async #failed(
    delivery: ProviderDelivery,
    settle: DurableDelivery,
    error: unknown,
  ): Promise<void> {
    if (settle.settled) return;
    try {
      if (delivery.deliveries >= this.#maxDeliveries) {
        await this.#deadLetterEvent(delivery, "max_deliveries", String(error));
        await settle.ack();
      } else {
        this.#logger?.warn("handler failed; will retry", {
          id: delivery.event.id,
          deliveries: delivery.deliveries,
          error: String(error),
        });
        await settle.nack(this.#retry.delayMs(delivery.deliveries));
      }
    } catch (settleError) {
      this.#logger?.error("could not settle delivery", {
        id: delivery.event.id,
        error: String(settleError),
      });
    }
  }

  /** The delivered counter of a subject, resolved once per subject. */
  #delivered(subject: string): { inc(): void } {
    // Consecutive events mostly share a subject: comparing it with the last one is cheaper than
    // hashing a freshly parsed string for the map.
    if (subject === this.#lastSubject) return this.#lastDelivered!;
    let counter = this.#deliveredBySubject.get(subject);
    if (!counter) {
      if (this.#deliveredBySubject.size > 10_000) this.#deliveredBySubject.clear();
      counter = metrics.deliveredFor(this.name, subject);
      this.#deliveredBySubject.set(subject, counter);
    }
    this.#lastSubject = subject;
    this.#lastDelivered = counter;
    return counter;
  }

  async #deadLetterEvent(delivery: ProviderDelivery, reason: string, error: string): Promise<void> {
    metrics.deadLettered.inc({ consumer: this.name, reason });
    this.#logger?.warn("dead-lettered", { id: delivery.event.id, reason, error });
    await this.#bus.publish(this.#deadLetter, {
      consumer: this.name,
      reason,
      error,
      deliveries: delivery.deliveries,
      event: delivery.event,
    }, {
      type: "a3s.event.dead_letter",
      key: delivery.event.partitionkey,
      id: `dlq-${this.name}-${delivery.event.id}`,
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.stopped;
  }
}

function positive(value: number, field: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ValidationError(`${field}: must be a positive number`, field);
  }
  return value;
}
