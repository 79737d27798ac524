/**
 * What a broker must do for the bus. Every provider stores events in one ordered log, tells
 * live subscribers about new ones, and keeps durable consumers' positions and unacknowledged
 * deliveries. Retry limits, dead letters, decryption and per-key ordering live in the bus,
 * once, above this interface.
 */
import type { CloudEvent } from "./envelope.ts";

/** An event with its position in the provider's log (opaque; used for `Last-Event-ID`). */
export interface StoredEvent {
  /** Position in the provider's log. */
  seq: string;
  /** The event as stored (still sealed). */
  event: CloudEvent;
}

/** What the bus tells a provider about one publish (see {@linkcode EventProvider.publish}). */
export interface ProviderPublishOptions {
  /** True when the bus generated the event's id (the caller gave none). */
  idGenerated?: boolean;
}

/** The broker's answer to a publish: the event is durable once this resolves. */
export interface PublishReceipt {
  /** Position in the provider's log. */
  seq: string;
  /** True when an event with the same id was published within the de-duplication window. */
  duplicate: boolean;
}

/** A durable consumer as the provider keeps it. */
export interface ConsumerSpec {
  /** The consumer's name. */
  name: string;
  /** Subject pattern the consumer receives. */
  pattern: string;
  /** An unacknowledged delivery is redelivered after this long. */
  ackWaitMs: number;
  /** Where a consumer that does not exist yet starts: after the newest event, or at the oldest. */
  deliver: "new" | "all";
  /**
   * The running instance of the consumer (one process's `consume`), as the holder of its
   * leases: on a provider that gates keys, another instance's live lease on an event blocks
   * the later events of its key, while this instance's own leases do not (it orders those
   * itself). Unset, the provider makes one per `consume` call.
   */
  instance?: string;
  /**
   * At most this many deliveries unacknowledged at once, where the broker enforces such a
   * limit itself (JetStream's max-ack-pending); unset, the broker's default.
   */
  maxUnacked?: number;
}

/** One delivery to a durable consumer. */
export interface ProviderDelivery extends StoredEvent {
  /** 1 on first delivery, then one more on each redelivery. */
  deliveries: number;
  /**
   * When the broker stored the event, in ms since the epoch, where the broker says so on each
   * delivery (JetStream does); the consumer then need not parse `event.time`.
   */
  storedAtMs?: number;
  /** Acknowledges the delivery; it is not redelivered. */
  ack(): Promise<void>;
  /**
   * Acknowledges like `ack`, for a caller that does not wait on the broker's confirmation (it
   * only learns of a failure): the provider may confirm it later (NATS: within 100 ms), with
   * other acks, sparing a round trip per event. Without it, `ack` is used.
   */
  ackInBackground?(): Promise<void>;
  /**
   * Redelivers after `delayMs`. Where the provider gates keys, the event's key is blocked at
   * the broker until this event is acknowledged: later events of the key are delivered to no
   * instance meanwhile, and a crash of this process does not lift the block.
   */
  nack(delayMs: number): Promise<void>;
  /**
   * Renews the lease for another ack wait without counting a delivery: the consumer holds the
   * delivery back (its key waits on an earlier, nacked event) and must not lose it meanwhile.
   */
  extend(): Promise<void>;
}

/** An earlier event of a key that a starting consumer waits on. */
export interface AwaitedEvent {
  /** The partition key. */
  key: string;
  /** The event's seq. */
  seq: string;
  /** Stop waiting after this (ms since the epoch): it was acknowledged, or went elsewhere. */
  untilMs: number;
}

/** Durable records of nacked keys (see {@linkcode EventProvider.orderJournal}). */
export interface OrderJournal {
  /** `key` waits on `seq` until about `untilMs`. */
  block(key: string, seq: string, untilMs: number): Promise<void>;
  /** `seq` was settled: its record goes. */
  unblock(key: string, seq: string): Promise<void>;
}

/** A consumer's counters as the broker knows them. */
export interface ConsumerInfo {
  /** The consumer's name. */
  name: string;
  /** The subject pattern it receives. */
  pattern: string;
  /** Events in the log not yet delivered to the consumer (its lag). */
  pending: number;
  /** Delivered and not yet acknowledged. */
  unacked: number;
}

/** One subject seen in the log. */
export interface SubjectInfo {
  /** The subject name, such as `user.42.created`. */
  subject: string;
  /** Events stored on it. */
  events: number;
}

/** A live subscription; `close` stops delivery. */
export interface LiveSubscription {
  /** Stops the subscription. */
  close(): Promise<void>;
}

/**
 * The contract every broker implements; `_contract.ts` holds the one test suite each provider
 * passes.
 */
export interface EventProvider {
  /** Which provider this is. */
  readonly kind: "memory" | "store" | "nats" | "redis";
  /**
   * True when the broker itself keeps per-key order across a nack and a crash: while an
   * event with a partition key waits for its redelivery (it was nacked), or is leased by
   * another instance, later events of that key are held back at the broker, uncounted, and
   * delivered in log order once it is acknowledged. The consumer then holds in memory only
   * what it had received before the nack. Without it (JetStream), the consumer holds a
   * nacked key's later deliveries itself, bounded by `maxUnacked`.
   */
  readonly gatesKeys: boolean;
  /**
   * Appends `event`; resolves once it is durable (or recognised as a duplicate of `event.id`).
   * `options.idGenerated` says the bus made the id itself, so no caller can publish it again:
   * a provider may then skip the per-id de-duplication record, as long as its own retry of
   * this call still appends the event once.
   */
  publish(event: CloudEvent, options?: ProviderPublishOptions): Promise<PublishReceipt>;
  /**
   * Calls `onEvent`, in log order, for each event matching `pattern` published after `after`
   * (a seq from an earlier event) or, without it, published from now on.
   */
  subscribe(
    pattern: string,
    after: string | undefined,
    onEvent: (stored: StoredEvent) => void,
  ): Promise<LiveSubscription>;
  /** Creates the consumer (its start position) unless it exists; updates its ack wait. */
  ensureConsumer(spec: ConsumerSpec): Promise<void>;
  /**
   * Yields its deliveries (new events in log order, and
   * redeliveries of unacknowledged ones) until `signal` aborts. At most `batch` are fetched
   * ahead of the caller.
   */
  consume(spec: ConsumerSpec, signal: AbortSignal, batch: number): AsyncIterable<ProviderDelivery>;
  /**
   * The batch form of `consume`: yields each fetch's deliveries as one array, in the order
   * `consume` would yield them, so a consumer pays one iterator turn per fetch instead of one
   * per event. A provider that has it must keep `consume` equivalent.
   */
  consumeBatches?(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
  ): AsyncIterable<ProviderDelivery[]>;
  /**
   * The push form of `consume`, for brokers whose client delivers by callback: calls
   * `onDelivery` synchronously as each delivery arrives, pulling `batch` at a time, until
   * `signal` aborts (resolves) or the broker fails (rejects). The caller queues what it cannot
   * run at once. A whole read from the socket is handed over in one go, so the acks of a
   * synchronous handler leave in one write, with no promise turn per event.
   */
  consumeEach?(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
    onDelivery: (delivery: ProviderDelivery) => void,
  ): Promise<void>;
  /**
   * For a provider that does not gate keys: durable records of a consumer's nacked keys, so
   * that a consumer restarted after a crash can wait on them again.
   */
  orderJournal?(consumer: string): OrderJournal;
  /**
   * For a provider that does not gate keys: what a starting consumer must wait for before it
   * runs later events of a key, each with a deadline: the recorded nacks, and the events a
   * process that died may have left unacknowledged.
   */
  awaitedAtStart?(spec: ConsumerSpec): Promise<AwaitedEvent[]>;
  /** Removes a consumer and its state. */
  deleteConsumer(name: string): Promise<void>;
  /** Durable consumers with their lag and unacknowledged deliveries. */
  consumers(): Promise<ConsumerInfo[]>;
  /** Subjects in the log with their event counts. */
  subjects(): Promise<SubjectInfo[]>;
  /** Releases connections and stops loops. */
  close(): Promise<void>;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A wake-up signal: waiters sleep until `notify` or their timeout. Each notify starts a new
 * generation; a loop reads `generation` before it looks for work and passes it to `wait`, so
 * a notify that came while it was looking (and found nothing, having looked too early) is not
 * lost: the wait returns at once.
 */
export class Wakeup {
  #waiters = new Set<() => void>();
  #generation = 0;

  /** Counts notifies. */
  get generation(): number {
    return this.#generation;
  }

  notify(): void {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves after `ms`, on `notify`, when `signal` aborts, or at once if `since` is stale. */
  wait(ms: number, signal?: AbortSignal, since?: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || (since !== undefined && since !== this.#generation)) {
        return resolve();
      }
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
