/**
 * Time bounds on what a webhook brings. The hub answers each delivery id once, but remembers ids
 * for {@linkcode DELIVERY_MEMORY_MS} only: a captured signed request sent again after that ran
 * the agent again. A signed request whose timestamp is not near now is therefore refused, in a
 * window much shorter than that memory ({@linkcode freshness}). And what a request carries for
 * its reply (Discord's interaction token, DingTalk's session webhook) is kept only until it
 * expires, one per message, and never more than a fixed number at once
 * ({@linkcode ReplyHandles}): each replay of a captured request added one, and nothing removed
 * those whose reply was never sent.
 *
 * @module
 */
import { DELIVERY_MEMORY_MS } from "./deliveries.ts";
import { clientNetwork } from "./client_address.ts";

/**
 * How far a signed request's timestamp may be from now, either way: five minutes, the window
 * Slack documents, for platforms that sign a timestamp but name no window (Discord, Feishu,
 * WeCom). Their deliveries are signed when sent, retries included.
 */
export const REPLAY_WINDOW_MS = 5 * 60_000;

/** How an adapter's freshness check is set up (tests pin the clock). */
export interface ReplayWindowOptions {
  /** The clock, in milliseconds since the epoch (`Date.now` unless given). */
  now?: () => number;
  /** How far a request's timestamp may be from now, either way, in milliseconds. */
  replayWindowMs?: number;
}

/** Whether a timestamp's text counts seconds or milliseconds since the epoch. */
export type TimestampUnit = "s" | "ms";

/**
 * A platform's timestamp text in milliseconds since the epoch, or `undefined` when it is not
 * plain decimal digits (at most 16 of them: a date, not a number that loses its precision).
 *
 * @example
 * ```ts
 * import { timestampMs } from "./replay_window.ts";
 * console.log(timestampMs("1700000000", "s"), timestampMs("1700000000000", "ms")); // 1700000000000 1700000000000
 * console.log(timestampMs("17e8", "s"), timestampMs(null, "s")); // undefined undefined
 * ```
 */
export function timestampMs(
  text: string | null | undefined,
  unit: TimestampUnit,
): number | undefined {
  if (!text || !/^\d{1,16}$/.test(text)) return undefined;
  return Number(text) * (unit === "s" ? 1000 : 1);
}

/** A window's length as a reason reads it: "5-minute", "1-hour". */
function windowText(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}-hour`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}-minute`;
  return `${ms / 1000}-second`;
}

/** What {@linkcode freshness} checks. */
export interface FreshnessCheck {
  /** The timestamp's text as the request carries it. */
  text: string | null | undefined;
  unit: TimestampUnit;
  /** The current time, in milliseconds since the epoch. */
  now: number;
  /** How far the timestamp may be from `now`, either way, in milliseconds. */
  windowMs: number;
  /** How far ahead of `now` it may be, when that differs from `windowMs`. */
  aheadMs?: number;
  /** What the reason calls the timestamp ("request timestamp" unless given). */
  what?: string;
}

/**
 * `undefined` when the timestamp is within the window of now; else why the request is refused,
 * the reason of its 401 (and of the audit record the hub writes for it).
 *
 * @example
 * ```ts
 * import { freshness, REPLAY_WINDOW_MS } from "./replay_window.ts";
 * const now = 1_700_000_000_000;
 * const check = (text: string) => freshness({ text, unit: "s", now, windowMs: REPLAY_WINDOW_MS });
 * console.log(check("1700000100")); // undefined
 * console.log(check("1699990000")); // "request timestamp outside the 5-minute window (replay)"
 * ```
 */
export function freshness(check: FreshnessCheck): string | undefined {
  const what = check.what ?? "request timestamp";
  const stamp = timestampMs(check.text, check.unit);
  if (stamp === undefined) return `missing or malformed ${what}`;
  const ahead = check.aheadMs ?? check.windowMs;
  if (check.now - stamp > check.windowMs || stamp - check.now > ahead) {
    return `${what} outside the ${windowText(check.windowMs)} window (replay)`;
  }
  return undefined;
}

/**
 * The window an adapter checks: its options' window, never longer than the delivery memory (a
 * request still fresh after the hub forgot its delivery id would be answered again), and the
 * clock.
 */
export function replayWindow(
  options: ReplayWindowOptions,
  defaultMs: number = REPLAY_WINDOW_MS,
): { now: () => number; windowMs: number } {
  const windowMs = Math.min(options.replayWindowMs ?? defaultMs, DELIVERY_MEMORY_MS / 2);
  return { now: options.now ?? Date.now, windowMs };
}

/** How many reply handles an adapter keeps at most; the oldest is dropped for a new one. */
export const MAX_REPLY_HANDLES = 10_000;

/** Options of {@linkcode ReplyHandles}. */
export interface ReplyHandlesOptions {
  /** The most entries kept ({@linkcode MAX_REPLY_HANDLES} unless given). */
  maxEntries?: number;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

/**
 * What each message brings for its reply, by message, until it expires: at most one entry per
 * message (the first delivery's: a replay cannot redirect the reply), at most `maxEntries` in
 * all, the oldest dropped first. An expired entry is never returned, and is removed when it is
 * looked up or reaches the front of the queue as later ones arrive.
 *
 * @example
 * ```ts
 * import { ReplyHandles } from "./replay_window.ts";
 * let now = 0;
 * const handles = new ReplyHandles<string>({ now: () => now });
 * handles.add("m1", "token-1", 1000);
 * handles.add("m1", "token-2", 1000);
 * console.log(handles.get("m1"), handles.size); // "token-1" 1
 * now = 1000;
 * console.log(handles.get("m1"), handles.size); // undefined 0
 * ```
 */
export class ReplyHandles<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: ReplyHandlesOptions = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? MAX_REPLY_HANDLES);
    this.#now = options.now ?? Date.now;
  }

  /** How many entries are held (expired ones not yet removed included). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Keeps `value` for `key` until `expires` (ms since the epoch), unless `key` already holds a
   * live entry; true when it was kept.
   */
  add(key: string, value: V, expires: number): boolean {
    this.#dropExpired();
    if (this.get(key) !== undefined) return false;
    if (expires <= this.#now()) return false;
    this.#entries.set(key, { value, expires });
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return true;
  }

  /** The live value of `key`; an expired one is removed. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > this.#now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  /** Forgets `key` (its reply was sent, or can never be). */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Removes the expired entries at the front, the oldest: amortized, each entry once. */
  #dropExpired(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expires > now) return;
      this.#entries.delete(key);
    }
  }
}

/**
 * How many client networks a {@linkcode ClientFailureBudget} counts in one minute; past it, the
 * network whose count began first is let go for a new one. It bounds memory whatever number of
 * addresses a flood comes from.
 */
export const MAX_BUDGET_NETWORKS = 10_000;

/** Options of {@linkcode ClientFailureBudget}. */
export interface ClientFailureBudgetOptions {
  /** Failures a minute each client network may have before it is refused unread. */
  perClient: number;
  /**
   * Failures a minute all client networks together may have before every client is refused
   * unread until the minute turns. Each network's own budget put no bound on the whole: an IPv6
   * /48 holds 65,536 /64s, each a network with a budget of its own.
   */
  overall: number;
  /** The most networks counted at once ({@linkcode MAX_BUDGET_NETWORKS} unless given). */
  maxNetworks?: number;
  /** The clock, in milliseconds since the epoch (`Date.now` unless given). */
  now?: () => number;
}

/**
 * At most `perClient` failures in each minute of the clock for each client network
 * ({@linkcode clientNetwork}), and at most `overall` for all of them together, for work an
 * unauthenticated request can ask for (Feishu decrypts an unsigned body in search of its URL
 * check). Only failures count, and a request that succeeds (the platform's own check) spends
 * nothing. Within the overall budget a failure counts only against the network it came from,
 * so one noisy sender does not take another's budget; the overall budget is what bounds the
 * work of a sender with many networks, and once it is spent every client is refused until the
 * minute turns, before its network is even looked up. A network is remembered only once it has
 * failed, at most `maxNetworks` of them (and never more than `overall`) in any minute.
 *
 * @throws {RangeError} When `perClient` or `overall` is not a positive whole number: a budget
 * of 0 refuses every request, the platform's own check included.
 *
 * @example
 * ```ts
 * import { ClientFailureBudget } from "./replay_window.ts";
 * const budget = new ClientFailureBudget({ perClient: 1, overall: 2, now: () => 0 });
 * console.log(budget.allows("192.0.2.1")); // true
 * budget.fail("192.0.2.1");
 * console.log(budget.allows("192.0.2.1"), budget.allows("192.0.2.2")); // false true
 * budget.fail("192.0.2.2");
 * console.log(budget.overallSpent, budget.allows("192.0.2.3")); // true false
 * ```
 */
export class ClientFailureBudget {
  readonly #perClient: number;
  readonly #overall: number;
  readonly #maxNetworks: number;
  readonly #now: () => number;
  #minute = -1;
  /** Failures of the current minute, all networks together. */
  #spent = 0;
  readonly #failures = new Map<string, number>();

  /** A budget with nothing spent; a `RangeError` for one that is not a positive whole number. */
  constructor(options: ClientFailureBudgetOptions) {
    this.#perClient = positiveWhole("perClient", options.perClient);
    this.#overall = positiveWhole("overall", options.overall);
    this.#maxNetworks = Math.max(1, options.maxNetworks ?? MAX_BUDGET_NETWORKS);
    this.#now = options.now ?? Date.now;
  }

  /** How many client networks the current minute holds. */
  get size(): number {
    this.#turn();
    return this.#failures.size;
  }

  /** True once all networks together have used the current minute's overall budget. */
  get overallSpent(): boolean {
    this.#turn();
    return this.#spent >= this.#overall;
  }

  /** True while `client`'s network, and all networks together, have failures left this minute. */
  allows(client: string): boolean {
    if (this.overallSpent) return false;
    return (this.#failures.get(clientNetwork(client)) ?? 0) < this.#perClient;
  }

  /** Counts one failure against `client`'s network and against the overall budget. */
  fail(client: string): void {
    this.#turn();
    // Every client is refused already: counting on would only let the networks grow past it.
    if (this.#spent >= this.#overall) return;
    this.#spent++;
    const network = clientNetwork(client);
    const used = this.#failures.get(network);
    if (used === undefined && this.#failures.size >= this.#maxNetworks) {
      this.#failures.delete(this.#failures.keys().next().value!);
    }
    this.#failures.set(network, (used ?? 0) + 1);
  }

  /** A new minute of the clock starts every count again, the overall one too. */
  #turn(): void {
    const minute = Math.floor(this.#now() / 60_000);
    if (minute === this.#minute) return;
    this.#minute = minute;
    this.#spent = 0;
    this.#failures.clear();
  }
}

/** `value` when it is a positive whole number; else a RangeError naming the option. */
function positiveWhole(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive whole number, got ${String(value)}`);
  }
  return value;
}
