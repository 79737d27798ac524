/**
 * NATS JetStream: one file-backed stream holds every subject under a prefix; durable
 * consumers are JetStream pull consumers with explicit acks; de-duplication is JetStream's
 * own (`Nats-Msg-Id` within the stream's duplicate window).
 */
import {
  AckPolicy,
  connect,
  type ConsumerConfig,
  type ConsumerInfo as NatsConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  nanos,
  type NatsConnection,
  StorageType,
} from "nats";
import type { Logger } from "@a3s/common";
import { coalesce, type Coalesced, coalesceRun } from "../coalesce.ts";
import { type AckSubjectInfo, parseAckSubject } from "./_nats_ack_subject.ts";
import { type CloudEvent, readStoredEvent } from "../envelope.ts";
import { EventBrokerError } from "../errors.ts";
import type {
  AwaitedEvent,
  ConsumerInfo,
  ConsumerSpec,
  EventProvider,
  LiveSubscription,
  OrderJournal,
  ProviderDelivery,
  PublishReceipt,
  StoredEvent,
  SubjectInfo,
} from "../provider.ts";

/** Options of {@linkcode NatsProvider.connect}. */
export interface NatsProviderOptions {
  /** `nats://host:port` (several comma-separated servers are allowed). */
  url: string;
  /** Stream name (default `A3S_EVENTS`). */
  stream?: string;
  /** Subject prefix inside NATS (default `a3s`), so our subjects do not collide with others. */
  prefix?: string;
  /** JetStream duplicate window in ms (default 2 min). */
  dedupeWindowMs?: number;
  /** How long a publish waits for the broker's ack (default 5 s). */
  publishTimeoutMs?: number;
  /**
   * How long after an ack nobody awaits (a handler returned) the server is asked to confirm
   * it, in ms (default 100). The ack itself leaves at once; this only spaces the PINGs that
   * tell which acks arrived (a failed one's id is remembered, so its redelivery is acknowledged
   * without running the handler again; that redelivery comes after the ack wait).
   */
  backgroundConfirmMs?: number;
  /** Where connection changes are logged. */
  logger?: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the consume path parses each ack subject into: one object, reused. */
const parsed: AckSubjectInfo = { deliveries: 0, streamSeq: "", storedAtMs: 0 };

/**
 * Delivery count, stream sequence and store time of a message, read from its ack subject
 * into `parsed`. The client's message class exposes the subject as `reply`, though its
 * interface does not declare it; without it, the client's own (slower) parse is used.
 */
function readAckSubject(message: JsMsg): AckSubjectInfo {
  const reply = (message as JsMsg & { reply?: string }).reply;
  if (reply) return parseAckSubject(reply, parsed);
  const info = message.info;
  parsed.deliveries = info.deliveryCount;
  parsed.streamSeq = String(info.streamSequence);
  parsed.storedAtMs = info.timestampNanos / 1e6;
  return parsed;
}

/** How a delivery learns that the server has read its ack: a PING's PONG. */
interface AckConfirmations {
  /** Where our subject starts in a NATS subject (after the prefix and its dot). */
  readonly subjectOffset: number;
  /** After this synchronous run (the acks of one socket read share one PING). */
  flushed(): Promise<void>;
  /** Within `backgroundConfirmMs`, shared by every ack of that window. */
  flushedSoon(): Promise<void>;
}

/** A JetStream message as a delivery: a class, so no closures are built per message. */
class NatsDelivery implements ProviderDelivery {
  readonly seq: string;
  readonly event: CloudEvent;
  readonly deliveries: number;
  readonly storedAtMs: number;
  constructor(private readonly message: JsMsg, private readonly provider: AckConfirmations) {
    const info = readAckSubject(message);
    this.seq = info.streamSeq;
    this.deliveries = info.deliveries;
    this.storedAtMs = info.storedAtMs;
    this.event = readStoredEvent(
      decoder.decode(message.data),
      this.seq,
      message.subject,
      provider.subjectOffset,
    );
  }
  ack(): Promise<void> {
    // The flush is asked for first: its microtask then runs before the one the client queues
    // for the ack, so the acks of this run and their PING leave in one socket write, not two.
    const flushed = this.provider.flushed();
    this.message.ack();
    return flushed;
  }
  ackInBackground(): Promise<void> {
    this.message.ack();
    return this.provider.flushedSoon();
  }
  nack(delayMs: number): Promise<void> {
    this.message.nak(delayMs);
    return Promise.resolve();
  }
  extend(): Promise<void> {
    // `+WPI` restarts the server's ack timer and leaves the delivery count alone.
    this.message.working();
    return Promise.resolve();
  }
}

/**
 * How long after an unawaited ack the server is asked to confirm it (see `#flushedSoon`). Each
 * PING is a socket write and its PONG a wake-up: at 5 ms they cost a draining consumer ~11% more
 * CPU and a consumer fed one event at a time twice the p99 latency, against 100 ms, in one run.
 */
const BACKGROUND_CONFIRM_MS = 100;

/** How long a starting consumer reads the stream, at most, for keys a dead process held. */
const AWAITED_SCAN_MS = 30_000;

/** A partition key as a KV key token: base64url of its UTF-8 bytes. */
function keyToken(key: string): string {
  let binary = "";
  for (const byte of encoder.encode(key)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** The JetStream provider. */
export class NatsProvider implements EventProvider {
  /** Which provider this is. */
  readonly kind = "nats" as const;
  /**
   * JetStream hands a nacked event's later key-mates over regardless; the consumer holds
   * them, bounded by max-ack-pending.
   */
  readonly gatesKeys = false;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #publishTimeoutMs: number;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    options: NatsProviderOptions,
  ) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = nc.jetstream();
    this.#stream = options.stream ?? "A3S_EVENTS";
    this.#prefix = options.prefix ?? "a3s";
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 5000;
    this.#flushedSoon = coalesce(
      () => this.#nc.flush(),
      options.backgroundConfirmMs ?? BACKGROUND_CONFIRM_MS,
    );
    this.#confirmations = {
      subjectOffset: this.#prefix.length + 1,
      flushed: this.#flushed,
      flushedSoon: this.#flushedSoon,
    };
  }

  /**
   * Connects and creates (or updates) the stream. An unreachable server fails here with one
   * line; later outages are reconnected to with backoff, forever.
   */
  static async connect(options: NatsProviderOptions): Promise<NatsProvider> {
    let attempt = 0;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.url.split(",").map((s) => s.trim().replace(/^nats:\/\//, "")),
        name: "a3s-event",
        maxReconnectAttempts: -1,
        reconnectDelayHandler: () => Math.min(100 * 2 ** attempt++, 5000),
        timeout: 3000,
        // The client otherwise captures a stack trace for every request (each publish waits
        // on one), which cost more CPU than the rest of a publish; our errors say what failed.
        noAsyncTraces: true,
      });
    } catch (error) {
      throw new EventBrokerError(
        `cannot reach NATS at ${options.url}: ${(error as Error).message}`,
        error,
      );
    }
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "reconnect") attempt = 0;
        if (status.type === "disconnect" || status.type === "reconnect") {
          options.logger?.warn(`NATS ${status.type}`, { server: String(status.data) });
        }
      }
    })().catch(() => {});
    try {
      const jsm = await nc.jetstreamManager();
      const stream = options.stream ?? "A3S_EVENTS";
      const config = {
        subjects: [`${options.prefix ?? "a3s"}.>`],
        storage: StorageType.File,
        duplicate_window: nanos(options.dedupeWindowMs ?? 120_000),
      };
      try {
        await jsm.streams.info(stream);
        await jsm.streams.update(stream, config);
      } catch {
        await jsm.streams.add({ name: stream, ...config });
      }
      return new NatsProvider(nc, jsm, options);
    } catch (error) {
      await nc.close().catch(() => {});
      throw new EventBrokerError(
        `NATS at ${options.url} has no usable JetStream (start it with -js): ${
          (error as Error).message
        }`,
        error,
      );
    }
  }

  /**
   * Resolves once the server has read everything sent so far (a PING/PONG round trip), so an
   * ack that resolved survives a crash of this process. The acks of one synchronous run (the
   * handlers of one socket read) share one PING, sent after them; a timer per batch cost more
   * CPU than the flush itself and held every ack back by its delay.
   */
  readonly #flushed = coalesceRun(() => this.#nc.flush());
  /**
   * The PING for acks nobody waits on (a handler returned; the consumer only learns of a
   * failure): one per `backgroundConfirmMs`. A PING per socket read put a PONG, and a wake-up of
   * this process, on every event of a consumer fed one event at a time, which showed in its
   * latency on a loaded machine; the acks themselves still leave at once.
   */
  readonly #flushedSoon: Coalesced;
  readonly #confirmations: AckConfirmations;

  #natsSubject(subject: string): string {
    return `${this.#prefix}.${subject}`;
  }

  #ourSubject(natsSubject: string): string {
    return natsSubject.slice(this.#prefix.length + 1);
  }

  async publish(event: CloudEvent): Promise<PublishReceipt> {
    const ack = await this.#js.publish(
      this.#natsSubject(event.subject),
      encoder.encode(JSON.stringify(event)),
      { msgID: event.id, timeout: this.#publishTimeoutMs },
    );
    return { seq: String(ack.seq), duplicate: ack.duplicate };
  }

  async subscribe(
    pattern: string,
    after: string | undefined,
    onEvent: (stored: StoredEvent) => void,
  ): Promise<LiveSubscription> {
    const consumer = await this.#js.consumers.get(this.#stream, {
      // One subject as a string: a list needs nats-server 2.10, Debian ships 2.9.
      filterSubjects: this.#natsSubject(pattern),
      ...(after === undefined
        ? { deliver_policy: DeliverPolicy.New }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(after) + 1 }),
    });
    const messages = await consumer.consume();
    const loop = (async () => {
      for await (const m of messages) {
        const seq = String(m.seq);
        const text = decoder.decode(m.data);
        onEvent({ seq, event: readStoredEvent(text, seq, m.subject, this.#prefix.length + 1) });
      }
    })().catch(() => {});
    return {
      close: async () => {
        await messages.close().catch(() => {});
        await loop;
      },
    };
  }

  /**
   * The server's answer about each consumer just ensured, kept for the start that follows
   * (`awaitedAtStart` reads it, the first pull takes it), so a consumer starts with one
   * request instead of four.
   */
  readonly #ensured = new Map<string, NatsConsumerInfo>();

  async ensureConsumer(spec: ConsumerSpec): Promise<void> {
    const config: Partial<ConsumerConfig> = {
      durable_name: spec.name,
      filter_subject: this.#natsSubject(spec.pattern),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: -1,
      ...(spec.maxUnacked ? { max_ack_pending: spec.maxUnacked } : {}),
      deliver_policy: spec.deliver === "all" ? DeliverPolicy.All : DeliverPolicy.New,
    };
    let info: NatsConsumerInfo;
    try {
      // Creates it, or finds it as it is: the server accepts an identical configuration.
      info = await this.#jsm.consumers.add(this.#stream, config);
    } catch {
      // It exists with another ack wait or bound (or start, which stays as it was); the update
      // reads it first, and fails when it does not exist after all.
      info = await this.#jsm.consumers.update(this.#stream, spec.name, {
        ack_wait: config.ack_wait,
        ...(spec.maxUnacked ? { max_ack_pending: spec.maxUnacked } : {}),
      });
    }
    this.#ensured.set(spec.name, info);
  }

  /**
   * The client's consumer for `name`: from the info `ensureConsumer` just got, once; later
   * pulls (after a broker error) ask the server, so a consumer deleted meanwhile fails loudly.
   */
  async #pullConsumer(name: string) {
    const ensured = this.#ensured.get(name);
    if (ensured) {
      this.#ensured.delete(name);
      return this.#js.consumers.getPullConsumerFor(ensured);
    }
    return await this.#js.consumers.get(this.#stream, name);
  }

  async *consume(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
  ): AsyncIterable<ProviderDelivery> {
    const consumer = await this.#pullConsumer(spec.name);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: batch });
    const stop = () => void messages.close().catch(() => {});
    // The signal may have fired while the pull was being set up.
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const m of messages) {
        if (signal.aborted) break;
        yield new NatsDelivery(m, this.#confirmations);
      }
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
    }
  }

  /**
   * The client's callback mode: messages reach `onDelivery` straight from the protocol
   * parser, with no async iterator between them and the handler.
   */
  async consumeEach(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
    onDelivery: (delivery: ProviderDelivery) => void,
  ): Promise<void> {
    const consumer = await this.#pullConsumer(spec.name);
    const confirmations = this.#confirmations;
    const messages = await consumer.consume({
      max_messages: batch,
      callback: (m) => onDelivery(new NatsDelivery(m, confirmations)),
    });
    const stop = () => void messages.close().catch(() => {});
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      const outcome = await messages.closed();
      if (outcome instanceof Error && !signal.aborted) throw outcome;
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
      // The consumer waits for its acks' confirmation as it stops: ask for it now rather than
      // when the shared PING's timer would (up to `backgroundConfirmMs` later, on every stop).
      this.#flushedSoon.now().catch(() => {});
    }
  }

  #orderKv?: Promise<KV>;

  /**
   * Nacked keys, one KV entry per nacked event (`<consumer>.<key>.<seq>`), written only on a
   * nack and deleted when that event is settled, so the consume path pays nothing for it.
   */
  #orderBucket(): Promise<KV> {
    return this.#orderKv ??= this.#js.views.kv(`${this.#stream}_ORDER`, { history: 1 });
  }

  /** Records nacks of `consumer` in the order bucket. */
  orderJournal(consumer: string): OrderJournal {
    const entry = (key: string, seq: string) => `${consumer}.${keyToken(key)}.${seq}`;
    return {
      block: async (key, seq, untilMs) => {
        const kv = await this.#orderBucket();
        await kv.put(entry(key, seq), encoder.encode(JSON.stringify({ key, seq, untilMs })));
      },
      unblock: async (key, seq) => {
        const kv = await this.#orderBucket();
        await kv.purge(entry(key, seq));
      },
    };
  }

  /**
   * What a starting consumer waits on: its recorded nacks, and the keyed events between the
   * consumer's ack floor and its last delivery (some may have been acknowledged; those are
   * waited on until one and a half ack waits, by when any unacknowledged one is redelivered).
   */
  async awaitedAtStart(spec: ConsumerSpec): Promise<AwaitedEvent[]> {
    const now = Date.now();
    const out: AwaitedEvent[] = [];
    // Every delivery is acknowledged (the ack floor, in delivery numbers, is the last
    // delivery; a nacked event holds the floor back until it is settled): no process left keys
    // behind, so a clean start costs no request and no KV bucket. Stream sequences will not do:
    // a consumer created to deliver new events starts with its last delivery at the stream's
    // end and its floor at 0. (`num_ack_pending` will not do either: a nack with a delay takes
    // the event out of it until the redelivery.)
    const info = this.#ensured.get(spec.name) ??
      await this.#jsm.consumers.info(this.#stream, spec.name);
    if (info.delivered.consumer_seq <= info.ack_floor.consumer_seq) return out;
    const kv = await this.#orderBucket();
    const names: string[] = [];
    for await (const name of await kv.keys(`${spec.name}.>`)) names.push(name);
    for (const name of names) {
      const entry = await kv.get(name);
      if (!entry || entry.operation !== "PUT") continue;
      const awaited = JSON.parse(decoder.decode(entry.value)) as AwaitedEvent;
      if (awaited.untilMs > now) out.push(awaited);
      else await kv.purge(name).catch(() => {});
    }
    const untilMs = now + spec.ackWaitMs * 1.5;
    for (const { seq, key } of await this.#inFlight(spec, info)) {
      out.push({ key, seq: String(seq), untilMs });
    }
    return out;
  }

  /**
   * The keyed events a consumer's dead process may have held: those of its pattern after the
   * ack floor, up to the last delivery, read in one pass by an ordered consumer (not a request
   * per event). Before the first acknowledgement the floor says nothing of where the consumer
   * started; then its deliveries are the last `delivered` events of its pattern up to the last
   * delivery (first deliveries go in stream order), so only those are kept.
   */
  async #inFlight(
    spec: ConsumerSpec,
    info: NatsConsumerInfo,
  ): Promise<{ seq: number; key: string }[]> {
    const from = info.ack_floor.stream_seq + 1;
    const to = info.delivered.stream_seq;
    if (to < from) return [];
    const keep = info.ack_floor.consumer_seq === 0 ? info.delivered.consumer_seq : Infinity;
    const reader = await this.#js.consumers.get(this.#stream, {
      filterSubjects: this.#natsSubject(spec.pattern),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    // Events of the pattern in the range, keyed or not (each counts against `keep`).
    let seen: { seq: number; key?: string }[] = [];
    const deadline = Date.now() + AWAITED_SCAN_MS;
    let done = false;
    while (!done && Date.now() < deadline) {
      // A fetch ends when the batch is full or, with nothing more to read, after `expires`.
      const batch = await reader.fetch({ max_messages: 512, expires: 1000 });
      let read = 0;
      for await (const m of batch) {
        read++;
        if (m.seq > to) {
          done = true;
          break;
        }
        const event = readStoredEvent(
          decoder.decode(m.data),
          String(m.seq),
          m.subject,
          this.#prefix.length + 1,
        );
        seen.push({ seq: m.seq, key: event.partitionkey });
        // Trimmed now and then, not per event, so keeping the last `keep` stays linear.
        if (seen.length > 2 * keep) seen = seen.slice(-keep);
        if (m.seq === to || m.info.pending === 0) {
          done = true;
          break;
        }
      }
      if (read === 0) break;
    }
    if (seen.length > keep) seen = seen.slice(-keep);
    return seen.filter((e): e is { seq: number; key: string } => e.key !== undefined);
  }

  async deleteConsumer(name: string): Promise<void> {
    await this.#jsm.consumers.delete(this.#stream, name);
  }

  /** Durable consumers of the stream with their lag and unacknowledged deliveries. */
  async consumers(): Promise<ConsumerInfo[]> {
    const infos = await this.#jsm.consumers.list(this.#stream).next();
    return infos.filter((i) => i.config.durable_name).map((i) => ({
      name: i.name,
      pattern: this.#ourSubject(i.config.filter_subject ?? `${this.#prefix}.>`),
      pending: i.num_pending,
      unacked: i.num_ack_pending,
    })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Subjects in the stream with their message counts. */
  async subjects(): Promise<SubjectInfo[]> {
    const info = await this.#jsm.streams.info(this.#stream, { subjects_filter: ">" });
    return Object.entries(info.state.subjects ?? {})
      .map(([subject, events]) => ({ subject: this.#ourSubject(subject), events }))
      .sort((a, b) => a.subject.localeCompare(b.subject));
  }

  /** Deletes the stream and everything in it (tests and `event` admin only). */
  async destroy(): Promise<void> {
    await this.#jsm.streams.delete(this.#stream).catch(() => {});
    await this.#jsm.streams.delete(`KV_${this.#stream}_ORDER`).catch(() => {});
  }

  /** Drains and closes the connection. */
  async close(): Promise<void> {
    if (this.#nc.isClosed()) return;
    await this.#nc.drain().catch(() => this.#nc.close());
  }
}
