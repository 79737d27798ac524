/** The embedded provider: one process, no persistence, the same semantics as the durable ones. */
import type { CloudEvent } from "../envelope.ts";
import { compilePattern } from "../subject.ts";
import {
  type ConsumerInfo,
  type ConsumerSpec,
  type EventProvider,
  type LiveSubscription,
  type ProviderDelivery,
  type PublishReceipt,
  type StoredEvent,
  type SubjectInfo,
  Wakeup,
} from "../provider.ts";

/** Options of {@linkcode MemoryProvider}. */
export interface MemoryProviderOptions {
  /** Events kept for replay and late consumers; older ones are dropped. */
  maxEvents?: number;
  /** De-duplication window in ms (default 2 min). */
  dedupeWindowMs?: number;
}

/** An event a consumer has not acknowledged. */
interface Pending {
  /** Deliveries so far; 0 while held back behind an earlier event of its key. */
  deliveries: number;
  visibleAt: number;
  /** The event's partition key. */
  key?: string;
  /** Instance holding the lease; unset while nacked or held back. */
  holder?: string;
}

interface MemoryConsumer {
  spec: ConsumerSpec;
  matches: (subject: string) => boolean;
  /** Highest seq examined. */
  cursor: number;
  pending: Map<number, Pending>;
}

/** Events, positions and pending deliveries in this process's memory. */
export class MemoryProvider implements EventProvider {
  /** Which provider this is. */
  readonly kind = "memory" as const;
  /** Later events of a nacked event's key wait in the provider. */
  readonly gatesKeys = true;
  #log: CloudEvent[] = [];
  /** Seq of `#log[0]`; seqs start at 1. */
  #first = 1;
  #maxEvents: number;
  #dedupeWindowMs: number;
  #seen = new Map<string, { seq: number; at: number }>();
  #lastPrune = 0;
  #subjects = new Map<string, number>();
  #subscribers = new Set<(seq: number, event: CloudEvent) => void>();
  #consumers = new Map<string, MemoryConsumer>();
  #wakeup = new Wakeup();

  /** Creates an empty in-memory log. */
  constructor(options: MemoryProviderOptions = {}) {
    this.#maxEvents = options.maxEvents ?? 100_000;
    this.#dedupeWindowMs = options.dedupeWindowMs ?? 120_000;
  }

  get #last(): number {
    return this.#first + this.#log.length - 1;
  }

  #event(seq: number): CloudEvent | undefined {
    return this.#log[seq - this.#first];
  }

  publish(event: CloudEvent): Promise<PublishReceipt> {
    const now = Date.now();
    const seen = this.#seen.get(event.id);
    if (seen && now - seen.at < this.#dedupeWindowMs) {
      return Promise.resolve({ seq: String(seen.seq), duplicate: true });
    }
    this.#log.push(event);
    const seq = this.#last;
    this.#seen.set(event.id, { seq, at: now });
    if (now - this.#lastPrune > 1000 && this.#seen.size > this.#maxEvents) this.#pruneSeen(now);
    this.#subjects.set(event.subject, (this.#subjects.get(event.subject) ?? 0) + 1);
    // Trimmed in chunks, so a full log does not copy itself on every publish.
    if (this.#log.length > this.#maxEvents + Math.ceil(this.#maxEvents / 10)) {
      const drop = this.#log.length - this.#maxEvents;
      this.#log.splice(0, drop);
      this.#first += drop;
    }
    for (const subscriber of this.#subscribers) subscriber(seq, event);
    this.#wakeup.notify();
    return Promise.resolve({ seq: String(seq), duplicate: false });
  }

  #pruneSeen(now: number): void {
    this.#lastPrune = now;
    for (const [id, entry] of this.#seen) {
      if (now - entry.at >= this.#dedupeWindowMs) this.#seen.delete(id);
    }
  }

  subscribe(
    pattern: string,
    after: string | undefined,
    onEvent: (stored: StoredEvent) => void,
  ): Promise<LiveSubscription> {
    const matches = compilePattern(pattern);
    if (after !== undefined) {
      for (let seq = Math.max(Number(after) + 1, this.#first); seq <= this.#last; seq++) {
        const event = this.#event(seq)!;
        if (matches(event.subject)) onEvent({ seq: String(seq), event });
      }
    }
    const subscriber = (seq: number, event: CloudEvent) => {
      if (matches(event.subject)) onEvent({ seq: String(seq), event });
    };
    this.#subscribers.add(subscriber);
    return Promise.resolve({
      close: () => {
        this.#subscribers.delete(subscriber);
        return Promise.resolve();
      },
    });
  }

  #consumer(spec: ConsumerSpec): MemoryConsumer {
    let consumer = this.#consumers.get(spec.name);
    if (!consumer) {
      consumer = {
        spec,
        matches: compilePattern(spec.pattern),
        cursor: spec.deliver === "all" ? this.#first - 1 : this.#last,
        pending: new Map(),
      };
      this.#consumers.set(spec.name, consumer);
    }
    return consumer;
  }

  /**
   * Keys whose later events must wait, with the seq of the earliest event that blocks them:
   * one nacked and waiting for its redelivery, or leased by another instance.
   */
  #blockedKeys(consumer: MemoryConsumer, now: number, me: string): Map<string, number> {
    const blocked = new Map<string, number>();
    for (const [seq, pending] of consumer.pending) {
      if (pending.key === undefined || pending.visibleAt <= now || pending.holder === me) continue;
      if (!blocked.has(pending.key)) blocked.set(pending.key, seq);
    }
    return blocked;
  }

  /**
   * Due redeliveries first, then new events, each leased to `me` for `ackWaitMs`; events of a
   * blocked key stay behind (new ones are recorded as held back, undelivered).
   */
  #take(consumer: MemoryConsumer, max: number, me: string): ProviderDelivery[] {
    const now = Date.now();
    const out: ProviderDelivery[] = [];
    const blocked = this.#blockedKeys(consumer, now, me);
    // Pending entries were added in seq order, so this walks them in log order.
    for (const [seq, pending] of consumer.pending) {
      if (out.length >= max) break;
      if (pending.visibleAt > now) continue;
      const event = this.#event(seq);
      if (!event) {
        consumer.pending.delete(seq);
        continue;
      }
      if (pending.key !== undefined && (blocked.get(pending.key) ?? Infinity) < seq) continue;
      pending.deliveries++;
      pending.visibleAt = now + consumer.spec.ackWaitMs;
      pending.holder = me;
      out.push(this.#delivery(consumer, seq, event, pending));
    }
    consumer.cursor = Math.max(consumer.cursor, this.#first - 1);
    while (out.length < max && consumer.cursor < this.#last) {
      const seq = ++consumer.cursor;
      const event = this.#event(seq)!;
      if (!consumer.matches(event.subject)) continue;
      const key = event.partitionkey;
      if (key !== undefined && blocked.has(key)) {
        consumer.pending.set(seq, { deliveries: 0, visibleAt: now, key });
        continue;
      }
      const pending = { deliveries: 1, visibleAt: now + consumer.spec.ackWaitMs, key, holder: me };
      consumer.pending.set(seq, pending);
      out.push(this.#delivery(consumer, seq, event, pending));
    }
    return out;
  }

  #delivery(
    consumer: MemoryConsumer,
    seq: number,
    event: CloudEvent,
    pending: Pending,
  ): ProviderDelivery {
    const deliveries = pending.deliveries;
    return {
      seq: String(seq),
      event,
      deliveries,
      ack: () => {
        // A late ack of an older delivery must not cancel a newer one's lease.
        if (consumer.pending.get(seq) === pending && pending.deliveries === deliveries) {
          consumer.pending.delete(seq);
          // Events held back behind this one may go now.
          if (pending.key !== undefined) this.#wakeup.notify();
        }
        return Promise.resolve();
      },
      nack: (delayMs: number) => {
        if (consumer.pending.get(seq) === pending && pending.deliveries === deliveries) {
          pending.visibleAt = Date.now() + delayMs;
          pending.holder = undefined;
          setTimeout(() => this.#wakeup.notify(), delayMs + 1);
        }
        return Promise.resolve();
      },
      extend: () => {
        if (consumer.pending.get(seq) === pending && pending.deliveries === deliveries) {
          pending.visibleAt = Date.now() + consumer.spec.ackWaitMs;
        }
        return Promise.resolve();
      },
    };
  }

  /**
   * When the next lease or nack delay runs out. Entries already due but held back are left
   * out: they wait for an ack (which wakes the loop) or for one of these times.
   */
  #nextVisible(consumer: MemoryConsumer, now: number): number {
    let next = Infinity;
    for (const pending of consumer.pending.values()) {
      if (pending.visibleAt > now) next = Math.min(next, pending.visibleAt);
    }
    return next;
  }

  ensureConsumer(spec: ConsumerSpec): Promise<void> {
    this.#consumer(spec);
    return Promise.resolve();
  }

  async *consume(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
  ): AsyncIterable<ProviderDelivery> {
    const consumer = this.#consumer(spec);
    consumer.spec = { ...consumer.spec, ackWaitMs: spec.ackWaitMs };
    const me = spec.instance ?? crypto.randomUUID();
    while (!signal.aborted && this.#consumers.get(spec.name) === consumer) {
      const taken = this.#take(consumer, batch, me);
      for (const delivery of taken) {
        if (signal.aborted) return;
        yield delivery;
      }
      if (taken.length === 0) {
        const now = Date.now();
        const wait = Math.min(1000, Math.max(1, this.#nextVisible(consumer, now) - now));
        await this.#wakeup.wait(wait, signal);
      }
    }
  }

  deleteConsumer(name: string): Promise<void> {
    this.#consumers.delete(name);
    this.#wakeup.notify();
    return Promise.resolve();
  }

  /** Durable consumers with their lag and unacknowledged deliveries. */
  consumers(): Promise<ConsumerInfo[]> {
    return Promise.resolve([...this.#consumers.values()].map((c) => {
      let lag = 0;
      for (let seq = Math.max(c.cursor + 1, this.#first); seq <= this.#last; seq++) {
        if (c.matches(this.#event(seq)!.subject)) lag++;
      }
      let unacked = 0;
      for (const pending of c.pending.values()) {
        // Held back, never delivered: still lag.
        if (pending.deliveries === 0) lag++;
        else unacked++;
      }
      return { name: c.spec.name, pattern: c.spec.pattern, pending: lag, unacked };
    }));
  }

  /** Subjects in the log with their event counts. */
  subjects(): Promise<SubjectInfo[]> {
    return Promise.resolve(
      [...this.#subjects].map(([subject, events]) => ({ subject, events }))
        .sort((a, b) => a.subject.localeCompare(b.subject)),
    );
  }

  /** Drops subscribers and wakes consumer loops so they end. */
  close(): Promise<void> {
    this.#subscribers.clear();
    this.#wakeup.notify();
    return Promise.resolve();
  }
}
