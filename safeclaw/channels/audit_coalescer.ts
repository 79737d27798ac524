/**
 * Audit records of webhook requests that anyone can send: refused ones (unsigned, wrongly
 * signed, oversized) and redeliveries. Written one per request, a flood of them filled the
 * hash-chained audit log (a padding-oracle run wrote 65,000 in half a minute) and buried the
 * incidents worth reading. The first of each channel, reason and client address is written as
 * it comes; the ones that follow within a window are counted, and one summary record per window
 * carries the count. Counted per client, one noisy sender does not hide another's refusals
 * inside its own count; past {@linkcode AUDIT_COALESCE_MAX_CLIENTS} addresses for one channel
 * and reason, the rest are counted together, so a flood from many addresses still writes a
 * bounded number of records.
 *
 * @module
 */
import type { Severity } from "../audit/log.ts";
import { UNKNOWN_CLIENT } from "./client_address.ts";

/** How long the repeats of one channel, reason and client are counted before their summary. */
export const AUDIT_COALESCE_WINDOW_MS = 60_000;

/**
 * How many channel, reason and client triples are counted at once; the oldest is pushed out
 * (its count written at once) for a new one. It bounds memory whatever number of addresses
 * requests come from.
 */
export const AUDIT_COALESCE_MAX_KEYS = 10_000;

/**
 * How many client addresses of one kind, channel and reason are counted apart; the requests of
 * any further address are counted under {@linkcode OTHER_CLIENTS}. Each address's first request
 * is a record of its own, so without this a sender with many addresses (an IPv6 /64 holds
 * 2^64) wrote one record per request again.
 */
export const AUDIT_COALESCE_MAX_CLIENTS = 100;

/** The `client` of records that count the addresses past {@linkcode AUDIT_COALESCE_MAX_CLIENTS}. */
export const OTHER_CLIENTS = "other clients";

/** One record the coalescer writes. */
export interface CoalescedRecord {
  kind: string;
  severity: Severity;
  data: {
    channel: string;
    reason: string;
    /** The address the requests came from, {@linkcode OTHER_CLIENTS}, or `unknown`. */
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
}

interface Counting {
  kind: string;
  severity: Severity;
  channel: string;
  reason: string;
  client: string;
  /** The key of its kind, channel and reason, under which its addresses are counted. */
  group: string;
  /** When the repeats now counted began to be counted. */
  since: number;
  repeats: number;
}

/**
 * Writes the first record of each kind, channel, reason and client, then at most one summary per
 * window while repeats keep coming.
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
 * for (let i = 0; i < 1000; i++) await refuse("192.0.2.1");
 * await refuse("192.0.2.2");
 * await audit.close();
 * console.log(written); // ["192.0.2.1 1", "192.0.2.2 1", "192.0.2.1 999"]
 * ```
 */
export class AuditCoalescer {
  readonly #write: (record: CoalescedRecord) => Promise<unknown>;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #counting = new Map<string, Counting>();
  /** How many entries of `#counting` each kind, channel and reason has. */
  readonly #clients = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    write: (record: CoalescedRecord) => Promise<unknown>,
    options: AuditCoalescerOptions = {},
  ) {
    this.#write = write;
    this.#windowMs = Math.max(1, options.windowMs ?? AUDIT_COALESCE_WINDOW_MS);
    this.#maxKeys = Math.max(1, options.maxKeys ?? AUDIT_COALESCE_MAX_KEYS);
    this.#maxClients = Math.max(1, options.maxClients ?? AUDIT_COALESCE_MAX_CLIENTS);
    this.#now = options.now ?? Date.now;
  }

  /** How many channel, reason and client triples are being counted. */
  get size(): number {
    return this.#counting.size;
  }

  /**
   * Audits one request from `client`: written when it is the first of its kind, channel, reason
   * and client, else counted.
   */
  async record(
    kind: string,
    severity: Severity,
    channel: string,
    reason: string,
    client: string = UNKNOWN_CLIENT,
  ): Promise<void> {
    const group = JSON.stringify([kind, channel, reason]);
    let key = JSON.stringify([kind, channel, reason, client]);
    if (!this.#counting.has(key) && (this.#clients.get(group) ?? 0) >= this.#maxClients) {
      client = OTHER_CLIENTS;
      key = JSON.stringify([kind, channel, reason, client]);
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
      client,
      group,
      since: this.#now(),
      repeats: 0,
    });
    this.#clients.set(group, (this.#clients.get(group) ?? 0) + 1);
    const evicted: Counting[] = [];
    for (const [oldest, entry] of this.#counting) {
      if (this.#counting.size <= this.#maxKeys) break;
      this.#forget(oldest, entry);
      evicted.push(entry);
    }
    await this.#write({ kind, severity, data: { channel, reason, client, count: 1 } });
    // A triple pushed out early still has its count written: nothing counted is dropped.
    await Promise.all(evicted.map((entry) => this.#summarize(entry, this.#now(), true)));
  }

  /** Writes the summaries whose window has ended; a triple with no repeats is forgotten. */
  async flush(): Promise<void> {
    const now = this.#now();
    const due: Counting[] = [];
    for (const [key, entry] of this.#counting) {
      if (now - entry.since < this.#windowMs) continue;
      if (entry.repeats === 0) {
        this.#forget(key, entry);
        continue;
      }
      due.push({ ...entry });
      // Still counting: a flood that goes on gets one summary per window, never one per request.
      entry.since = now;
      entry.repeats = 0;
    }
    await Promise.all(due.map((entry) => this.#summarize(entry, now)));
  }

  /** Writes every pending summary, whatever its window, and stops the timer. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = [...this.#counting.values()].filter((entry) => entry.repeats > 0);
    this.#counting.clear();
    this.#clients.clear();
    const now = this.#now();
    await Promise.all(pending.map((entry) => this.#summarize(entry, now)));
  }

  #forget(key: string, entry: Counting): void {
    this.#counting.delete(key);
    const left = (this.#clients.get(entry.group) ?? 1) - 1;
    if (left > 0) this.#clients.set(entry.group, left);
    else this.#clients.delete(entry.group);
  }

  async #summarize(entry: Counting, until: number, evicted = false): Promise<void> {
    if (entry.repeats === 0) return;
    await this.#write({
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
  /** A timer only while repeats wait for their summary, so an idle hub holds none. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      await this.flush().catch(() => {});
      if ([...this.#counting.values()].some((entry) => entry.repeats > 0)) this.#schedule();
    }, this.#windowMs);
  }
}
