/**
 * The certificates the gateway serves, chosen by the name a TLS client asks for (SNI). Files,
 * ACME and Kubernetes TLS secrets all feed one store; the names a certificate covers are read
 * from its subjectAltName (its CN when it has none), so a store entry needs no separate list.
 */
import { X509Certificate } from "node:crypto";

/** A PEM certificate chain and its private key. */
export interface CertifiedKey {
  /** The certificate chain, leaf first (PEM). */
  cert: string;
  /** The private key (PEM). */
  key: string;
}

/** A stored certificate and what it covers. */
export interface CertificateEntry extends CertifiedKey {
  /** Who put it there (a file path, `acme:<name>`, `secret:<ns>/<name>`). */
  id: string;
  /** DNS names it covers, lower case; `*.example.com` covers one label. */
  names: string[];
  /** When the leaf certificate expires. */
  notAfter: Date;
}

/** Raised when a PEM pair cannot be used; names the entry. */
export class CertificateError extends Error {
  /** Names the entry and what is wrong. */
  constructor(readonly id: string, message: string) {
    super(`${id}: ${message}`);
    this.name = "CertificateError";
  }
}

/** The DNS names and expiry of the leaf certificate in `pem`. */
export function describeCertificate(id: string, pem: string): { names: string[]; notAfter: Date } {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pem);
  } catch (error) {
    throw new CertificateError(id, `not a PEM certificate (${(error as Error).message})`);
  }
  const san = leaf.subjectAltName ?? "";
  const names = san.split(",").map((part) => part.trim())
    .filter((part) => part.startsWith("DNS:")).map((part) => part.slice(4).toLowerCase());
  if (!names.length) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
    if (cn) names.push(cn.toLowerCase());
  }
  return { names, notAfter: leaf.validToDate };
}

/**
 * Certificates by SNI name. Listeners subscribe with {@linkcode onChange} and pick up every
 * change for new connections; connections already open keep the certificate they started with.
 */
export class CertificateStore {
  readonly #entries = new Map<string, CertificateEntry>();
  readonly #byName = new Map<string, CertificateEntry>();
  readonly #listeners = new Set<() => void>();

  /** Adds or replaces the entry `id`; throws {@linkcode CertificateError} if the PEM is unusable. */
  set(id: string, pair: CertifiedKey): CertificateEntry {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pair.key)) {
      throw new CertificateError(id, "the key is not a PEM private key");
    }
    const entry: CertificateEntry = { id, ...pair, ...describeCertificate(id, pair.cert) };
    this.#entries.set(id, entry);
    this.#reindex();
    return entry;
  }

  /** Removes the entry `id`; true if there was one. */
  delete(id: string): boolean {
    const had = this.#entries.delete(id);
    if (had) this.#reindex();
    return had;
  }

  /** Every entry, in the order they were added. */
  entries(): CertificateEntry[] {
    return [...this.#entries.values()];
  }

  /**
   * The certificate for `serverName`: an exact name, then a wildcard one label up, then (for
   * clients that send no SNI, such as those dialling an IP) the first entry.
   */
  lookup(serverName: string): CertificateEntry | undefined {
    const name = serverName.toLowerCase().replace(/\.$/, "");
    if (!name) return this.#entries.values().next().value;
    const exact = this.#byName.get(name);
    if (exact) return exact;
    const dot = name.indexOf(".");
    return dot > 0 ? this.#byName.get(`*${name.slice(dot)}`) : undefined;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #reindex(): void {
    this.#byName.clear();
    // Later entries win a name, so a renewed certificate replaces the one it renews.
    for (const entry of this.#entries.values()) {
      for (const name of entry.names) this.#byName.set(name, entry);
    }
    for (const listener of this.#listeners) listener();
  }
}
