/**
 * Answers ACME HTTP-01 challenges (RFC 8555 §8.3): while an order is being validated, the CA
 * fetches `http://<domain>/.well-known/acme-challenge/<token>` and expects the key
 * authorization. The plain-HTTP listener asks this before routing, so no router can shadow it.
 */

const PREFIX = "/.well-known/acme-challenge/";

/** The pending HTTP-01 tokens. */
export class AcmeChallenges {
  readonly #tokens = new Map<string, string>();

  /** Publishes `keyAuthorization` for `token` until {@linkcode delete}. */
  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  /** Withdraws `token`. */
  delete(token: string): void {
    this.#tokens.delete(token);
  }

  /** How many tokens are published. */
  get size(): number {
    return this.#tokens.size;
  }

  /** The answer to a challenge request, or undefined when `pathname` is none of ours. */
  respond(pathname: string): Response | undefined {
    if (!this.#tokens.size || !pathname.startsWith(PREFIX)) return undefined;
    const answer = this.#tokens.get(pathname.slice(PREFIX.length));
    if (answer === undefined) return undefined;
    return new Response(answer, { headers: { "content-type": "text/plain" } });
  }
}
