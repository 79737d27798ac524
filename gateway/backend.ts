/**
 * One upstream server's live state: connections in flight, the active health check's verdict
 * and the circuit breaker that passive failures open.
 */

/** Circuit breaker states: closed (normal), open (ejected), half-open (one trial allowed). */
export type BreakerState = "closed" | "open" | "half-open";

/** Settings of a backend's circuit breaker. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long the breaker stays open before one trial request. */
  openMs: number;
}

/** A backend and its state. */
export class Backend {
  /** The backend's base URL. */
  readonly url: URL;
  /** Share of traffic under the weighted strategy. */
  readonly weight: number;
  /** Whether it runs on this machine or network (privacy routing). */
  readonly local: boolean;
  /**
   * Set when the service preserves the client's Host: the client that carries a request
   * addressed to that host to this backend.
   */
  hostClient?: Deno.HttpClient;
  /** Requests in flight, for least-connections. */
  active = 0;
  /** The active health check's last verdict; true until a check says otherwise. */
  healthy = true;
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;
  readonly #breaker: BreakerOptions;
  readonly #now: () => number;

  /** Creates a backend in the closed, healthy state. */
  constructor(
    url: string,
    weight: number,
    local: boolean,
    breaker: BreakerOptions,
    now: () => number = Date.now,
  ) {
    this.url = new URL(url);
    this.weight = weight;
    this.local = local;
    this.#breaker = breaker;
    this.#now = now;
  }

  /** The breaker's state now. */
  get breaker(): BreakerState {
    if (this.#failures < this.#breaker.failures) return "closed";
    return this.#now() - this.#openedAt >= this.#breaker.openMs ? "half-open" : "open";
  }

  /** Whether the balancer may send a request here now. */
  available(): boolean {
    if (!this.healthy) return false;
    const state = this.breaker;
    return state === "closed" || (state === "half-open" && !this.#trialInFlight);
  }

  /** Marks the start of a request; a half-open breaker lets only this one through. */
  begin(): void {
    this.active++;
    if (this.breaker === "half-open") this.#trialInFlight = true;
  }

  /** Records how a request ended: success closes the breaker, failures open it. */
  end(ok: boolean): void {
    this.active--;
    this.#trialInFlight = false;
    if (ok) {
      this.#failures = 0;
      return;
    }
    this.#failures++;
    if (this.#failures >= this.#breaker.failures) this.#openedAt = this.#now();
  }
}
