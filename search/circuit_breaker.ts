/**
 * Per-engine circuit breakers: after `failureThreshold` failures in a row an engine is skipped
 * for `cooldownMs`, then one trial request decides whether it closes again. Blocks and rate
 * limits count as failures: hammering an engine that shows a CAPTCHA only prolongs the block.
 */

/** Breaker settings. */
export interface BreakerOptions {
  /** Failures in a row that open an engine's breaker. */
  failureThreshold: number;
  /** How long an open breaker skips its engine before letting one trial request through. */
  cooldownMs: number;
  /** The clock, in epoch milliseconds; tests pass a fake one (default `Date.now`). */
  now?: () => number;
}

interface BreakerState {
  failures: number;
  openedAt?: number;
  trialInFlight: boolean;
}

/** One breaker per engine name. */
export class CircuitBreakers {
  readonly #states = new Map<string, BreakerState>();
  readonly #now: () => number;

  /** Creates the breakers, all closed; `options` apply to every engine. */
  constructor(readonly options: BreakerOptions) {
    this.#now = options.now ?? Date.now;
  }

  #state(engine: string): BreakerState {
    let state = this.#states.get(engine);
    if (!state) {
      state = { failures: 0, trialInFlight: false };
      this.#states.set(engine, state);
    }
    return state;
  }

  /** True when a request may go out; a half-open breaker lets exactly one trial through. */
  allow(engine: string): boolean {
    const state = this.#state(engine);
    if (state.openedAt === undefined) return true;
    if (this.#now() - state.openedAt < this.options.cooldownMs) return false;
    if (state.trialInFlight) return false;
    state.trialInFlight = true;
    return true;
  }

  /** Records a success: the engine's breaker closes and its failure count restarts at 0. */
  succeeded(engine: string): void {
    this.#states.set(engine, { failures: 0, trialInFlight: false });
  }

  /**
   * Records a failure: the breaker opens at `failureThreshold` failures in a row, and a failed
   * trial of a half-open breaker opens it again for another `cooldownMs`.
   */
  failed(engine: string): void {
    const state = this.#state(engine);
    state.failures++;
    state.trialInFlight = false;
    if (state.openedAt !== undefined || state.failures >= this.options.failureThreshold) {
      state.openedAt = this.#now();
    }
  }

  /** `closed`, `open` or `half_open`, for stats and tests. */
  status(engine: string): "closed" | "open" | "half_open" {
    const state = this.#states.get(engine);
    if (state?.openedAt === undefined) return "closed";
    return this.#now() - state.openedAt < this.options.cooldownMs ? "open" : "half_open";
  }
}
