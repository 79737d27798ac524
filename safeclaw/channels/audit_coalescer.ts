/**
 * Audit records of webhook requests that anyone can send: refused ones (unsigned, wrongly
 * signed, oversized) and redeliveries. Written one per request, a flood of them filled the
 * hash-chained audit log (a padding-oracle run wrote 65,000 in half a minute) and buried the
 * incidents worth reading. The first of each channel and reason is written as it comes; the
 * ones that follow within a window are counted, and one summary record per window carries the
 * count.
 *
 * @module
 */
import type { Severity } from "../audit/log.ts";

/** How long the repeats of one channel and reason are counted before their summary is written. */
export const AUDIT_COALESCE_WINDOW_MS = 60_000;

/**
 * How many channel-and-reason pairs are counted at once. Reasons come from a short fixed list per
 * adapter, so this is never reached in practice; it bounds memory whatever an adapter says.
 */
export const AUDIT_COALESCE_MAX_KEYS = 1_000;

/** One record the coalescer writes. */
export interface CoalescedRecord {
  kind: string;
  severity: Severity;
  data: {
    channel: string;
    reason: string;
    /** How many requests the record stands for: 1 for the first, the repeats for a summary. */
    count: number;
    /** A summary's window (ISO 8601), absent from the first record. */
    since?: string;
    until?: string;
  };
}

/** Options of {@linkcode AuditCoalescer}. */
export interface AuditCoalescerOptions {
  /** {@linkcode AUDIT_COALESCE_WINDOW_MS} unless given. */
  windowMs?: number;
  /** {@linkcode AUDIT_COALESCE_MAX_KEYS} unless given. */
  maxKeys?: number;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

interface Counting {
  kind: string;
  severity: Severity;
  channel: string;
  reason: string;
  /** When the repeats now counted began to be counted. */
  since: number;
  repeats: number;
}

/**
 * Writes the first record of each kind, channel and reason, then at most one summary per window
 * while repeats keep coming.
 *
 * @example
 * ```ts
 * import { AuditCoalescer } from "./audit_coalescer.ts";
 * const written: number[] = [];
 * const audit = new AuditCoalescer(async (record) => void written.push(record.data.count));
 * for (let i = 0; i < 1000; i++) {
 *   await audit.record("channel_auth_failure", "warning", "slack", "signature does not match");
 * }
 * await audit.close();
 * console.log(written); // [1, 999]
 * ```
 */
export class AuditCoalescer {
  readonly #write: (record: CoalescedRecord) => Promise<unknown>;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #counting = new Map<string, Counting>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    write: (record: CoalescedRecord) => Promise<unknown>,
    options: AuditCoalescerOptions = {},
  ) {
    this.#write = write;
    this.#windowMs = Math.max(1, options.windowMs ?? AUDIT_COALESCE_WINDOW_MS);
    this.#maxKeys = Math.max(1, options.maxKeys ?? AUDIT_COALESCE_MAX_KEYS);
    this.#now = options.now ?? Date.now;
  }

  /** How many channel-and-reason pairs are being counted. */
  get size(): number {
    return this.#counting.size;
  }

  /** Audits one request: written when it is the first of its kind, channel and reason, else counted. */
  async record(kind: string, severity: Severity, channel: string, reason: string): Promise<void> {
    const key = JSON.stringify([kind, channel, reason]);
    const counting = this.#counting.get(key);
    if (counting) {
      counting.repeats++;
      this.#schedule();
      return;
    }
    this.#counting.set(key, { kind, severity, channel, reason, since: this.#now(), repeats: 0 });
    const evicted: Counting[] = [];
    for (const [oldest, entry] of this.#counting) {
      if (this.#counting.size <= this.#maxKeys) break;
      this.#counting.delete(oldest);
      evicted.push(entry);
    }
    await this.#write({ kind, severity, data: { channel, reason, count: 1 } });
    // A pair pushed out early still has its count written: nothing counted is dropped.
    await Promise.all(evicted.map((entry) => this.#summarize(entry, this.#now())));
  }

  /** Writes the summaries whose window has ended; a pair with no repeats is forgotten. */
  async flush(): Promise<void> {
    const now = this.#now();
    const due: Counting[] = [];
    for (const [key, entry] of this.#counting) {
      if (now - entry.since < this.#windowMs) continue;
      if (entry.repeats === 0) {
        this.#counting.delete(key);
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
    const now = this.#now();
    await Promise.all(pending.map((entry) => this.#summarize(entry, now)));
  }

  async #summarize(entry: Counting, until: number): Promise<void> {
    if (entry.repeats === 0) return;
    await this.#write({
      kind: entry.kind,
      severity: entry.severity,
      data: {
        channel: entry.channel,
        reason: entry.reason,
        count: entry.repeats,
        since: new Date(entry.since).toISOString(),
        until: new Date(until).toISOString(),
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
