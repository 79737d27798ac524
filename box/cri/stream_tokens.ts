/**
 * The single-use tokens in the URLs that `Exec`, `Attach` and `PortForward` return. The kubelet
 * (or crictl) connects to the URL soon after the call; a token is good for one connection and
 * for a short while only, so a URL that leaks from a log is worthless. As in the kubelet's own
 * streaming server, the number of requests waiting for their connection is bounded.
 */
import { A3sError } from "@a3s/common";

interface Entry<T> {
  request: T;
  expiresAt: number;
}

/** Options for {@linkcode StreamTokens}. */
export interface StreamTokenOptions {
  /** How long a token stays valid, in milliseconds; one minute when unset. */
  ttlMs?: number;
  /** How many unused tokens may exist at once; 1000 when unset. */
  maxPending?: number;
  /** The clock, replaceable so expiry can be tested without waiting. */
  now?: () => number;
}

/** Pending streaming requests by token. */
export class StreamTokens<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #ttlMs: number;
  readonly #maxPending: number;
  readonly #now: () => number;

  constructor(options: StreamTokenOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#maxPending = options.maxPending ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [token, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(token);
    }
  }

  /** Stores a request; returns its token (32 random bytes, URL-safe base64). */
  issue(request: T): string {
    this.#dropExpired();
    if (this.#entries.size >= this.#maxPending) {
      throw new A3sError(
        "too_many_streams",
        `too many streaming requests waiting for their connection (${this.#maxPending})`,
        { status: 429 },
      );
    }
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const token = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    this.#entries.set(token, { request, expiresAt: this.#now() + this.#ttlMs });
    return token;
  }

  /** Takes a request out: the first use of a live token gets it, any later use `undefined`. */
  take(token: string): T | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    this.#entries.delete(token);
    return entry.expiresAt > this.#now() ? entry.request : undefined;
  }

  /** How many tokens wait for their connection (expired ones not counted). */
  get pending(): number {
    this.#dropExpired();
    return this.#entries.size;
  }
}
