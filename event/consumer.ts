/**
 * Durable consumers: at-least-once delivery with ack, nack with delay, a delivery limit and a
 * dead-letter subject; events with the same key are handled one at a time, in log order.
 */
import { type Logger, ValidationError } from "@a3s/common";
import type { EventBus } from "./bus.ts";
import type { CloudEvent } from "./envelope.ts";
import { EventKeyMissingError, EventTamperedError } from "./errors.ts";
import { type DurableMessage, DurableReceivedMessage } from "./message.ts";
import * as metrics from "./metrics.ts";
import { type ProviderDelivery, sleep } from "./provider.ts";
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
  /** Ids acknowledged within this window are acknowledged again without the handler (default 2 min). */
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
}

const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Settles a delivery once: the first of ack/nack wins. */
class Settlement {
  done = false;
  acked = false;
  constructor(private readonly delivery: ProviderDelivery) {}
  async ack(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.acked = true;
    await this.delivery.ack();
  }
  async nack(delayMs: number): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.delivery.nack(delayMs);
  }
}

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
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #concurrency: number;
  readonly #deliver: "new" | "all";
  readonly #dedupeWindowMs: number;
  readonly #abort = new AbortController();
  readonly #keyTails = new Map<string, Promise<void>>();
  readonly #acked = new Map<string, number>();
  readonly #running = new Set<Promise<void>>();
  readonly #slotWaiters: (() => void)[] = [];
  readonly #acking = new Set<Promise<void>>();
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
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
    this.#concurrency = positive(options.concurrency ?? 16, "concurrency");
    this.#deliver = options.deliver ?? "new";
    this.#dedupeWindowMs = options.dedupeWindowMs ?? 120_000;
    this.stopped = new Promise((resolve) => (this.#markStopped = resolve));
    this.#handleSeconds = metrics.handleSeconds.labels(name);
  }

  /** Creates the consumer's position at the broker, then starts the loop. */
  async start(): Promise<void> {
    await this.#bus.provider.ensureConsumer(this.#spec());
    this.#loop = this.#run();
  }

  #spec() {
    return {
      name: this.name,
      pattern: this.#pattern,
      ackWaitMs: this.#ackWaitMs,
      deliver: this.#deliver,
    };
  }

  /** Pulls deliveries; a broker error restarts the pull after a growing pause. */
  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const batch = Math.max(this.#concurrency, 8);
    let backoffMs = 100;
    try {
      while (!signal.aborted) {
        try {
          for await (const delivery of this.#bus.provider.consume(this.#spec(), signal, batch)) {
            backoffMs = 100;
            const slot = this.#slot();
            if (slot) await slot;
            this.#dispatch(delivery);
            if (signal.aborted) break;
          }
        } catch (error) {
          if (signal.aborted) break;
          this.#logger?.warn("broker error; consumer retries", { error: String(error), backoffMs });
          await sleep(backoffMs, signal);
          backoffMs = Math.min(backoffMs * 2, 5000);
        }
      }
    } finally {
      await Promise.all(this.#running);
      await Promise.all(this.#acking);
      this.#markStopped();
    }
  }

  /** Waits for a free handler slot; a queue of waiters, so a full consumer costs O(1) per event. */
  #slot(): Promise<void> | undefined {
    if (this.#running.size < this.#concurrency) return undefined;
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  #dispatch(delivery: ProviderDelivery): void {
    const key = delivery.event.partitionkey;
    const previous = key === undefined ? undefined : this.#keyTails.get(key);
    const run = previous ? previous.then(() => this.#handle(delivery)) : this.#handle(delivery);
    const tracked = run.finally(() => {
      this.#running.delete(tracked);
      this.#slotWaiters.shift()?.();
      if (key !== undefined && this.#keyTails.get(key) === tracked) this.#keyTails.delete(key);
    });
    this.#running.add(tracked);
    if (key !== undefined) this.#keyTails.set(key, tracked);
  }

  #retryDelay(deliveries: number): number {
    return Math.min(this.#retryDelayMs * 2 ** Math.max(0, deliveries - 1), this.#maxRetryDelayMs);
  }

  async #handle(delivery: ProviderDelivery): Promise<void> {
    const settle = new Settlement(delivery);
    const subject = delivery.event.subject;
    try {
      if (delivery.deliveries > 1) metrics.redelivered.inc({ consumer: this.name, subject });
      if (delivery.deliveries > this.#maxDeliveries) {
        await this.#deadLetterEvent(delivery, "max_deliveries", "delivery limit reached");
        await settle.ack();
        return;
      }
      if (this.#seenRecently(delivery.event.id)) {
        await settle.ack();
        return;
      }
      let opened: CloudEvent;
      try {
        // Most events carry no seal and the bus holds no keys: skip a promise per event.
        opened = this.#bus.needsOpening(delivery.event)
          ? await this.#bus.open(delivery.event, this.name)
          : delivery.event;
      } catch (error) {
        if (error instanceof EventKeyMissingError || error instanceof EventTamperedError) {
          await this.#deadLetterEvent(delivery, error.code, error.message);
          await settle.ack();
          return;
        }
        throw error;
      }
      metrics.deliveredFor(this.name, subject).inc();
      const message = new DurableReceivedMessage(
        opened,
        delivery.seq,
        delivery.deliveries,
        (payload) => this.#bus.respond(opened, payload),
        () => settle.ack(),
        (delayMs?: number) => settle.nack(delayMs ?? this.#retryDelay(delivery.deliveries)),
      );
      try {
        const done = this.#handler(message);
        if (done instanceof Promise) await done;
      } catch (error) {
        if (settle.done) return;
        if (delivery.deliveries >= this.#maxDeliveries) {
          await this.#deadLetterEvent(delivery, "max_deliveries", String(error));
          await settle.ack();
        } else {
          this.#logger?.warn("handler failed; will retry", {
            id: delivery.event.id,
            deliveries: delivery.deliveries,
            error: String(error),
          });
          await settle.nack(this.#retryDelay(delivery.deliveries));
        }
        return;
      }
      // The slot (and the key) is free once the handler is done; the ack's round trip to the
      // broker finishes in the background, and stop() waits for it.
      if (!settle.done) this.#settling(settle.ack());
      if (settle.acked) this.#remember(delivery.event.id);
      const age = (Date.now() - Date.parse(opened.time)) / 1000;
      if (Number.isFinite(age)) this.#handleSeconds.observe(age);
    } catch (error) {
      // The broker failed to take an ack or nack: the lease runs out and it is redelivered.
      this.#logger?.error("could not settle delivery", {
        id: delivery.event.id,
        error: String(error),
      });
    }
  }

  #settling(ack: Promise<void>): void {
    const tracked = ack.catch((error) => {
      this.#logger?.error("could not acknowledge; the event will be redelivered", {
        error: String(error),
      });
    }).finally(() => this.#acking.delete(tracked));
    this.#acking.add(tracked);
  }

  #seenRecently(id: string): boolean {
    const until = this.#acked.get(id);
    return until !== undefined && until > Date.now();
  }

  #remember(id: string): void {
    const now = Date.now();
    this.#acked.set(id, now + this.#dedupeWindowMs);
    if (this.#acked.size > 50_000) {
      for (const [seen, until] of this.#acked) if (until <= now) this.#acked.delete(seen);
    }
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
