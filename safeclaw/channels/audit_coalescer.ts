/**
 * Audit records of webhook requests that anyone can send: refused ones (unsigned, wrongly
 * signed, oversized, broken off) and redeliveries. Written one per request, a flood of them
 * filled the hash-chained audit log (a padding-oracle run wrote 65,000 in half a minute) and
 * buried the incidents worth reading. The first of each channel, reason and client network (an
 * IPv4 address, an IPv6 /64: {@linkcode clientNetwork}) is written as it comes; the ones that
 * follow within a window are counted, and one summary record per window carries the count.
 * Counted per network, one noisy sender does not hide another's refusals inside its own count,
 * and a sender moving through the addresses of its /64 is still one; past
 * {@linkcode AUDIT_COALESCE_MAX_CLIENTS} networks for one channel and reason, the rest are
 * counted together, so a flood from many networks still writes a bounded number of records. A
 * network with nothing more to count leaves its place once its window ends, whatever else
 * arrives meanwhile.
 *
 * Records are written after the request is answered, never before: a refusal whose record is
 * new took longer than a repeat only counted, and for Feishu's unsigned requests that told a
 * prober which reason (such as "does not decrypt") its request was refused for. The writes
 * wait in a queue that {@linkcode AuditCoalescer.settled} and {@linkcode AuditCoalescer.close}
 * flush; a write that fails is reported, never thrown at the request.
 *
 * @module
 */
import type { Severity } from "../audit/log.ts";
import { clientNetwork, UNKNOWN_CLIENT } from "./client_address.ts";

/** How long the repeats of one channel, reason and client network are counted before their summary. */
export const AUDIT_COALESCE_WINDOW_MS = 60_000;

/**
 * How many channel, reason and client network triples are counted at once; the oldest is pushed
 * out (its count written at once) for a new one. It bounds memory whatever number of addresses
 * requests come from.
 */
export const AUDIT_COALESCE_MAX_KEYS = 10_000;

/**
 * How many client networks of one kind, channel and reason are counted apart; the requests of
 * any further network are counted under {@linkcode OTHER_CLIENTS}. Each network's first request
 * is a record of its own, so without this a sender with many networks wrote one record per
 * request again.
 */
export const AUDIT_COALESCE_MAX_CLIENTS = 100;

/** The `client` of records that count the networks past {@linkcode AUDIT_COALESCE_MAX_CLIENTS}. */
export const OTHER_CLIENTS = "other clients";

/** One record the coalescer writes. */
export interface CoalescedRecord {
  kind: string;
  severity: Severity;
  data: {
    channel: string;
    reason: string;
    /**
     * The network the requests came from ({@linkcode clientNetwork}: an IPv4 address, an IPv6
     * /64), {@linkcode OTHER_CLIENTS}, or `unknown`.
     */
    client: string;
    /** How many requests the record stands for: 1 for the first, the repeats for a summary. */
    count: number;
    /** A summary's window (ISO 8601), absent from the first record. */
    since?: string;
    until?: string;
    /**
     * Set on a summary written before its window ended because newer triples pushed its count
     * out: a later request of the same triple is then written as a first record again.
     */
    evicted?: true;
  };
}

/** Options of {@linkcode AuditCoalescer}. */
export interface AuditCoalescerOptions {
  /** {@linkcode AUDIT_COALESCE_WINDOW_MS} unless given. */
  windowMs?: number;
  /** {@linkcode AUDIT_COALESCE_MAX_KEYS} unless given. */
  maxKeys?: number;
  /** {@linkcode AUDIT_COALESCE_MAX_CLIENTS} unless given. */
  maxClients?: number;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
  /** Told of a record that could not be written (it is not retried). */
  onError?: (error: unknown, record: CoalescedRecord) => void;
}

interface Counting {
  kind: string;
  severity: Severity;
  channel: string;
  reason: string;
  client: string;
  /** The key of its kind, channel and reason, under which its networks are counted. */
  group: string;
  /** When the repeats now counted began to be counted. */
  since: number;
  repeats: number;
}

/**
 * Writes the first record of each kind, channel, reason and client network, then at most one
 * summary per window while repeats keep coming; every write after the caller has moved on.
 *
 * @example
 * ```ts
 * import { AuditCoalescer } from "./audit_coalescer.ts";
 * const written: string[] = [];
 * const audit = new AuditCoalescer(async ({ data }) => {
 *   written.push(`${data.client} ${data.count}`);
 * });
 * const refuse = (client: string) =>
 *   audit.record("channel_auth_failure", "warning", "slack", "signature does not match", client);
 * for (let i = 0; i < 1000; i++) refuse("192.0.2.1");
 * refuse("192.0.2.2");
 * await audit.close();
 * console.log(written); // ["192.0.2.1 1", "192.0.2.2 1", "192.0.2.1 999"]
 * ```
 */
export class AuditCoalescer {
  readonly #write: (record: CoalescedRecord) => Promise<unknown>;
  readonly #onError: (error: unknown, record: CoalescedRecord) => void;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #counting = new Map<string, Counting>();
  /** How many entries of `#counting` each kind, channel and reason has. */
  readonly #clients = new Map<string, number>();
  /** When the earliest window of `#counting` ends; nothing is due before it. */
  #nextDue = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Records waiting to be written, in order. */
  #queue: CoalescedRecord[] = [];
  /** The writer working through `#queue`, while it runs. */
  #writing: Promise<void> | undefined;

  constructor(
    write: (record: CoalescedRecord) => Promise<unknown>,
    options: AuditCoalescerOptions = {},
  ) {
    this.#write = write;
    this.#onError = options.onError ?? (() => {});
    this.#windowMs = Math.max(1, options.windowMs ?? AUDIT_COALESCE_WINDOW_MS);
    this.#maxKeys = Math.max(1, options.maxKeys ?? AUDIT_COALESCE_MAX_KEYS);
    this.#maxClients = Math.max(1, options.maxClients ?? AUDIT_COALESCE_MAX_CLIENTS);
    this.#now = options.now ?? Date.now;
  }

  /** How many channel, reason and client network triples are being counted. */
  get size(): number {
    return this.#counting.size;
  }

  /**
   * Audits one request from `client`: queued for writing when it is the first of its kind,
   * channel, reason and client network, else counted. Returns at once, its cost the same either
   * way; {@linkcode settled} waits for the write.
   */
  record(
    kind: string,
    severity: Severity,
    channel: string,
    reason: string,
    client: string = UNKNOWN_CLIENT,
  ): void {
    const now = this.#now();
    // Windows that ended give their places back before this request is placed.
    if (now >= this.#nextDue) this.#expire(now);
    let network = clientNetwork(client);
    const group = JSON.stringify([kind, channel, reason]);
    let key = JSON.stringify([kind, channel, reason, network]);
    if (!this.#counting.has(key) && (this.#clients.get(group) ?? 0) >= this.#maxClients) {
      network = OTHER_CLIENTS;
      key = JSON.stringify([kind, channel, reason, network]);
    }
    const counting = this.#counting.get(key);
    if (counting) {
      counting.repeats++;
      this.#schedule();
      return;
    }
    this.#counting.set(key, {
      kind,
      severity,
      channel,
      reason,
      client: network,
      group,
      since: now,
      repeats: 0,
    });
    this.#nextDue = Math.min(this.#nextDue, now + this.#windowMs);
    this.#clients.set(group, (this.#clients.get(group) ?? 0) + 1);
    this.#enqueue({ kind, severity, data: { channel, reason, client: network, count: 1 } });
    for (const [oldest, entry] of this.#counting) {
      if (this.#counting.size <= this.#maxKeys) break;
      this.#forget(oldest, entry);
      // A triple pushed out early still has its count written: nothing counted is dropped.
      this.#summarize(entry, now, true);
    }
  }

  /** Writes the summaries whose window has ended (a triple with no repeats is forgotten). */
  async flush(): Promise<void> {
    this.#expire(this.#now());
    await this.settled();
  }

  /** Resolves once every record queued so far is written (or failed, and was reported). */
  async settled(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Writes every pending summary, whatever its window, and stops the timer. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = [...this.#counting.values()].filter((entry) => entry.repeats > 0);
    this.#counting.clear();
    this.#clients.clear();
    this.#nextDue = Infinity;
    const now = this.#now();
    for (const entry of pending) this.#summarize(entry, now);
    await this.settled();
  }

  /**
   * Ends the windows that are over at `now`: a triple with repeats has its summary queued and
   * counts on; one without leaves its place.
   */
  #expire(now: number): void {
    let nextDue = Infinity;
    for (const [key, entry] of this.#counting) {
      if (now - entry.since < this.#windowMs) {
        nextDue = Math.min(nextDue, entry.since + this.#windowMs);
        continue;
      }
      if (entry.repeats === 0) {
        this.#forget(key, entry);
        continue;
      }
      this.#summarize({ ...entry }, now);
      // Still counting: a flood that goes on gets one summary per window, never one per request.
      entry.since = now;
      entry.repeats = 0;
      nextDue = Math.min(nextDue, now + this.#windowMs);
    }
    this.#nextDue = nextDue;
  }

  #forget(key: string, entry: Counting): void {
    this.#counting.delete(key);
    const left = (this.#clients.get(entry.group) ?? 1) - 1;
    if (left > 0) this.#clients.set(entry.group, left);
    else this.#clients.delete(entry.group);
  }

  #summarize(entry: Counting, until: number, evicted = false): void {
    if (entry.repeats === 0) return;
    this.#enqueue({
      kind: entry.kind,
      severity: entry.severity,
      data: {
        channel: entry.channel,
        reason: entry.reason,
        client: entry.client,
        count: entry.repeats,
        since: new Date(entry.since).toISOString(),
        until: new Date(until).toISOString(),
        ...(evicted ? { evicted: true as const } : {}),
      },
    });
  }

  /**
   * Queues `record`; the writer starts on a later turn of the event loop, after the answer of
   * the request that caused it has been handed to the server, so no answer waits for a write
   * or takes longer for having caused one.
   */
  #enqueue(record: CoalescedRecord): void {
    this.#queue.push(record);
    if (this.#writing) return;
    this.#writing = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      while (this.#queue.length) {
        const batch = this.#queue;
        this.#queue = [];
        for (const next of batch) {
          try {
            await this.#write(next);
          } catch (error) {
            try {
              this.#onError(error, next);
            } catch { /* a reporter that fails has no one left to tell */ }
          }
        }
      }
      this.#writing = undefined;
    })();
  }

  /** A timer only while repeats wait for their summary, so an idle hub holds none. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expire(this.#now());
      if ([...this.#counting.values()].some((entry) => entry.repeats > 0)) this.#schedule();
    }, this.#windowMs);
  }
}
