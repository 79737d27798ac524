/**
 * Redis Streams: one stream holds every subject (subject filtering happens here, as with the
 * store); durable consumers are consumer groups; a publish and its de-duplication key are one
 * Lua script, so a retried publish never appends twice within the window.
 */
import { Redis } from "ioredis";
import { setImmediate } from "node:timers";
import type { Logger } from "@a3s/common";
import { coalesceTurn } from "../coalesce.ts";
import { type CloudEvent, readStoredEvent } from "../envelope.ts";
import { EventBrokerError } from "../errors.ts";
import { CallsInFlightTuner, type TunerDecision, type TunerState } from "./_calls_in_flight.ts";
import { compilePattern } from "../subject.ts";
import {
  gate,
  idOfMember,
  indexEntries,
  type KeyOrderKeys,
  orderMember,
} from "./_redis_key_order.ts";
import type {
  ConsumerInfo,
  ConsumerSpec,
  EventProvider,
  LiveSubscription,
  ProviderDelivery,
  ProviderPublishOptions,
  PublishReceipt,
  StoredEvent,
  SubjectInfo,
} from "../provider.ts";

/** Options of {@linkcode RedisProvider.connect}. */
export interface RedisProviderOptions {
  /** `redis://[:password@]host:port[/db]`. */
  url: string;
  /** Key prefix (default `a3s:event`). */
  prefix?: string;
  /** De-duplication window in ms (default 2 min). */
  dedupeWindowMs?: number;
  /**
   * Publish script calls in flight at once on the connection, at most (default 2; see
   * {@linkcode RedisProvider.publish}). 1 sends a call only once the previous one is answered.
   */
  publishCallsInFlight?: number;
  /**
   * Whether the provider measures which depth publishes faster, one call in flight or
   * `publishCallsInFlight`, and runs that one (default true). False keeps
   * `publishCallsInFlight` always.
   */
  tuneCallsInFlight?: boolean;
  /** Told each of the tuner's trial outcomes (a verbose log of the depth it picks and why). */
  onTunerDecision?: (decision: TunerDecision) => void;
  /** Where connection errors are logged. */
  logger?: Logger;
}

/**
 * Appends a batch of events in one call. KEYS: the stream, the subject counts, the call's own
 * record, then one de-duplication key per event whose id a caller chose; ARGV: the window,
 * whether the call keeps its record (`1`), then subject, event JSON, partition key (empty:
 * none) and whether it is de-duplicated by id (`1`) per event. Returns stream id and duplicate
 * flag (1 or 0) per event, in order. Subjects are counted once per batch, with the number of
 * events each got appended.
 *
 * An event whose id a caller chose is checked against the window: after its append one
 * `SET NX PX GET` both checks the id and records it with the new entry's stream id (so a later
 * duplicate answers the original's position). Checking first (`GET`, append, `SET`) costs a
 * third command for every event to spare the rare duplicate an append; here a duplicate's
 * entry is deleted again in the same script, which runs alone on the server, so no reader ever
 * sees it.
 *
 * An event whose id the bus generated cannot be published again by anyone; only this very
 * call can reach the server twice (the client sends it again on a new connection when the
 * reply was lost). So such events skip the per-event key, and the call instead records its
 * answer once under its own key (one `GET` and one `SET` per call, not per event): a call that
 * finds its record already ran, atomically, and answers what it answered then.
 */
const PUBLISH_BATCH = `
local keeps = ARGV[2] == '1'
if keeps then
  local done = redis.call('GET', KEYS[3])
  if done then
    local out = {}
    for part in string.gmatch(done, '[^,]+') do
      if #out % 2 == 1 then out[#out + 1] = tonumber(part) else out[#out + 1] = part end
    end
    return out
  end
end
local counts = {}
local out = {}
local key = 4
for at = 3, #ARGV, 4 do
  local subject = ARGV[at]
  local id
  if ARGV[at + 2] ~= '' then
    id = redis.call('XADD', KEYS[1], '*', 's', subject, 'e', ARGV[at + 1], 'k', ARGV[at + 2])
  else
    id = redis.call('XADD', KEYS[1], '*', 's', subject, 'e', ARGV[at + 1])
  end
  local seen = false
  if ARGV[at + 3] == '1' then
    seen = redis.call('SET', KEYS[key], id, 'NX', 'PX', ARGV[1], 'GET')
    key = key + 1
  end
  if seen then
    redis.call('XDEL', KEYS[1], id)
    out[#out + 1] = seen
    out[#out + 1] = 1
  else
    counts[subject] = (counts[subject] or 0) + 1
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
for subject, n in pairs(counts) do redis.call('HINCRBY', KEYS[2], subject, n) end
if keeps then redis.call('SET', KEYS[3], table.concat(out, ','), 'PX', ARGV[1]) end
return out`;

/**
 * At most this many events in one script call: a script runs alone on the server, so a
 * larger backlog goes as several calls (sent back to back, answered in order) rather than one
 * that keeps every other client waiting.
 */
const PUBLISH_BATCH_MAX = 256;
/** At most about this many characters of events in one script call (large events go alone). */
const PUBLISH_BATCH_CHARS = 1 << 20;
/**
 * Publish calls in flight by default. With one, the client and the server take turns: the
 * server idles while the client resolves a call's publishers and builds the next call, the
 * client idles while the server runs it. Two calls in flight keep both busy; more add a call's
 * fixed cost without more overlap (there are only the two parties).
 */
const PUBLISH_CALLS_IN_FLIGHT = 2;

/**
 * One turn's retries and held-back entries in one call: nacked entries whose delay is over
 * (taken out of the delay set, so two workers never both take one) and the oldest held-back
 * entries (left in place; they leave it only when they run).
 */
const TAKE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return {due, redis.call('ZRANGEBYLEX', KEYS[2], '-', '+', 'LIMIT', 0, ARGV[2])}`;

/**
 * Reads new entries for a group and records the keyed ones in their key's index in the same
 * step, so no crash can leave an entry owned by a consumer but missing from the index (the
 * index is what tells other consumers that its key is busy). The `k` field carries the key
 * since the publish script writes it; members are stream ids padded to sort as numbers. The
 * entries come back flat, four strings each: id, subject, event JSON and key ('' for none; a
 * key has at least one character). Without field names and a nested array per entry the
 * client decodes fewer values per event than a plain `XREADGROUP` reply, and decoding the reply
 * is most of a consumer's CPU. With nothing new, answers the stream's last id, from which the
 * caller waits for more.
 */
const READ = `
local function member(id)
  local dash = string.find(id, '-', 1, true)
  local ms = string.sub(id, 1, dash - 1)
  local seq = string.sub(id, dash + 1)
  return string.rep('0', 16 - #ms) .. ms .. '-' .. string.rep('0', 20 - #seq) .. seq
end
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not reply then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  return {{}, last[1] and last[1][1] or '0-0'}
end
local flat = {}
for _, entry in ipairs(reply[1][2]) do
  local fields = entry[2]
  local subject, body, key = '', '', ''
  for i = 1, #fields, 2 do
    local name = fields[i]
    if name == 's' then subject = fields[i + 1]
    elseif name == 'e' then body = fields[i + 1]
    elseif name == 'k' then
      key = fields[i + 1]
      redis.call('ZADD', ARGV[4] .. key, 0, member(entry[1]))
    end
  end
  flat[#flat + 1] = entry[1]
  flat[#flat + 1] = subject
  flat[#flat + 1] = body
  flat[#flat + 1] = key
end
return {flat, ''}`;

type ReadCommand = (
  log: string,
  group: string,
  me: string,
  count: number,
  byKeyPrefix: string,
) => Promise<[string[], string]>;

/** A flat entry of `READ`'s reply as an entry with named fields, as the other reads give them. */
function namedEntry(id: string, subject: string, body: string, key: string): Entry {
  return [id, key === "" ? ["s", subject, "e", body] : ["s", subject, "e", body, "k", key]];
}

/** True when the entry carries its key in a `k` field (so reading it indexed it). */
function carriesKey(fields: string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === "k") return true;
  return false;
}

/** How often an idle-looking consumer looks for due retries and held-back entries. */
const TAKE_EVERY_MS = 50;

type Entry = [id: string, fields: string[]];
type TakeCommand = (
  delayed: string,
  held: string,
  now: number,
  batch: number,
) => Promise<[string[], string[]]>;
/** `numberOfKeys`, then the keys, then the arguments (see `PUBLISH_BATCH`). */
type PublishBatchCommand = (...keysThenArgs: (string | number)[]) => Promise<(string | number)[]>;

/** One publish waiting for its batch's script call. */
interface QueuedPublish {
  event: CloudEvent;
  /** The bus generated `event.id`: the call's own record replaces a de-duplication key. */
  idGenerated: boolean;
  /** The event as stored, serialised by the caller's own `publish` (which it fails there). */
  body: string;
  resolve(receipt: PublishReceipt): void;
  reject(error: unknown): void;
}

/**
 * The value of field `name` of an entry. The publish script writes `s` (subject) first and `e`
 * (the event) second, so those are looked at first; the scan covers any other layout.
 */
function field(fields: string[], name: "s" | "e", at: number): string {
  if (fields[at] === name) return fields[at + 1];
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return "";
}

/** The subject of an entry. */
function subjectOf(fields: string[]): string {
  return field(fields, "s", 0);
}

/** The event JSON of an entry. */
function bodyOf(fields: string[]): string {
  return field(fields, "e", 2);
}

/**
 * A pattern's matcher that remembers its last answer: consecutive entries mostly share a
 * subject, and comparing two strings is cheaper than running the pattern again.
 */
function lastAnswerMatcher(pattern: string): (subject: string) => boolean {
  const matches = compilePattern(pattern);
  let lastSubject: string | undefined;
  let lastAnswer = false;
  return (subject) => {
    if (subject !== lastSubject) {
      lastSubject = subject;
      lastAnswer = matches(subject);
    }
    return lastAnswer;
  };
}

/** One group's acks for the next flush. */
interface PendingAcks {
  /** Stream ids to XACK. */
  ids: string[];
  /** Keyed entries as id, key, id, key…: each leaves its key's index. */
  keyed: string[];
  /** Redeliveries, whose nack may have left them in the delay set. */
  retried: string[];
}

/** How a delivery settles itself: one object per consumer loop, not three closures per entry. */
interface RedisSettler {
  ack(id: string, key: string | undefined, deliveries: number): Promise<void>;
  nack(id: string, delayMs: number): Promise<void>;
  extend(id: string): Promise<void>;
}

/** A stream entry (its id and event JSON) as a delivery. */
class RedisDelivery implements ProviderDelivery {
  readonly event: CloudEvent;
  constructor(
    readonly seq: string,
    body: string,
    subject: string,
    readonly deliveries: number,
    private readonly settler: RedisSettler,
  ) {
    this.event = readStoredEvent(body, seq, subject);
  }
  /**
   * When Redis appended the entry: an auto-generated stream id is `<ms>-<n>`, so the consumer
   * need not parse the event's ISO `time` for its handle-time histogram.
   */
  get storedAtMs(): number {
    // parseInt stops at the '-': no substring per event.
    return parseInt(this.seq, 10);
  }
  ack(): Promise<void> {
    return this.settler.ack(this.seq, this.event.partitionkey, this.deliveries);
  }
  nack(delayMs: number): Promise<void> {
    return this.settler.nack(this.seq, delayMs);
  }
  extend(): Promise<void> {
    return this.settler.extend(this.seq);
  }
}

/**
 * The depth each server's last provider in this process settled on: a new provider (a restart,
 * another bus on the same server) starts from it instead of trying both depths from scratch.
 */
const learnedDepths = new Map<string, TunerState>();

/** The Redis Streams provider. */
export class RedisProvider implements EventProvider {
  /** Which provider this is. */
  readonly kind = "redis" as const;
  /** Per-key order is kept in Redis (see `_redis_key_order.ts`). */
  readonly gatesKeys = true;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #keys: { log: string; subjects: string };
  readonly #dedupeWindowMs: number;
  readonly #callsInFlightMax: number;
  /** Picks one call in flight or the most by measured throughput; absent: always the most. */
  readonly #tuner?: CallsInFlightTuner;
  readonly #url: string;
  readonly #logger?: Logger;
  readonly #connections = new Set<Redis>();

  private constructor(redis: Redis, options: RedisProviderOptions) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "a3s:event";
    this.#keys = { log: `${this.#prefix}:log`, subjects: `${this.#prefix}:subjects` };
    this.#callKeyPrefix = `${this.#prefix}:call:${crypto.randomUUID()}:`;
    this.#dedupeWindowMs = options.dedupeWindowMs ?? 120_000;
    this.#callsInFlightMax = Math.max(
      1,
      Math.floor(options.publishCallsInFlight ?? PUBLISH_CALLS_IN_FLIGHT),
    );
    this.#url = options.url;
    // With one call allowed there is nothing to choose (and nothing to teach the next provider).
    if ((options.tuneCallsInFlight ?? true) && this.#callsInFlightMax > 1) {
      this.#tuner = new CallsInFlightTuner(this.#callsInFlightMax, {
        start: learnedDepths.get(options.url),
        onDecision: options.onTunerDecision,
      });
    }
    this.#logger = options.logger;
    // No fixed key count: a batch passes its own (three, plus one de-duplication key per event
    // whose id a caller chose).
    redis.defineCommand("a3sPublishBatch", { lua: PUBLISH_BATCH });
    redis.defineCommand("a3sTake", { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand("a3sRead", { numberOfKeys: 1, lua: READ });
  }

  /** Connects once (failing with one line), then reconnects with backoff after outages. */
  static async connect(options: RedisProviderOptions): Promise<RedisProvider> {
    let connected = false;
    const redis = new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: 3000,
      maxRetriesPerRequest: 5,
      retryStrategy: (times) => (connected ? Math.min(50 * 2 ** times, 5000) : null),
    });
    let lastError = "";
    redis.on("error", (error) => {
      lastError = (error as Error).message;
      if (connected) options.logger?.warn("Redis connection error", { error: String(error) });
    });
    try {
      await redis.connect();
      connected = true;
    } catch (error) {
      redis.disconnect();
      throw new EventBrokerError(
        `cannot reach Redis at ${options.url.replace(/\/\/[^@/]*@/, "//***@")}: ${
          lastError || (error as Error).message
        }`,
        error,
      );
    }
    return new RedisProvider(redis, options);
  }

  /** The stream, read on every publish and fetch: built once, not per call. */
  get #log(): string {
    return this.#keys.log;
  }
  get #subjectsKey(): string {
    return this.#keys.subjects;
  }
  get #consumersKey(): string {
    return `${this.#prefix}:consumers`;
  }
  #delayKey(consumer: string): string {
    return `${this.#prefix}:delay:${consumer}`;
  }
  #heldKey(consumer: string): string {
    return `${this.#prefix}:held:${consumer}`;
  }
  #byKey(consumer: string, key: string): string {
    return `${this.#prefix}:bykey:${consumer}:${key}`;
  }

  /** A second connection for blocking reads, closed with the provider. */
  #blockingConnection(): Redis {
    const connection = this.#redis.duplicate({ maxRetriesPerRequest: null });
    connection.on("error", () => {});
    // A consumer queues its read behind its blocking wait on this connection (see
    // `consumeBatches`); scripts are defined per client, so this one gets its own.
    connection.defineCommand("a3sRead", { numberOfKeys: 1, lua: READ });
    this.#connections.add(connection);
    return connection;
  }

  #release(connection: Redis): void {
    this.#connections.delete(connection);
    connection.disconnect();
  }

  /** Publishes not yet sent, in publish order: sent by `#sendQueued`. */
  #queued: QueuedPublish[] = [];
  /** Whether a `#sendQueued` is due at the end of this turn of the event loop. */
  #sendDue = false;
  /** Prefix of this provider's call records: random per instance (see `#callKey`). */
  readonly #callKeyPrefix: string;
  /** Publish script calls sent so far, numbering their records. */
  #callsSent = 0;
  /** Publish script calls sent and not yet answered, and the events they carry. */
  #callsInFlight = 0;

  /**
   * Queues the event for the next script call. Publishes gather until the event loop next
   * polls (after the current microtasks, `setImmediate`), then go out while a call slot is
   * free (`publishCallsInFlight`, default 2); publishes made while every slot is busy wait and
   * go together in the call sent when a slot frees (group commit with calls in flight). So a
   * call's fixed cost (the call, the script's start, the reply) is paid once per batch, and the
   * server runs one call while the client resolves the previous one's publishers and builds the
   * next. Each caller gets its own event's receipt; a lone publish waits no timer, only the
   * rest of this turn.
   *
   * What calls in flight keep: calls on one connection run on the server in the order sent and
   * are answered in that order, so publish order (and a key's order) holds across them; an id
   * repeated in a later call finds the earlier call's record, since that call ran first; a
   * publish resolves only with its own call's answer (the append done), and a call the server
   * refuses rejects only its own publishes.
   */
  publish(event: CloudEvent, options: ProviderPublishOptions = {}): Promise<PublishReceipt> {
    let body: string;
    try {
      body = JSON.stringify(event);
    } catch (error) {
      return Promise.reject(error);
    }
    const { promise, resolve, reject } = Promise.withResolvers<PublishReceipt>();
    this.#queued.push({ event, body, idGenerated: options.idGenerated === true, resolve, reject });
    this.#sendAtTurnEnd();
    return promise;
  }

  #sendAtTurnEnd(): void {
    if (this.#sendDue) return;
    this.#sendDue = true;
    setImmediate(this.#sendQueued);
  }

  /**
   * Sends queued publishes, in order, while a call slot is free: each call at most
   * `PUBLISH_BATCH_MAX` events and about `PUBLISH_BATCH_CHARS` characters, and otherwise all
   * that is queued.
   *
   * Calls overlap by themselves once two are in flight: while the server runs one, the client
   * resolves the other's publishers, whose next publishes go in the free slot. To get there
   * from one call, a send with nothing in flight splits what is queued evenly over the slots
   * (32 publishers waiting in a loop become two calls of 16 that then alternate). Only a send
   * with nothing in flight splits, so calls never shrink turn by turn. Where client and server
   * cannot run at once (every core busy), the overlap only adds a call and its wake-ups per
   * turn; the tuner (`_calls_in_flight.ts`) measures which depth answers more publishes per
   * second and runs that one, so a turn is then one call again.
   */
  readonly #sendQueued = (): void => {
    this.#sendDue = false;
    const depth = this.#tuner?.depth ?? this.#callsInFlightMax;
    const split = this.#callsInFlight === 0 && this.#queued.length > 1 && depth > 1
      ? Math.ceil(this.#queued.length / depth)
      : 0;
    while (this.#queued.length > 0 && this.#callsInFlight < depth) {
      const queued = this.#queued;
      const lastSlot = this.#callsInFlight === depth - 1;
      const share = split && !lastSlot ? split : queued.length;
      let take = 0;
      let chars = 0;
      while (
        take < queued.length && take < share && take < PUBLISH_BATCH_MAX &&
        (take === 0 || chars < PUBLISH_BATCH_CHARS)
      ) {
        chars += queued[take].body.length;
        take++;
      }
      const batch = take === queued.length ? queued : queued.slice(0, take);
      this.#queued = take === queued.length ? [] : queued.slice(take);
      this.#sendBatch(batch);
    }
  };

  /**
   * One script call for `batch`. A call whose reply is lost is sent again by the client on its
   * new connection, and then finds its own record (`PUBLISH_BATCH`), so it appends nothing
   * twice. A call the server refuses rejects every publish in it: the script may have appended
   * some of them before failing, and retrying an event with a caller's id is what tells (its
   * de-duplication key answers `duplicate`). Either way its slot frees, and what was queued
   * meanwhile goes at the end of this turn.
   */
  #sendBatch(batch: QueuedPublish[]): void {
    const dedupePrefix = `${this.#prefix}:dedupe:`;
    const keys: string[] = [this.#keys.log, this.#keys.subjects, this.#callKey()];
    const args: (string | number)[] = [this.#dedupeWindowMs, 0];
    for (const { event, body, idGenerated } of batch) {
      if (idGenerated) {
        args[1] = 1;
        args.push(event.subject, body, event.partitionkey ?? "", 0);
      } else {
        keys.push(dedupePrefix + event.id);
        args.push(event.subject, body, event.partitionkey ?? "", 1);
      }
    }
    const send = (this.#redis as unknown as { a3sPublishBatch: PublishBatchCommand })
      .a3sPublishBatch;
    this.#callsInFlight++;
    this.#tuner?.sent();
    const settled = () => {
      this.#callsInFlight--;
      this.#tuner?.answered(batch.length, this.#callsInFlight === 0);
      if (this.#queued.length > 0) this.#sendAtTurnEnd();
    };
    send.call(this.#redis, keys.length, ...keys, ...args).then((reply) => {
      settled();
      for (let i = 0; i < batch.length; i++) {
        batch[i].resolve({ seq: String(reply[2 * i]), duplicate: reply[2 * i + 1] === 1 });
      }
    }, (error) => {
      settled();
      for (const queued of batch) queued.reject(error);
    });
  }

  /**
   * A key no other call uses: the call's own record (`PUBLISH_BATCH`). Unique per provider
   * instance and call, so a record found can only be this call's from an earlier delivery.
   */
  #callKey(): string {
    return `${this.#callKeyPrefix}${this.#callsSent++}`;
  }

  async #lastId(): Promise<string> {
    const last = await this.#redis.xrevrange(this.#log, "+", "-", "COUNT", 1) as Entry[];
    return last[0]?.[0] ?? "0-0";
  }

  async subscribe(
    pattern: string,
    after: string | undefined,
    onEvent: (stored: StoredEvent) => void,
  ): Promise<LiveSubscription> {
    const matches = compilePattern(pattern);
    let cursor = after ?? await this.#lastId();
    const connection = this.#blockingConnection();
    let closed = false;
    const loop = (async () => {
      while (!closed) {
        try {
          const reply = await connection.xread(
            "COUNT",
            500,
            "BLOCK",
            1000,
            "STREAMS",
            this.#log,
            cursor,
          ) as [string, Entry[]][] | null;
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            cursor = id;
            if (matches(subjectOf(fields))) {
              onEvent({ seq: id, event: readStoredEvent(bodyOf(fields), id, subjectOf(fields)) });
            }
          }
        } catch (error) {
          if (closed) return;
          this.#logger?.warn("Redis subscription read failed; retrying", { error: String(error) });
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
    return {
      close: async () => {
        closed = true;
        this.#release(connection);
        await loop;
      },
    };
  }

  async ensureConsumer(spec: ConsumerSpec): Promise<void> {
    try {
      await this.#redis.xgroup(
        "CREATE",
        this.#log,
        spec.name,
        spec.deliver === "all" ? "0" : "$",
        "MKSTREAM",
      );
    } catch (error) {
      if (!String(error).includes("BUSYGROUP")) throw error;
    }
    await this.#redis.hset(
      this.#consumersKey,
      spec.name,
      JSON.stringify({ pattern: spec.pattern, ackWaitMs: spec.ackWaitMs }),
    );
  }

  /** Acks waiting for the next flush, per group: plain arrays, no object per ack. */
  #acks = new Map<string, PendingAcks>();
  /**
   * Acks of one turn of the event loop (a batch's handlers run in one), in one round trip: per group one XACK and one ZREM of parked
   * retries, and each keyed entry leaves its key's index, which lets the key's next run.
   */
  readonly #flushAcks = coalesceTurn(async () => {
    const batch = [...this.#acks];
    this.#acks.clear();
    if (batch.length === 1) {
      const [name, acked] = batch[0];
      if (acked.retried.length === 0 && acked.keyed.length === 0) {
        // The common case is one command; a pipeline object (which copies the client's
        // scripts) would cost more than the XACK itself.
        await this.#redis.xack(this.#log, name, ...acked.ids);
        return;
      }
    }
    const pipeline = this.#redis.pipeline();
    for (const [name, acked] of batch) {
      pipeline.xack(this.#log, name, ...acked.ids);
      // Only a redelivery can still have a nack's entry in the delay set (a late nack of an
      // older delivery); a first delivery's ack skips that command.
      if (acked.retried.length) pipeline.zrem(this.#delayKey(name), ...acked.retried);
      const keyed = acked.keyed;
      for (let i = 0; i < keyed.length; i += 2) {
        pipeline.zrem(this.#byKey(name, keyed[i + 1]), orderMember(keyed[i]));
      }
    }
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  });

  #ack(group: string, id: string, key: string | undefined, retried: boolean): Promise<void> {
    let acked = this.#acks.get(group);
    if (!acked) this.#acks.set(group, acked = { ids: [], keyed: [], retried: [] });
    acked.ids.push(id);
    if (key !== undefined) acked.keyed.push(id, key);
    if (retried) acked.retried.push(id);
    return this.#flushAcks();
  }

  async #deliveryCounts(group: string, ids: string[]): Promise<Map<string, number>> {
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.xpending(this.#log, group, id, id, 1);
    const counts = new Map<string, number>();
    for (const [error, rows] of (await pipeline.exec()) ?? []) {
      if (error) continue;
      const row = (rows as [string, string, number, number][])[0];
      if (row) counts.set(row[0], Number(row[3]));
    }
    return counts;
  }

  /** Claims `ids` for `me` (counting a delivery) and returns their entries with counts. */
  async #claim(group: string, me: string, ids: string[]): Promise<[Entry, number][]> {
    if (!ids.length) return [];
    const entries = (await this.#redis.xclaim(this.#log, group, me, 0, ...ids) as Entry[])
      .filter((e) => e && e[1]);
    const counts = await this.#deliveryCounts(group, entries.map((e) => e[0]));
    return entries.map((e) => [e, counts.get(e[0]) ?? 2]);
  }

  /** Reads entries by id, with their delivery counts; entries gone from the stream are left out. */
  async #read(group: string, ids: string[]): Promise<[Entry, number][]> {
    if (!ids.length) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.xrange(this.#log, id, id);
    const entries: Entry[] = [];
    for (const [error, rows] of (await pipeline.exec()) ?? []) {
      const entry = (rows as Entry[] | undefined)?.[0];
      if (!error && entry) entries.push(entry);
    }
    const counts = await this.#deliveryCounts(group, entries.map((e) => e[0]));
    return entries.map((e) => [e, counts.get(e[0]) ?? 1]);
  }

  async *consume(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
  ): AsyncIterable<ProviderDelivery> {
    for await (const deliveries of this.consumeBatches(spec, signal, batch)) {
      for (const delivery of deliveries) {
        if (signal.aborted) return;
        yield delivery;
      }
    }
  }

  /** One turn's deliveries at a time (see `consume`). */
  async *consumeBatches(
    spec: ConsumerSpec,
    signal: AbortSignal,
    batch: number,
  ): AsyncIterable<ProviderDelivery[]> {
    const matches = lastAnswerMatcher(spec.pattern);
    const group = spec.name;
    // The consumer's name in the group: its instance, so entries it owns stay its own across a
    // restart of this loop, and another instance's (or a dead one's) are recognised as such.
    const me = spec.instance ?? `${spec.name}-${crypto.randomUUID().slice(0, 8)}`;
    const delayKey = this.#delayKey(group);
    const order: KeyOrderKeys = {
      log: this.#log,
      group,
      me,
      delayed: delayKey,
      held: this.#heldKey(group),
      byKey: (key) => this.#byKey(group, key),
    };
    const connection = this.#blockingConnection();
    const abort = () => this.#release(connection);
    if (signal.aborted) abort();
    signal.addEventListener("abort", abort, { once: true });
    let lastReclaim = 0;
    let reclaimCursor = "0-0";
    let lastTake = 0;
    let lastTakeFound = false;
    const settler: RedisSettler = {
      ack: (id, key, deliveries) => this.#ack(group, id, key, deliveries > 1),
      nack: async (id, delayMs) => {
        await this.#redis.zadd(delayKey, Date.now() + delayMs, id);
      },
      // XCLAIM to its own holder resets the entry's idle time; JUSTID leaves its count alone.
      extend: async (id) => {
        await this.#redis.xclaim(this.#log, group, me, 0, id, "JUSTID");
      },
    };
    const delivery = (entry: Entry, deliveries: number): ProviderDelivery =>
      new RedisDelivery(entry[0], bodyOf(entry[1]), subjectOf(entry[1]), deliveries, settler);
    try {
      while (!signal.aborted) {
        const now = Date.now();
        const candidates: [Entry, number][] = [];
        // Redeliveries whose nack delay is over, and held-back entries (oldest first, their
        // key may be free now), in one round trip: on every turn while there are some, else
        // every 50 ms, so a busy consumer does not pay a command per batch for empty sets.
        let due: string[] = [];
        let heldIds: string[] = [];
        if (lastTakeFound || now - lastTake >= TAKE_EVERY_MS) {
          const take = (this.#redis as unknown as { a3sTake: TakeCommand }).a3sTake;
          [due, heldIds] = await take.call(this.#redis, delayKey, order.held, now, batch);
          lastTake = now;
          lastTakeFound = due.length > 0 || heldIds.length > 0;
        }
        candidates.push(...await this.#claim(group, me, due));
        // Deliveries left unacknowledged past the ack wait, by any worker of the group; the
        // cursor walks the whole pending list over successive turns.
        if (now - lastReclaim >= Math.min(spec.ackWaitMs / 2, 1000)) {
          lastReclaim = now;
          const [next, ids] = await this.#redis.xautoclaim(
            this.#log,
            group,
            me,
            spec.ackWaitMs,
            reclaimCursor,
            "COUNT",
            batch,
            "JUSTID",
          ) as [string, string[]];
          reclaimCursor = next;
          const delayed = ids.length ? await this.#redis.zmscore(delayKey, ...ids) : [];
          const held = ids.length
            ? await this.#redis.zmscore(order.held, ...ids.map(orderMember))
            : [];
          const stale = ids.filter((_, i) => delayed[i] === null && held[i] === null);
          candidates.push(...await this.#claim(group, me, stale));
        }
        const heldBack = heldIds.map(idOfMember);
        const heldEntries = await this.#read(group, heldBack);
        const gone = heldBack.filter((id) => !heldEntries.some(([e]) => e[0] === id));
        if (gone.length) await this.#redis.zrem(order.held, ...gone.map(orderMember));
        /** This turn's deliveries when none needs key bookkeeping (see below). */
        let direct: ProviderDelivery[] | undefined;
        if (candidates.length === 0) {
          const read = (this.#redis as unknown as { a3sRead: ReadCommand }).a3sRead;
          const byKeyPrefix = this.#byKey(group, "");
          let [flat, last] = await read.call(this.#redis, this.#log, group, me, batch, byKeyPrefix);
          // Nothing new: wait on the blocking connection for an entry after the last one
          // (unless entries are held back; then the pause below paces the loop, so other keys
          // keep flowing while those wait). The read is sent right behind the wait on the same
          // connection, so Redis runs it the moment the wait ends: a woken consumer has its
          // entries without a second round trip (a script cannot block, so the read that
          // indexes keys cannot be the wait itself).
          if (flat.length === 0 && heldEntries.length === 0 && candidates.length === 0) {
            const waited = connection.xread(
              "COUNT",
              1,
              "BLOCK",
              Math.min(spec.ackWaitMs / 2, 500),
              "STREAMS",
              this.#log,
              last,
            );
            const readAfter = (connection as unknown as { a3sRead: ReadCommand }).a3sRead;
            [, [flat, last]] = await Promise.all([
              waited,
              readAfter.call(connection, this.#log, group, me, batch, byKeyPrefix),
            ]);
          }
          // The common case, new entries without keys and nothing held back, needs no key
          // bookkeeping: each matching entry becomes its delivery straight from the flat reply,
          // without an entry with named fields and a candidate pair per event on the way.
          let keyed = heldEntries.length > 0;
          for (let i = 3; !keyed && i < flat.length; i += 4) keyed = flat[i] !== "";
          if (!keyed) direct = [];
          const foreign: string[] = [];
          for (let i = 0; i < flat.length; i += 4) {
            if (!matches(flat[i + 1])) foreign.push(flat[i]);
            else if (direct) {
              direct.push(new RedisDelivery(flat[i], flat[i + 2], flat[i + 1], 1, settler));
            } else candidates.push([namedEntry(flat[i], flat[i + 1], flat[i + 2], flat[i + 3]), 1]);
          }
          // Events outside the pattern are acknowledged at once: they are not this consumer's.
          if (foreign.length) await this.#redis.xack(this.#log, group, ...foreign);
        }
        const out = direct ?? await this.#inKeyOrder(order, candidates, heldEntries, delivery);
        if (out.length === 0 && heldEntries.length > 0) {
          // Everything held back is still blocked: wait a little before looking again.
          await new Promise((r) => setTimeout(r, Math.min(spec.ackWaitMs / 4, 100)));
        }
        if (signal.aborted) return;
        if (out.length > 0) yield out;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      signal.removeEventListener("abort", abort);
      this.#release(connection);
    }
  }

  /**
   * Indexes the new keyed entries, then keeps back those whose key has an earlier entry
   * waiting or owned elsewhere (see `_redis_key_order.ts`). Held-back entries that may run are
   * taken out of the held set first (one worker wins each) and claimed for this worker.
   */
  async #inKeyOrder(
    order: KeyOrderKeys,
    candidates: [Entry, number][],
    heldEntries: [Entry, number][],
    delivery: (entry: Entry, deliveries: number) => ProviderDelivery,
  ): Promise<ProviderDelivery[]> {
    const made = candidates.map(([entry, count]) => delivery(entry, count));
    // The common case, nothing keyed and nothing held back, needs no bookkeeping.
    if (heldEntries.length === 0 && made.every((d) => d.event.partitionkey === undefined)) {
      return made;
    }
    const all = [
      ...candidates.map(([entry], i) => ({ entry, held: false, made: made[i] })),
      ...heldEntries.map(([entry, count]) => ({ entry, held: true, made: delivery(entry, count) })),
    ];
    // Entries published before keys travelled in a `k` field were not indexed on reading.
    await indexEntries(
      this.#redis,
      order,
      all.filter((c) => !c.held && !carriesKey(c.entry[1]))
        .map((c) => ({ id: c.entry[0], key: c.made.event.partitionkey })),
    );
    const { run } = await gate(
      this.#redis,
      order,
      all.map((c) => ({ id: c.entry[0], key: c.made.event.partitionkey, held: c.held })),
    );
    const byId = new Map(all.map((c) => [c.entry[0], c]));
    const out: ProviderDelivery[] = [];
    for (const { id, held } of run) {
      const chosen = byId.get(id)!;
      if (held) {
        if (await this.#redis.zrem(order.held, orderMember(id)) === 0) continue;
        await this.#redis.xclaim(this.#log, order.group, order.me, 0, id, "JUSTID");
      }
      out.push(chosen.made);
    }
    return out;
  }

  async deleteConsumer(name: string): Promise<void> {
    await this.#redis.xgroup("DESTROY", this.#log, name).catch(() => 0);
    await this.#redis.multi().hdel(this.#consumersKey, name).del(this.#delayKey(name))
      .del(this.#heldKey(name)).exec();
    const indexes = await this.#redis.keys(`${this.#prefix}:bykey:${name}:*`);
    if (indexes.length) await this.#redis.del(...indexes);
  }

  /** Consumer groups with their lag (matching events not yet delivered) and pending entries. */
  async consumers(): Promise<ConsumerInfo[]> {
    const specs = await this.#redis.hgetall(this.#consumersKey);
    if (!Object.keys(specs).length) return [];
    const groups = await this.#redis.xinfo("GROUPS", this.#log) as (string | number)[][];
    const out: ConsumerInfo[] = [];
    for (const raw of groups) {
      const info: Record<string, string | number> = {};
      for (let i = 0; i < raw.length; i += 2) info[String(raw[i])] = raw[i + 1];
      const name = String(info.name);
      if (!specs[name]) continue;
      const { pattern } = JSON.parse(specs[name]) as { pattern: string };
      const matches = compilePattern(pattern);
      // Lag counts only this consumer's subjects, so it reads what is left (bounded).
      const rest = await this.#redis.xrange(
        this.#log,
        `(${info["last-delivered-id"]}`,
        "+",
        "COUNT",
        10_000,
      ) as Entry[];
      // Held back behind an earlier event of their key, never handled: still lag.
      const heldBack = await this.#redis.zcard(this.#heldKey(name));
      out.push({
        name,
        pattern,
        pending: rest.filter(([, fields]) => matches(subjectOf(fields))).length + heldBack,
        unacked: Number(info.pending) - heldBack,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Subjects with their event counts. */
  async subjects(): Promise<SubjectInfo[]> {
    const counts = await this.#redis.hgetall(this.#subjectsKey);
    return Object.entries(counts).map(([subject, n]) => ({ subject, events: Number(n) }))
      .sort((a, b) => a.subject.localeCompare(b.subject));
  }

  /** Deletes every key under the prefix (tests and admin only). */
  async destroy(): Promise<void> {
    const keys = await this.#redis.keys(`${this.#prefix}:*`);
    if (keys.length) await this.#redis.del(...keys);
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    if (this.#tuner) learnedDepths.set(this.#url, this.#tuner.state);
    for (const connection of [...this.#connections]) this.#release(connection);
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
