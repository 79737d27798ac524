/**
 * Concurrency accounting: global, per lane, per session and per key, with the high-water
 * marks the property tests check against.
 */
import { DEFAULT_LANE_CONCURRENCY, LANE_NAMES, type LaneName, laneRank } from "./lanes.ts";
import type { HighWaterMarks } from "./types.ts";

/** Concurrency limits; unset means unlimited, except lanes, which default to upstream's. */
export interface ConcurrencyLimitOptions {
  /** Most jobs running at once overall. */
  global?: number;
  /** Most jobs running at once per lane. */
  lanes?: Partial<Record<LaneName, number>>;
  /** The same limit for every session. */
  session?: number;
  /** Limits by key; `"*"` applies to any key not named. */
  keys?: Record<string, number>;
}

/** Sessions whose own high-water mark is kept; `*` covers all of them. */
const MAX_SESSION_MARKS = 1000;

/** Why a job may not start now. */
export type Blocker = "global" | "lane" | "session" | "key" | null;

/** The jobs running now, by scope: this process's, or every process's as counted in the store. */
export interface RunningCounts {
  /** Jobs running now. */
  running: number;
  /** Jobs running now per lane, by rank. */
  readonly laneRunning: number[];
  /** Jobs running now per session. */
  readonly sessionRunning: Map<string, number>;
  /** Jobs running now per concurrency key. */
  readonly keyRunning: Map<string, number>;
}

/** Empty counts, for a scheduler that counts the running jobs it read from the store. */
export function emptyCounts(): RunningCounts {
  return {
    running: 0,
    laneRunning: LANE_NAMES.map(() => 0),
    sessionRunning: new Map(),
    keyRunning: new Map(),
  };
}

/** Adds `n` running jobs of one lane, session and key to `counts`. */
export function countRunning(
  counts: RunningCounts,
  rank: number,
  session: string,
  key: string | null,
  n = 1,
): void {
  counts.running += n;
  counts.laneRunning[rank] += n;
  counts.sessionRunning.set(session, (counts.sessionRunning.get(session) ?? 0) + n);
  if (key !== null) counts.keyRunning.set(key, (counts.keyRunning.get(key) ?? 0) + n);
}

/**
 * Counts running jobs and answers whether one more may start.
 *
 * @example
 * ```ts
 * import { ConcurrencyLimits } from "@a3s/lane";
 * const limits = new ConcurrencyLimits({ global: 2, session: 1 });
 * limits.acquire("query", "s1", null);
 * limits.blocker("query", "s1", null); // "session"
 * ```
 */
export class ConcurrencyLimits implements RunningCounts {
  /** The global limit. */
  readonly global: number;
  /** Limits per lane, by rank. */
  readonly lanes: number[];
  /** The limit per session. */
  readonly session: number;
  /** Limits of named keys. */
  readonly keys: ReadonlyMap<string, number>;
  /** The limit of keys not named. */
  readonly defaultKey: number;
  /** Jobs running now. */
  running = 0;
  /** Jobs running now per lane, by rank. */
  readonly laneRunning: number[] = LANE_NAMES.map(() => 0);
  /** Jobs running now per session (tracked only with a session limit). */
  readonly sessionRunning: Map<string, number> = new Map();
  /** Jobs running now per key. */
  readonly keyRunning: Map<string, number> = new Map();
  readonly #high: HighWaterMarks = { global: 0, lanes: {}, sessions: {}, keys: {} };
  readonly #trackSessions: boolean;
  /** The lanes whose limit the options set: an operator's, which {@linkcode raiseDefault} keeps. */
  readonly #setLanes: ReadonlySet<LaneName>;
  #sessionMarks = 0;

  /** Sets the limits; lanes not named keep upstream's defaults. */
  constructor(options: ConcurrencyLimitOptions = {}) {
    this.global = options.global ?? Infinity;
    this.lanes = LANE_NAMES.map((name) => options.lanes?.[name] ?? DEFAULT_LANE_CONCURRENCY[name]);
    this.#setLanes = new Set(LANE_NAMES.filter((name) => options.lanes?.[name] !== undefined));
    this.session = options.session ?? Infinity;
    const keys = new Map(Object.entries(options.keys ?? {}));
    this.defaultKey = keys.get("*") ?? Infinity;
    keys.delete("*");
    this.keys = keys;
    this.#trackSessions = this.session !== Infinity;
  }

  /**
   * Raises `lane`'s limit to `n` where the options left it at upstream's default: for a module
   * whose work there needs more, as safeclaw's chats need 8 `prompt` turns at once (upstream's 2
   * let two slow chats hold every other one). A limit the options set, the operator's, stays.
   * Returns the lane's limit now.
   *
   * @example
   * ```ts
   * import { ConcurrencyLimits } from "@a3s/lane";
   * console.log(new ConcurrencyLimits().raiseDefault("prompt", 8)); // 8
   * console.log(new ConcurrencyLimits({ lanes: { prompt: 3 } }).raiseDefault("prompt", 8)); // 3
   * ```
   */
  raiseDefault(lane: LaneName, n: number): number {
    const rank = laneRank(lane);
    if (!this.#setLanes.has(lane) && n > this.lanes[rank]) this.lanes[rank] = n;
    return this.lanes[rank];
  }

  /** The limit that applies to `key`. */
  keyLimit(key: string): number {
    return this.keys.get(key) ?? this.defaultKey;
  }

  /** The first limit that starting one more such job in this process would exceed, or null. */
  blocker(lane: LaneName, session: string, key: string | null): Blocker {
    return this.blockerIn(this, laneRank(lane), session, key);
  }

  /**
   * The first limit that starting one more job of lane rank `rank`, `session` and `key` would
   * exceed, given `counts` of the jobs running now, or null when it may start. The one "may
   * this job start" check: the memory scheduler asks it of its own counts, the durable one of
   * the running leases it counted in the store.
   */
  blockerIn(counts: RunningCounts, rank: number, session: string, key: string | null): Blocker {
    if (counts.running >= this.global) return "global";
    if (counts.laneRunning[rank] >= this.lanes[rank]) return "lane";
    if (this.session !== Infinity && (counts.sessionRunning.get(session) ?? 0) >= this.session) {
      return "session";
    }
    if (key !== null && (counts.keyRunning.get(key) ?? 0) >= this.keyLimit(key)) return "key";
    return null;
  }

  /** Counts one more running job. */
  acquire(lane: LaneName, session: string, key: string | null): void {
    const rank = laneRank(lane);
    const high = this.#high;
    if (++this.running > high.global) high.global = this.running;
    const inLane = ++this.laneRunning[rank];
    if (inLane > (high.lanes[lane] ?? 0)) high.lanes[lane] = inLane;
    if (this.#trackSessions) {
      const n = (this.sessionRunning.get(session) ?? 0) + 1;
      this.sessionRunning.set(session, n);
      if (n > (high.sessions["*"] ?? 0)) high.sessions["*"] = n;
      // sessions come and go; past a bound only the all-session mark `*` keeps growing
      if (session in high.sessions || this.#sessionMarks++ < MAX_SESSION_MARKS) {
        if (n > (high.sessions[session] ?? 0)) high.sessions[session] = n;
      }
    }
    if (key !== null) {
      const n = (this.keyRunning.get(key) ?? 0) + 1;
      this.keyRunning.set(key, n);
      if (n > (high.keys[key] ?? 0)) high.keys[key] = n;
    }
  }

  /** Counts one running job as finished. */
  release(lane: LaneName, session: string, key: string | null): void {
    this.running--;
    this.laneRunning[laneRank(lane)]--;
    if (this.#trackSessions) decrement(this.sessionRunning, session);
    if (key !== null) decrement(this.keyRunning, key);
  }

  /** A copy of the high-water marks. */
  highWater(): HighWaterMarks {
    const high = this.#high;
    return {
      global: high.global,
      lanes: { ...high.lanes },
      sessions: { ...high.sessions },
      keys: { ...high.keys },
    };
  }
}

function decrement(map: Map<string, number>, name: string): void {
  const n = (map.get(name) ?? 0) - 1;
  if (n <= 0) map.delete(name);
  else map.set(name, n);
}
