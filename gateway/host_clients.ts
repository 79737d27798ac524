/**
 * HTTP clients that let a backend see the client's Host. Deno's fetch always derives Host from
 * the URL, so the request is addressed to the client's host and the client's TCP transport
 * sends it to the backend's address instead. One client per backend address, kept across
 * reloads (a reload must not cut requests in flight) and closed with the gateway.
 */

/** Host-preserving clients by backend address. */
export class HostPreservingClients {
  readonly #clients = new Map<string, Deno.HttpClient>();

  /** The client that connects to `backend`'s host and port whatever the URL says. */
  for(backend: URL): Deno.HttpClient {
    const key = backend.host;
    let client = this.#clients.get(key);
    if (!client) {
      const hostname = backend.hostname.replace(/^\[|\]$/g, "");
      const port = Number(backend.port || 80);
      client = Deno.createHttpClient({ proxy: { transport: "tcp", hostname, port } });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Closes every client (the gateway is stopping). */
  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
